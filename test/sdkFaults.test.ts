/**
 * Faults through the real ManagedIdentityCredential and SecretClient, against loopback fixtures: an HTTPS vault
 * fixture that speaks just enough of Key Vault's protocol (the bearer challenge, then a fixed answer) and a token
 * endpoint fixture (App Service style). No emulator: these are the faults an emulator cannot produce on demand.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { parseConfig } from '../src/config.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { configureKeyVault } from '../src/keyVault/index.js';
import { FaultProxy, fixtureTls } from './support/faultProxy.js';
import { TokenEndpoint } from './support/tokenEndpoint.js';
import { body, capturingContext, get, header } from '../src/http/testing.js';

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
});

after(async () => {
  process.env.IDENTITY_ENDPOINT = saved.endpoint;
  process.env.IDENTITY_HEADER = saved.header;
  await vault?.close();
  await tokens?.close();
});

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
  'a hung token request: reads fail within the timeout and recover once the endpoint answers again',
  { skip },
  async () => {
    configure({ KEY_VAULT_TIMEOUT_MS: '1000' });
    vault.fault = { kind: 'challenge', status: 404, body: NOT_FOUND };
    tokens.hang = true;
    const started = Date.now();
    const hung = await read('first');
    assert.equal(hung.status, 503);
    assert.match(String(body(hung).detail), /identity endpoint did not answer a token request within 800 ms/);
    assert.ok(Date.now() - started < 1_500, 'bounded by KEY_VAULT_TIMEOUT_MS');

    const { context } = capturingContext('configCheck');
    const report = body(await configCheckModule.configCheck(get('http://localhost/api/config/check'), context)) as {
      keyVault: { detail: string };
    };
    assert.match(report.keyVault.detail, /^MSINotEnabled: The identity endpoint did not answer/);

    tokens.hang = false; // the endpoint is healthy again; the first request is still hanging
    const healed = Date.now();
    const recovered = await read('second');
    assert.equal(recovered.status, 404, 'Key Vault answered, so a token was obtained and sent');
    assert.ok(Date.now() - healed < 1_000, 'recovered within one KEY_VAULT_TIMEOUT_MS');
    assert.ok(vault.tokens.length >= 1);
  },
);

test('429 with Retry-After: 7 → 503 throttled with Retry-After 7 at once, not a timeout', { skip }, async () => {
  configure({ KEY_VAULT_TIMEOUT_MS: '3000' });
  vault.fault = { kind: 'challenge', status: 429, body: '{}', headers: { 'retry-after': '7' } };
  const started = Date.now();
  const r = await read('throttled-name');
  assert.equal(r.status, 503);
  assert.equal(body(r).kind, 'throttled');
  assert.equal(header(r, 'retry-after'), '7');
  assert.ok(Date.now() - started < 2_000, "the SDK did not sleep on the vault's Retry-After");
});

test('429 with an absurd Retry-After is capped', { skip }, async () => {
  configure({ KEY_VAULT_TIMEOUT_MS: '3000' });
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
