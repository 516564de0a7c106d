/**
 * The rotation ledger against a real Storage emulator: Azurite's blob service on 127.0.0.1 (HTTPS, OAuth), started
 * here and stopped by PID. Never skipped: `azurite` is a devDependency and needs nothing else.
 *
 * Authentication is the app's own path: ManagedIdentityCredential (IDENTITY_ENDPOINT on loopback, handing out
 * JWT-shaped tokens for the resource asked) behind the app's bounded credential, limited to the storage scope.
 * Key Vault is the service's fetch seam (no Key Vault emulator needed for the ledger).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import functions from '@azure/functions';
import { BlobServiceClient, BlockBlobClient } from '@azure/storage-blob';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { SECRET_NEW_VERSION_CREATED } from 'functions-keyvault/internal/events/keyVaultEvents.js';
import { secretEvents } from '../src/functions/secretEvents.js';
import {
  configureKeyVault,
  KeyVaultService,
  type SecretFetch,
  storageCredential,
} from 'functions-keyvault/internal/keyVault/index.js';
import { ManualClock, secretRecord } from 'functions-keyvault/testing';
import * as storageSdk from '@azure/storage-blob';
import { BlobLedgerStore, bindStorageSdk } from 'functions-keyvault/internal/ledger/blobStore.js';

bindStorageSdk(storageSdk);
import { LEDGER_MAX_BYTES, parseLedger } from 'functions-keyvault/internal/ledger/document.js';
import { rotationLedger, startRotationLedger } from 'functions-keyvault/internal/ledger/index.js';
import { RotationLedger } from 'functions-keyvault/internal/ledger/rotationLedger.js';
import { WarmupSlots } from 'functions-keyvault/internal/ledger/warmupSlots.js';
import { type Azurite, startAzurite } from './support/azurite.js';
import { keyVaultEvent } from './support/keyVaultEvents.js';
import { TokenEndpoint } from './support/tokenEndpoint.js';

const { InvocationContext } = functions;
const VAULT = 'https://ledger.vault.azure.net/';
const CONTAINER = 'rotation-ledger';
const V1 = 'a'.repeat(32);
const V2 = 'b'.repeat(32);
const CANARY = 'canary-value-7f3e';

let azurite: Azurite;
let tokens: TokenEndpoint;
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

before(async () => {
  azurite = await startAzurite();
  tokens = await TokenEndpoint.start();
  tokens.jwt = true;
  process.env.IDENTITY_ENDPOINT = tokens.url;
  process.env.IDENTITY_HEADER = 'azurite-tests';
  const credential = await storageCredential(configFor('setup.json'));
  await new BlobServiceClient(azurite.accountUrl, credential).getContainerClient(CONTAINER).create();
});

after(async () => {
  rotationLedger()?.stop();
  process.env.IDENTITY_ENDPOINT = saved.endpoint;
  process.env.IDENTITY_HEADER = saved.header;
  await tokens?.close();
  await azurite?.stop();
});

function configFor(blob: string, extra: Record<string, string> = {}) {
  return parseConfig({
    KEY_VAULT_URL: VAULT,
    IDENTITY_ENDPOINT: tokens.url,
    IDENTITY_HEADER: 'azurite-tests',
    ROTATION_LEDGER_URL: `${azurite.accountUrl}${CONTAINER}/${blob}`,
    ...extra,
  });
}

async function storeFor(blob: string) {
  const config = configFor(blob);
  assert.deepEqual(config.problems, []);
  // Generous: no outcome here is a timeout, so a loaded machine must not turn a slow answer into one.
  return new BlobLedgerStore(config.ledger!.blobUrl, await storageCredential(config), 30_000);
}

const signal = () => AbortSignal.timeout(10_000);

function vaultAtSeam() {
  let version = V1;
  let gets = 0;
  const fetchSecret: SecretFetch = (_vault, name) =>
    Promise.resolve().then(() => {
      gets += 1;
      return secretRecord(name, `${CANARY}-${version}`, version);
    });
  return {
    fetchSecret,
    rotate: (to: string) => (version = to),
    gets: () => gets,
  };
}

test('blob store: absent, create once, conditional GET answers 304, If-Match refuses a stale ETag', async () => {
  const store = await storeFor('store.json');
  assert.deepEqual(await store.read(undefined, signal()), { kind: 'absent' });
  const first = await store.write('{"v":1,"entries":[]}', undefined, signal());
  assert.ok(typeof first === 'string' && first.length > 0, 'created, with its ETag');
  assert.equal(await store.write('{"v":1,"entries":[]}', undefined, signal()), false, 'If-None-Match: * on create');

  const read = await store.read(undefined, signal());
  assert.equal(read.kind, 'document');
  assert.equal(read.kind === 'document' && read.etag, first);
  assert.deepEqual(await store.read(first, signal()), { kind: 'not-modified' }, '304 for the same ETag');

  const second = await store.write('{"v":1,"entries":[1]}', first, signal());
  assert.ok(second && second !== first);
  assert.equal(await store.write('{"v":1,"entries":[2]}', first, signal()), false, 'If-Match with a stale ETag');
  const now = await store.read(first, signal());
  assert.equal(now.kind === 'document' && now.text, '{"v":1,"entries":[1]}', 'the stale write changed nothing');
  assert.ok(
    tokens.resources.every((r) => r === 'https://storage.azure.com'),
    'only storage tokens were asked for',
  );
});

test('check lease: one id holds it (on its own blob, created on first use), renews it; another is refused until release; the ledger blob stays writable', async () => {
  const a = await storeFor('leased.json');
  const b = await storeFor('leased.json');
  const [idA, idB] = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b'];
  assert.equal(await a.acquireLease(idA, 15, signal()), true, 'first acquire: the lease blob is created and leased');
  assert.equal(await b.acquireLease(idB, 15, signal()), false, 'another id: 409, refused');
  assert.equal(await a.renewLease(idA, signal()), true, 'renewed by its id');
  assert.equal(await b.renewLease(idB, signal()), false, 'an id that does not hold it cannot renew');
  assert.equal(await a.acquireLease(idA, 15, signal()), true, 'the holder acquiring again keeps it');
  const written = await b.write('{"v":1,"entries":[]}', undefined, signal());
  assert.ok(written, 'the ledger blob itself carries no lease: any instance writes it');
  await a.releaseLease(idA, signal());
  assert.equal(await b.acquireLease(idB, 15, signal()), true, 'released: the other takes it');
  assert.equal(
    await a.renewLease(idA, signal()),
    false,
    'the former holder cannot renew a lease now held by another id',
  );
  await b.releaseLease(idB, signal());
  const props = await new BlockBlobClient(
    `${azurite.accountUrl}${CONTAINER}/leased.json.lease`,
    await storageCredential(configFor('leased.json')),
  ).getProperties();
  assert.equal(props.contentLength, 0, 'the lease blob is empty: no secret, no version, nothing');
});

test('warm-up slots: a blob lease per slot (created on first use), one id per slot, freed on release; WarmupSlots over the real store', async () => {
  const a = await storeFor('slots.json');
  const b = await storeFor('slots.json');
  const [idA, idB] = ['00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000b1'];
  assert.equal(await a.acquireSlot(0, idA, 15, signal()), true, 'slot 0: its blob is created and leased');
  assert.equal(await b.acquireSlot(0, idB, 15, signal()), false, 'slot 0 taken: 409');
  assert.equal(await b.acquireSlot(1, idB, 15, signal()), true, 'slot 1 is a blob of its own');
  assert.equal(await a.renewSlot(0, idA, signal()), true);
  assert.equal(await b.renewSlot(0, idB, signal()), false, 'an id that does not hold it cannot renew');
  await a.releaseSlot(0, idA, signal());
  assert.equal(await b.acquireSlot(0, idB, 15, signal()), true, 'released: the other takes it');
  await b.releaseSlot(0, idB, signal());
  await b.releaseSlot(1, idB, signal());

  // The app's WarmupSlots (one slot) over two real stores; no timer fires here (a round's wait ends the attempt).
  const clock = new ManualClock();
  const never = () => () => undefined;
  const slotsA = new WarmupSlots({ store: a, timeoutMs: 30_000, clock, schedule: never, leaseId: idA, slots: 1 });
  const slotsB = new WarmupSlots({ store: b, timeoutMs: 30_000, clock, schedule: never, leaseId: idB, slots: 1 });
  assert.equal(await slotsA.enter(1), 'held');
  assert.equal(await slotsB.enter(1), 'busy', 'the one slot is taken');
  await slotsA.stop();
  assert.equal(await slotsB.enter(1), 'held', 'given back: the other takes it');
  await slotsB.stop();
  const props = await new BlockBlobClient(
    `${azurite.accountUrl}${CONTAINER}/slots.json.warmup-0`,
    await storageCredential(configFor('slots.json')),
  ).getProperties();
  assert.equal(props.contentLength, 0, 'a slot blob is empty');
  assert.equal(props.leaseState, 'available', 'and free after stop');
});

test('blob store: a ledger larger than the cap is not read; a request without a token is refused', async () => {
  const store = await storeFor('big.json');
  const credential = await storageCredential(configFor('big.json'));
  const big = Buffer.alloc(LEDGER_MAX_BYTES + 10, 0x20);
  await new BlockBlobClient(`${azurite.accountUrl}${CONTAINER}/big.json`, credential).upload(big, big.length);
  await assert.rejects(store.read(undefined, signal()), { name: 'LedgerFailure', kind: 'too-large' });

  const anonymous = new BlockBlobClient(`${azurite.accountUrl}${CONTAINER}/store.json`);
  await assert.rejects(anonymous.download(), (error: { statusCode?: number }) => {
    assert.ok(error.statusCode === 401 || error.statusCode === 403 || error.statusCode === 404, `${error.statusCode}`);
    return true;
  });
});

test('end to end: an event on one instance reaches another in one poll, with one Key Vault GET there', async () => {
  const vault = vaultAtSeam();
  const quiet = { warn: () => undefined, info: () => undefined };
  // Instance A: the app as deployed (process-wide service and ledger, the event function).
  const configA = configFor('app.json');
  const a = configureKeyVault({ config: configA, fetchSecret: vault.fetchSecret, log: quiet });
  const ledgerA = (await startRotationLedger(a, configA))!;
  ledgerA.stop(); // polled by hand below
  // Instance B: its own service and ledger on the same blob.
  // B's cache runs on a clock the test moves: a rotation notice within SECRET_CACHE_MIN_REFRESH_SECONDS of the last
  // read is merged into a later re-read (the Key Vault service's rate limit), so B's read is made "earlier".
  let ms = 1_000;
  const b = new KeyVaultService({
    config: configA,
    fetchSecret: vault.fetchSecret,
    log: quiet,
    clock: { now: () => ms },
  });
  const ledgerB = new RotationLedger({
    store: await storeFor('app.json'),
    target: b,
    pollMs: 5_000,
    timeoutMs: 30_000,
  });
  b.onVersionSeen((v, n, ver) => ledgerB.versionSeen(v, n, ver));

  await a.read({ vaultUrl: VAULT, name: 'db-password' });
  await b.read({ vaultUrl: VAULT, name: 'db-password' });
  assert.equal(await ledgerB.poll(), 'absent');

  vault.rotate(V2);
  const event = keyVaultEvent('EventGridSchema', {
    type: SECRET_NEW_VERSION_CREATED,
    vaultUrl: VAULT,
    name: 'db-password',
    version: V2,
  });
  await secretEvents(event, new InvocationContext({ functionName: 'secretEvents', logHandler: () => undefined }));
  await ledgerA.settled();

  const before = vault.gets();
  ms += 6_000;
  assert.equal(await ledgerB.poll(), 'changed');
  await new Promise((r) => setImmediate(r));
  const read = await b.read({ vaultUrl: VAULT, name: 'db-password' });
  assert.equal(read.record.version, V2, 'B serves the new version');
  assert.equal(vault.gets() - before, 1, 'one Key Vault GET on B');
  await ledgerB.settled();
  assert.equal(await ledgerB.poll(), 'not-modified');

  const blob = await (await storeFor('app.json')).read(undefined, signal());
  assert.equal(blob.kind, 'document');
  const text = blob.kind === 'document' ? blob.text : '';
  assert.doesNotMatch(text, new RegExp(CANARY), 'the ledger never holds a value');
  const parsed = parseLedger(text, Date.now());
  assert.ok(parsed.ok);
  assert.deepEqual(
    parsed.entries.map((e) => [e.vaultUrl, e.name, e.version]),
    [[VAULT, 'db-password', V2]],
  );
  ledgerA.stop();
});

test('ledger unreachable: polls fail, and after the grace period the cache is back on its normal TTL', async () => {
  const vault = vaultAtSeam();
  let ms = 1_000;
  const clock = { now: () => ms };
  // A blob endpoint on a loopback port nobody listens on (port 9, discard: refused).
  const config = parseConfig({
    KEY_VAULT_URL: VAULT,
    IDENTITY_ENDPOINT: tokens.url,
    IDENTITY_HEADER: 'azurite-tests',
    ROTATION_LEDGER_URL: `https://127.0.0.1:9/devstoreaccount1/${CONTAINER}/app.json`,
  });
  const service = new KeyVaultService({ config, fetchSecret: vault.fetchSecret, clock });
  // Generous: the refusal must be what is reported, not a timeout on a loaded machine.
  const store = new BlobLedgerStore(config.ledger!.blobUrl, await storageCredential(config), 30_000);
  const ledger = new RotationLedger({ store, target: service, pollMs: 5_000, timeoutMs: 30_000, clock });
  await service.read({ vaultUrl: VAULT, name: 'db-password' });
  assert.equal(await ledger.poll(), 'failed:unreachable');
  ms += 31_000;
  assert.equal(await ledger.poll(), 'failed:unreachable');
  assert.equal(ledger.isHealthy(), false);
  ms += 300_000; // SECRET_CACHE_TTL_SECONDS, the default: the value is re-read, as without a ledger
  assert.equal((await service.read({ vaultUrl: VAULT, name: 'db-password' })).cache, 'miss');
  assert.equal(vault.gets(), 2);
});

test('an oversized blob: unhealthy at once, and the next rotation recorded replaces it (If-Match on its ETag)', async () => {
  const vault = vaultAtSeam();
  const config = configFor('oversized.json');
  const credential = await storageCredential(config);
  const raw = new BlockBlobClient(config.ledger!.blobUrl, credential);
  const big = Buffer.alloc(LEDGER_MAX_BYTES + 10, 0x20);
  const uploaded = await raw.upload(big, big.length);
  let ms = 1_000;
  const clock = { now: () => ms };
  const service = new KeyVaultService({ config, fetchSecret: vault.fetchSecret, clock });
  const ledger = new RotationLedger({
    store: await storeFor('oversized.json'),
    target: service,
    pollMs: 5_000,
    timeoutMs: 30_000,
    clock,
    log: { warn: () => undefined, info: () => undefined },
  });
  await service.read({ vaultUrl: VAULT, name: 'db-password' });
  assert.equal(await ledger.poll(), 'failed:too-large');
  assert.equal(ledger.isHealthy(), false, 'unhealthy at once, not after the grace period');
  assert.equal(service.cacheTtl().backstop, false);

  await ledger.recordEvent(VAULT, 'db-password', V2);
  const after = await raw.getProperties();
  assert.notEqual(after.etag, uploaded.etag, 'replaced');
  assert.ok((after.contentLength ?? 0) < 1_000, 'by a small, valid ledger');
  const read = await (await storeFor('oversized.json')).read(undefined, signal());
  const parsed = parseLedger(read.kind === 'document' ? read.text : '', Date.now());
  assert.ok(parsed.ok);
  assert.deepEqual(
    parsed.entries.map((e) => e.version),
    [V2],
  );
  ms += 5_000;
  assert.equal(await ledger.poll(), 'not-modified');
  assert.equal(ledger.isHealthy(), true);
  assert.equal(service.cacheTtl().backstop, true);

  // Replaced only at the ETag it could not read: a blob changed meanwhile is not overwritten blindly.
  await raw.upload(big, big.length);
  const store = await storeFor('oversized.json');
  const stale = await store.read(undefined, signal()).catch((error: { etag?: string }) => error.etag);
  assert.equal(typeof stale, 'string');
  await raw.upload(big, big.length);
  assert.equal(await store.write('{"v":1,"entries":[]}', stale as string, signal()), false, 'If-Match refused');
});

test('a leased blob (412 on every write while nobody changes it): locked, unhealthy, one refused batch per retry', async () => {
  const vault = vaultAtSeam();
  const config = configFor('leased.json');
  const raw = new BlockBlobClient(config.ledger!.blobUrl, await storageCredential(config));
  await raw.upload('{"v":1,"entries":[]}', 20);
  const lease = raw.getBlobLeaseClient();
  await lease.acquireLease(-1); // infinite: someone else's lease
  try {
    let ms = 1_000;
    const clock = { now: () => ms };
    const service = new KeyVaultService({ config, fetchSecret: vault.fetchSecret, clock });
    const writes: string[] = [];
    const ledger = new RotationLedger({
      store: await storeFor('leased.json'),
      target: service,
      pollMs: 5_000,
      timeoutMs: 30_000,
      clock,
      log: { warn: () => undefined, info: () => undefined },
      events: { write: (o) => writes.push(o) },
    });
    await service.read({ vaultUrl: VAULT, name: 'db-password' });
    assert.equal(await ledger.poll(), 'changed');
    await assert.rejects(ledger.recordEvent(VAULT, 'db-password', V2), { name: 'LedgerFailure', kind: 'locked' });
    assert.deepEqual(writes, ['conflict', 'failed:locked'], 'one refused write, one re-read, then it stops');
    assert.equal(ledger.isHealthy(), false);
    assert.equal(ledger.status().writeFailure, 'locked');
    ms += 5_000;
    assert.equal(await ledger.poll(), 'not-modified', 'reads work; the refused write waits for its backoff');
    assert.deepEqual(writes, ['conflict', 'failed:locked']);
  } finally {
    await lease.releaseLease();
  }
});
