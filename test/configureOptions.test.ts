/**
 * Configuration from an options object (`configureKeyVault({ settings })`, the package's README): the package then
 * reads none of its settings from `process.env`, even when the environment names another vault, another TTL and
 * other values for the app's own declared settings. Through the public entry only, as a consumer calls it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configureKeyVault, declareSetting, keyVault, readSecret, resolveSetting } from 'functions-keyvault';
import { InMemoryVault } from 'functions-keyvault/testing';

const MINE = 'https://mine.vault.azure.net/';
const POISONED = {
  KEY_VAULT_URL: 'https://poisoned.vault.azure.net/',
  SECRET_CACHE_TTL_SECONDS: '1',
  SECRETS_ALLOWED: 'poisoned-*',
  OPTIONS_TEST_SETTING: 'from-the-environment',
};

declareSetting('OPTIONS_TEST_SETTING', 'read by the options test only');

test('configureKeyVault({ settings }) reads no environment: vault, cache and settings come from the object', async () => {
  const saved = Object.fromEntries(Object.keys(POISONED).map((name) => [name, process.env[name]]));
  Object.assign(process.env, POISONED);
  try {
    const vault = new InMemoryVault();
    vault.set('db-password', 'p4ss-options-canary');
    const asked: string[] = [];
    const service = configureKeyVault({
      settings: { KEY_VAULT_URL: MINE, SECRET_CACHE_TTL_SECONDS: '60', SECRETS_ALLOWED: 'db-*' },
      fetchSecret: (vaultUrl, name, version, signal) => {
        asked.push(vaultUrl);
        return vault.fetch(vaultUrl, name, version, signal);
      },
    });
    assert.equal(keyVault(), service, 'the process-wide service is the configured one');
    assert.equal(service.vaultUrl, MINE);
    assert.equal(service.config.cache.ttlMs, 60_000);
    assert.deepEqual(service.config.problems, []);
    assert.equal((await readSecret('db-password')).value, 'p4ss-options-canary');
    assert.deepEqual(asked, [MINE], 'the read went to the vault of the options, not the environment');
    assert.equal(await resolveSetting('OPTIONS_TEST_SETTING'), undefined, 'not in the options: not set');

    configureKeyVault({ settings: { KEY_VAULT_URL: MINE, OPTIONS_TEST_SETTING: 'from-the-options' } });
    assert.equal(await resolveSetting('OPTIONS_TEST_SETTING'), 'from-the-options');
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    configureKeyVault({ settings: {} });
  }
});
