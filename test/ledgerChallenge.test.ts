/**
 * The rotation ledger's storage credential against a bearer challenge for another tenant or resource: the real
 * Storage SDK and the app's real ManagedIdentityCredential (IDENTITY_ENDPOINT on loopback), talking to a fake blob
 * host over HTTPS on 127.0.0.1 (the test runner's throw-away certificate, trusted through NODE_EXTRA_CA_CERTS).
 * The ledger's own timers are virtual and never fire here: whatever ends a poll, it is not its timeout.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { KeyVaultService, type SecretFetch, storageCredential } from 'functions-keyvault/internal/keyVault/index.js';
import { secretRecord } from 'functions-keyvault/testing';
import * as storageSdk from '@azure/storage-blob';
import { BlobLedgerStore, bindStorageSdk } from 'functions-keyvault/internal/ledger/blobStore.js';

bindStorageSdk(storageSdk);
import { serializeLedger } from 'functions-keyvault/internal/ledger/document.js';
import { RotationLedger } from 'functions-keyvault/internal/ledger/rotationLedger.js';
import { FaultProxy, fixtureTls } from './support/faultProxy.js';
import { TokenEndpoint } from './support/tokenEndpoint.js';

const skip = fixtureTls() ? false : 'no TLS material for the HTTPS fixture (openssl missing)';
const VAULT = 'https://ledger.vault.azure.net/';
const V1 = '1'.repeat(32);
const OTHER_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

let blobHost: FaultProxy;
let tokens: TokenEndpoint;
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

before(async () => {
  if (skip) return;
  blobHost = await FaultProxy.start('https://127.0.0.1:9', fixtureTls());
  tokens = await TokenEndpoint.start();
  process.env.IDENTITY_ENDPOINT = tokens.url;
  process.env.IDENTITY_HEADER = 'ledger-challenge-tests';
});

after(async () => {
  process.env.IDENTITY_ENDPOINT = saved.endpoint;
  process.env.IDENTITY_HEADER = saved.header;
  await blobHost?.close();
  await tokens?.close();
});

const LEDGER = serializeLedger([{ vaultUrl: VAULT, name: 'db', version: V1, seenAt: Date.UTC(2026, 5, 1) }]);
/** The blob as the host serves it (the SDK wants its Content-Length), at this ETag. */
const blob = (etag: string) => ({
  kind: 'respond' as const,
  status: 200,
  body: LEDGER,
  headers: { etag, 'content-length': String(Buffer.byteLength(LEDGER)) },
});

// A hang guard only (before the fix the SDK retried for the token's hour): no assertion is about time.
test(
  'a challenge for another tenant and resource ends that request: refused, unhealthy, and the next poll tries afresh',
  { skip, timeout: 60_000 },
  async () => {
    const config = parseConfig({
      KEY_VAULT_URL: VAULT,
      IDENTITY_ENDPOINT: tokens.url,
      IDENTITY_HEADER: 'ledger-challenge-tests',
      // msal-node keeps managed-identity tokens process-wide per client id: a fresh one asks the endpoint.
      AZURE_CLIENT_ID: randomUUID(),
      ROTATION_LEDGER_URL: `${blobHost.url}/devstoreaccount1/rotation-ledger/app.json`,
    });
    assert.deepEqual(config.problems, []);
    const fetchSecret: SecretFetch = (_vault, name) => Promise.resolve(secretRecord(name, 'canary-value-3c1d', V1));
    let ms = 1_000;
    const clock = { now: () => ms };
    const service = new KeyVaultService({ config, fetchSecret, clock });
    const store = new BlobLedgerStore(config.ledger!.blobUrl, await storageCredential(config), 30_000);
    const timers: Array<() => void> = [];
    const ledger = new RotationLedger({
      store,
      target: service,
      pollMs: 5_000,
      timeoutMs: 30_000,
      clock,
      schedule: (run) => {
        timers.push(run); // never run: a poll that ends, ends on its own
        return () => undefined;
      },
      log: { warn: () => undefined, info: () => undefined },
    });
    await service.read({ vaultUrl: VAULT, name: 'db' });

    blobHost.fault = blob('"1"');
    assert.equal(await ledger.poll(), 'changed');
    assert.equal(ledger.isHealthy(), true);

    blobHost.requests.length = 0;
    blobHost.fault = {
      kind: 'respond',
      status: 401,
      body: '',
      headers: {
        'www-authenticate':
          `Bearer authorization_uri=https://login.microsoftonline.com/${OTHER_TENANT}/oauth2/authorize ` +
          'resource_id=https://management.azure.com',
      },
    };
    ms += 5_000;
    assert.equal(await ledger.poll(), 'failed:token-refused');
    assert.equal(blobHost.requests.length, 2, 'the request and one re-send with the token it carried, then it ended');
    assert.equal(ledger.isHealthy(), false, 'a refused token is not healthy');
    assert.equal(service.cacheTtl().backstop, false);
    assert.deepEqual([...new Set(tokens.resources)], ['https://storage.azure.com'], 'no token for the other resource');

    blobHost.fault = blob('"2"');
    ms += 5_000;
    assert.equal(await ledger.poll(), 'changed', 'the next poll tried afresh');
    assert.equal(ledger.isHealthy(), true);
  },
);
