/**
 * Faults through the real ManagedIdentityCredential and SecretClient, against loopback fixtures: an HTTPS vault
 * fixture that speaks just enough of Key Vault's protocol (the bearer challenge, then a fixed answer) and a token
 * endpoint fixture (App Service style). No emulator: these are the faults an emulator cannot produce on demand.
 *
 * Nothing here depends on how fast the machine is: the fixtures are reset after every test whatever happened, the
 * SDK is loaded before any test starts, "bounded by the timeout" is proven by the timeout's own message (and a test
 * time limit many times larger), and "not slept on Retry-After" by the number of requests the vault saw. Timeouts
 * that are not what a test is about are generous, so a loaded machine cannot turn an answer into a timeout.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { configureKeyVault } from 'functions-keyvault/internal/keyVault/index.js';
import { FaultProxy, fixtureTls } from './support/faultProxy.js';
import { TokenEndpoint } from './support/tokenEndpoint.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';

const skip = fixtureTls() ? false : 'no TLS material for the HTTPS fixture (openssl missing)';
const NOT_FOUND = JSON.stringify({
  error: { code: 'SecretNotFound', message: 'A secret with (name/id) x was not found.' },
});

let vault: FaultProxy;
let tokens: TokenEndpoint;
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

before(async () => {
  if (skip) return;
  vault = await FaultProxy.start('https://127.0.0.1:9', fixtureTls());
  tokens = await TokenEndpoint.start();
  // ManagedIdentityCredential reads the endpoint from the process environment itself.
  process.env.IDENTITY_ENDPOINT = tokens.url;
  process.env.IDENTITY_HEADER = 'fixture';
  // The SDK adapter (and with it @azure/identity and @azure/keyvault-secrets) is loaded lazily on the first Key Vault
  // call; load it now, so that no test's timing includes a module load.
  await import('functions-keyvault/internal/keyVault/secretClient.js');
});

// Whatever a test did or however it failed, the next one starts with a healthy token endpoint and a passing vault.
afterEach(() => {
  if (skip) return;
  tokens.reset();
  vault.reset();
});

after(async () => {
  restoreEnv('IDENTITY_ENDPOINT', saved.endpoint);
  restoreEnv('IDENTITY_HEADER', saved.header);
  await vault?.close();
  await tokens?.close();
});

function restoreEnv(name: string, value: string | undefined) {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function configure(extra: Record<string, string> = {}) {
  vault.reset();
  tokens.hang = false; // a test that failed half-way does not leave the token endpoint hung for the next one
  return configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: `${vault.url}/`,
      SECRETS_ALLOWED: 'first,second,throttled-name,disabled-name,large-name',
      KEY_VAULT_API_VERSION: '7.5',
      KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
      IDENTITY_ENDPOINT: tokens.url,
      IDENTITY_HEADER: 'fixture',
      // msal-node keeps managed-identity tokens process-wide per client id: a fresh one makes each test really
      // ask the token endpoint.
      AZURE_CLIENT_ID: randomUUID(),
      // Not what these tests are about: generous, so a loaded machine cannot turn an answer into a timeout.
      KEY_VAULT_TIMEOUT_MS: '30000',
      ...extra,
    }),
    log: { warn: () => undefined, info: () => undefined },
  });
}

async function read(name: string, headers: Record<string, string> = {}) {
  const { context } = capturingContext('getSecret');
  return getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}`, { name }, headers), context);
}

test(
  'a hung token request: reads fail with the token bound and recover once the endpoint answers again',
  // A hung read that is never bounded would hang this test: the limit, many times the bound, turns that into a failure.
  { skip, timeout: 60_000 },
  async () => {
    configure({ KEY_VAULT_TIMEOUT_MS: '4000' }); // the token request's bound is 80 % of it: 3200 ms
    vault.fault = { kind: 'challenge', status: 404, body: NOT_FOUND };
    tokens.hang = true;
    try {
      const hung = await read('first');
      assert.equal(hung.status, 503);
      assert.match(String(body(hung).detail), /identity endpoint did not answer a token request within 3200 ms/);
      assert.ok(tokens.requests >= 1, 'the token endpoint was asked and never answered');
      assert.equal(vault.tokens.length, 0, 'no token reached the vault');

      const { context } = capturingContext('configCheck');
      const report = body(await configCheckModule.configCheck(get('http://localhost/api/config/check'), context)) as {
        keyVault: { detail: string };
      };
      assert.match(report.keyVault.detail, /^MSINotEnabled: The identity endpoint did not answer/);

      tokens.hang = false; // the endpoint is healthy again; the first request is still hanging
      const recovered = await read('second');
      // Had this read waited for the stuck request, it would have ended like the first one: 503 after the bound.
      assert.equal(recovered.status, 404, 'Key Vault answered, so a fresh token request was made and its token sent');
      assert.ok(vault.tokens.length >= 1);
    } finally {
      tokens.hang = false; // a failure above must not leave the shared endpoint hanging for the next tests
    }
  },
);

test('429 with Retry-After: 7 → 503 throttled with Retry-After 7 at once, not a timeout', { skip }, async () => {
  // A generous timeout: the answer must be "throttled" because the vault said so, not because time ran out.
  configure({ KEY_VAULT_TIMEOUT_MS: '30000' });
  vault.fault = { kind: 'challenge', status: 429, body: '{}', headers: { 'retry-after': '7' } };
  const r = await read('throttled-name');
  assert.equal(r.status, 503);
  assert.equal(body(r).kind, 'throttled');
  assert.equal(header(r, 'retry-after'), '7');
  // The SDK's throttling retry would sleep 7 s and ask again: one authorised request means it did not.
  assert.equal(
    vault.requests.filter((q) => q.authorized).length,
    1,
    "the SDK did not sleep on the vault's Retry-After and retry",
  );
});

test('429 with an absurd Retry-After is capped', { skip }, async () => {
  configure({ KEY_VAULT_TIMEOUT_MS: '30000' });
  vault.fault = { kind: 'challenge', status: 429, body: '{}', headers: { 'retry-after': '99999999999' } };
  const r = await read('throttled-name');
  assert.equal(r.status, 503);
  assert.equal(header(r, 'retry-after'), '300');
});

test('a disabled secret through the real SDK: 409 SecretDisabled', { skip }, async () => {
  configure();
  vault.fault = {
    kind: 'challenge',
    status: 403,
    body: JSON.stringify({
      error: {
        code: 'Forbidden',
        message: 'Operation get is not allowed on a disabled secret.',
        innererror: { code: 'SecretDisabled' },
      },
    }),
  };
  const r = await read('disabled-name');
  assert.equal(r.status, 409);
  assert.equal(body(r).reason, 'SecretDisabled');
});

test(
  'a host the app does not trust is never sent a token, whatever resource its challenge names',
  { skip },
  async () => {
    // The configured vault is the fixture; a reference names another host (the same fixture under "localhost").
    const other = vault.url.replace('127.0.0.1', 'localhost');
    configure({
      CONFIG_CHECK_SETTINGS: 'REF',
      REF: `@Microsoft.KeyVault(SecretUri=${other}/secrets/x)`,
    });
    vault.fault = { kind: 'challenge', resource: 'https://management.azure.com', status: 404, body: NOT_FOUND };
    const { context } = capturingContext('configCheck');
    const report = body(await configCheckModule.configCheck(get('http://localhost/api/config/check'), context)) as {
      settings: Array<{ state: string }>;
    };
    assert.equal(report.settings[0]?.state, 'untrusted-reference');
    assert.ok(
      vault.tokens.every((t) => !t.includes('management.azure.com')),
      'no token for another resource was sent anywhere',
    );
    assert.ok(
      vault.requests.every((r) => r.path.includes('access-probe')),
      'only the configured vault was asked (the access probe)',
    );
  },
);

test(
  'a vault answering a 60 MB value: refused as malformed, never cached or served, not read to the end',
  { skip },
  async () => {
    for (const chunked of [false, true]) {
      // A long timeout: what ends the read is the size bound, not the clock.
      configure({ KEY_VAULT_TIMEOUT_MS: '60000' });
      vault.fault = { kind: 'largeValue', bytes: 60 * 1024 * 1024, chunked };
      const logged: string[] = [];
      const { context, lines } = capturingContext('getSecret');
      const r = await getSecretModule.getSecret(
        get('http://localhost/api/secrets/large-name', { name: 'large-name' }),
        context,
      );
      logged.push(...lines, JSON.stringify(r));
      assert.equal(r.status, 502, `chunked=${chunked}`);
      assert.equal(body(r).errorCode, 'ResponseTooLarge');
      assert.match(String(body(r).detail), /refused as malformed: the response body exceeds 256 KiB/);
      assert.ok(
        vault.bodyBytesWritten < 16 * 1024 * 1024,
        `${vault.bodyBytesWritten} bytes of 60 MB were sent before the client hung up`,
      );
      assert.equal(
        logged.some((l) => l.includes('AAAAAAAA')),
        false,
        'the body is never logged or echoed',
      );
      // Nothing was cached: a second read asks again (and is refused again).
      const before = vault.count('/secrets/large-name');
      assert.equal((await read('large-name')).status, 502);
      assert.ok(vault.count('/secrets/large-name') > before);
    }
  },
);

test(
  'a value just under the body bound but far above 25 KB is refused too; 25 KB of unicode is served',
  { skip },
  async () => {
    configure();
    vault.fault = { kind: 'largeValue', bytes: 200 * 1024 };
    const r = await read('large-name');
    assert.equal(r.status, 502);
    assert.match(String(body(r).detail), /the secret value exceeds 64 KiB/);
    const value = '\u00e9\u4e2d\u{1F511}'.repeat(Math.floor(25_000 / 9)); // 25 KB of UTF-8, two- to four-byte
    vault.fault = {
      kind: 'challenge',
      status: 200,
      body: JSON.stringify({
        value,
        id: `${vault.url}/secrets/large-name/${'1'.repeat(32)}`,
        attributes: { enabled: true },
      }),
    };
    const ok = await read('large-name');
    assert.equal(ok.status, 200);
    assert.equal(body(ok).value, value);
    assert.equal(header(ok, 'cache-control'), 'no-store');
  },
);
