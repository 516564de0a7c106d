import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseIdentity } from '../src/keyVault/identity.js';
import { apiVersionFrom, cachePolicyFrom, CACHE_DEFAULTS, listSetting, vaultUrlFrom } from '../src/settings.js';

test('KEY_VAULT_URL, alias KEY_VAULT_URI, normalised to the origin', () => {
  assert.equal(vaultUrlFrom({ KEY_VAULT_URL: 'https://MyVault.vault.azure.net' }), 'https://myvault.vault.azure.net/');
  assert.equal(vaultUrlFrom({ KEY_VAULT_URI: ' https://v.vault.azure.net/ ' }), 'https://v.vault.azure.net/');
  assert.equal(vaultUrlFrom({}), undefined);
  assert.equal(vaultUrlFrom({ KEY_VAULT_URL: '  ' }), undefined);
});

test('list settings are trimmed and drop empties', () => {
  assert.deepEqual(listSetting({ X: ' a, b ,,c ' }, 'X'), ['a', 'b', 'c']);
  assert.deepEqual(listSetting({}, 'X'), []);
});

test('cache policy: defaults, overrides, garbage falls back to defaults', () => {
  assert.deepEqual(cachePolicyFrom({}), CACHE_DEFAULTS);
  const p = cachePolicyFrom({
    SECRET_CACHE_TTL_SECONDS: '60',
    KEY_VAULT_TIMEOUT_MS: '250',
    SECRET_CACHE_MAX_ENTRIES: 'lots',
  });
  assert.equal(p.ttlMs, 60_000);
  assert.equal(p.timeoutMs, 250);
  assert.equal(p.maxEntries, CACHE_DEFAULTS.maxEntries);
});

test('API version must be one the SDK knows', () => {
  assert.equal(apiVersionFrom({ KEY_VAULT_API_VERSION: '7.5' }), '7.5');
  assert.equal(apiVersionFrom({}), undefined);
  assert.throws(() => apiVersionFrom({ KEY_VAULT_API_VERSION: '9.9' }), /KEY_VAULT_API_VERSION/);
});

test('identity: managed identity only where the platform provides the endpoint', () => {
  assert.equal(
    chooseIdentity({ IDENTITY_ENDPOINT: 'http://127.0.0.1:1/token', IDENTITY_HEADER: 'h' }).credential,
    'ManagedIdentityCredential (system-assigned)',
  );
  const user = chooseIdentity({
    IDENTITY_ENDPOINT: 'http://127.0.0.1:1/token',
    IDENTITY_HEADER: 'h',
    AZURE_CLIENT_ID: 'abc',
  });
  assert.equal(user.clientId, 'abc');
  assert.match(user.description, /user-assigned managed identity with client id abc/);
  assert.equal(chooseIdentity({}).kind, 'developer');
  assert.equal(
    chooseIdentity({ IDENTITY_ENDPOINT: 'http://127.0.0.1:1/token' }).kind,
    'developer',
    'the SDK needs the header too',
  );
  assert.equal(chooseIdentity({ AZURE_CLIENT_ID: 'abc' }).kind, 'developer');
});
