import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capturingContext, configureTestKeyVault, get, TEST_VAULT_URL } from 'functions-keyvault/testing';
import { configCheck } from 'functions-keyvault/handlers';
import { dbPassword } from '../src/functions/dbPassword.js';

test('reads a secret and resolves a Key Vault reference setting (ESM consumer)', async () => {
  const { vault } = configureTestKeyVault({
    secrets: { 'db-password': 'p4ss-canary', 'db-connection': 'Server=db;User=app' },
    settings: { DB_CONNECTION: `@Microsoft.KeyVault(SecretUri=${TEST_VAULT_URL}secrets/db-connection/)` },
  });
  const { context, lines } = capturingContext('dbPassword');
  const response = await dbPassword(get('http://localhost:7071/api/dbPassword'), context);
  assert.equal(response.status, 200);
  assert.deepEqual(response.jsonBody, { passwordLength: 11, connectionLength: 18 });
  assert.equal(vault.calls, 2);
  assert.ok(!lines.join('\n').includes('p4ss-canary'));
});

test('the config check handler mounts at any route and reports without values', async () => {
  configureTestKeyVault({
    secrets: { 'db-password': 'p4ss-canary' },
    settings: { CONFIG_CHECK_SETTINGS: 'DB_CONNECTION' },
  });
  const response = await configCheck(
    get('http://localhost:7071/api/health/keyvault'),
    capturingContext('configCheck').context,
  );
  assert.ok([200, 503].includes(response.status ?? 0));
  assert.ok(!JSON.stringify(response.jsonBody).includes('p4ss-canary'));
});
