/**
 * The config check's own failure paths (the healthy and degraded reports are in handlers.test.ts): it never throws,
 * a failed load of the Key Vault client is a 503 problem that is retried on the next call, configuration problems
 * are reported without values, and Retry-After appears only where retrying can help.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import { configureKeyVault, KeyVaultFailure } from 'functions-keyvault/internal/keyVault/index.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { InMemoryVault } from 'functions-keyvault/testing';

const VAULT = 'https://check.vault.azure.net/';
const quiet = { warn: () => undefined, info: () => undefined };

async function check() {
  const { context, lines } = capturingContext('configCheck');
  const response = await configCheckModule.configCheck(get('http://localhost/api/config/check'), context);
  return { response, lines };
}

test('a failed load of the Key Vault client: 503 problem with the reason and Retry-After, retried on the next call', async () => {
  const vault = new InMemoryVault();
  let attempts = 0;
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: VAULT }),
    log: quiet,
    loadFetch: async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('Cannot find package @azure/keyvault-secrets');
      return vault.fetch;
    },
  });
  const first = await check();
  assert.equal(first.response.status, 503);
  assert.equal(header(first.response, 'content-type'), 'application/problem+json');
  assert.ok(header(first.response, 'retry-after'), 'a load failure may heal: Retry-After');
  const b = body(first.response) as { health: string; keyVault: { canReadSecrets: boolean; detail: string } };
  assert.equal(b.health, 'failed');
  assert.equal(b.keyVault.canReadSecrets, false);
  assert.match(b.keyVault.detail, /could not be loaded: Cannot find package @azure\/keyvault-secrets/);

  const second = await check();
  assert.equal(attempts, 2, 'the failure was not remembered');
  assert.equal(second.response.status, 200);
  assert.equal((body(second.response) as { keyVault: { canReadSecrets: boolean } }).keyVault.canReadSecrets, true);
});

test('configuration problems: degraded 503 naming setting and range, no value, no Retry-After', async () => {
  const vault = new InMemoryVault();
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: VAULT, KEY_VAULT_TIMEOUT_MS: '3000000000', KEY_VAULT_API_VERSION: '9.9' }),
    fetchSecret: vault.fetch,
    log: quiet,
  });
  const { response } = await check();
  assert.equal(response.status, 503);
  assert.equal(header(response, 'retry-after'), undefined, 'retrying cannot fix a setting');
  const b = body(response) as {
    health: string;
    detail: string;
    configuration: { problems: Array<{ setting: string; message: string }> };
  };
  assert.equal(b.health, 'degraded');
  assert.deepEqual(
    b.configuration.problems.map((p) => p.setting),
    ['KEY_VAULT_API_VERSION', 'KEY_VAULT_TIMEOUT_MS'],
  );
  assert.match(b.detail, /KEY_VAULT_TIMEOUT_MS must be a number from 100 to 120000/);
  assert.equal(JSON.stringify(b).includes('3000000000'), false);
});

test('an invalid KEY_VAULT_URL is reported as such, not as "not set"', async () => {
  configureKeyVault({ config: parseConfig({ KEY_VAULT_URL: 'http://v.vault.azure.net/' }), log: quiet });
  const { response } = await check();
  const b = body(response) as { keyVault: { configured: boolean; detail: string } };
  assert.equal(b.keyVault.configured, false);
  assert.match(b.keyVault.detail, /KEY_VAULT_URL must use https/);
});

test('a transient probe failure carries Retry-After; a refusal does not', async () => {
  const vault = new InMemoryVault();
  configureKeyVault({ config: parseConfig({ KEY_VAULT_URL: VAULT }), fetchSecret: vault.fetch, log: quiet });
  vault.failWith = Object.assign(new Error('x'), { name: 'RestError', statusCode: 503 });
  const down = await check();
  assert.equal(down.response.status, 503);
  assert.ok(header(down.response, 'retry-after'));

  configureKeyVault({ config: parseConfig({ KEY_VAULT_URL: VAULT }), fetchSecret: vault.fetch, log: quiet });
  vault.failWith = Object.assign(new Error('x'), { name: 'RestError', statusCode: 403 });
  const denied = await check();
  assert.equal(denied.response.status, 503);
  assert.equal(header(denied.response, 'retry-after'), undefined);
});

test('the config check never throws, whatever the service does', async () => {
  configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: VAULT,
      CONFIG_CHECK_SETTINGS: 'REF',
      REF: `@Microsoft.KeyVault(SecretUri=${VAULT}secrets/x)`,
    }),
    log: quiet,
    // A fetch that breaks its contract (throws something that is not a KeyVaultFailure).
    fetchSecret: () => Promise.reject(new TypeError('boom')),
  });
  const { response } = await check();
  assert.equal(response.status, 503);
  assert.equal(JSON.stringify(response.jsonBody).includes('boom'), false);
  assert.ok(new KeyVaultFailure('timeout', 'x') instanceof Error);
});
