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
  return configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: `${vault.url}/`,
      SECRETS_ALLOWED: 'first,second,throttled-name,disabled-name',
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
    // The token deadline is 80% of the call's: 2,400 of 3,000 ms. The 600 ms between them keep the token's deadline
    // first on a loaded machine (with 1,000 ms the call's own deadline sometimes fired first under load).
    configure({ KEY_VAULT_TIMEOUT_MS: '3000' });
    vault.fault = { kind: 'challenge', status: 404, body: NOT_FOUND };
    tokens.hang = true;
    try {
      const started = Date.now();
      const hung = await read('first');
      assert.equal(hung.status, 503);
      // The detail proves the 2,400 ms token deadline fired; the clock only rules out a hang (the endpoint never answers).
      assert.match(String(body(hung).detail), /identity endpoint did not answer a token request within 2400 ms/);
      assert.ok(Date.now() - started < 10_000, 'bounded by KEY_VAULT_TIMEOUT_MS, not hung');

      const { context } = capturingContext('configCheck');
      const report = body(await configCheckModule.configCheck(get('http://localhost/api/config/check'), context)) as {
        keyVault: { detail: string };
      };
      assert.match(report.keyVault.detail, /^MSINotEnabled: The identity endpoint did not answer/);

      tokens.hang = false; // the endpoint is healthy again; the first request is still hanging
      // Within one KEY_VAULT_TIMEOUT_MS: a read that got no token within it would be a 503, not Key Vault's 404.
      const recovered = await read('second');
      assert.equal(recovered.status, 404, 'Key Vault answered, so a token was obtained and sent');
      assert.ok(vault.tokens.length >= 1);
    } finally {
      tokens.hang = false; // a failure above must not leave the shared endpoint hanging for the next tests
    }
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
  // 'throttled', not 'timeout', already shows the SDK did not sleep on the 7 s Retry-After past the 3 s deadline.
  assert.ok(Date.now() - started < 7_000, "the SDK did not sleep on the vault's Retry-After");
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
