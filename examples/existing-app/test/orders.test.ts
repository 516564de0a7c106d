import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HttpRequest } from '@azure/functions';
import { capturingContext, configureTestKeyVault, keyVaultError, TEST_VAULT_URL } from 'functions-keyvault/testing';
import { orders } from '../src/functions/orders';
import { keyVaultEvents } from 'functions-keyvault/handlers';

const request = () => new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/orders' });

test('orders reads its secret through the package (CommonJS consumer)', async () => {
  const { vault } = configureTestKeyVault({ secrets: { 'orders-api-key': 'canary-value-123' } });
  const { context, lines } = capturingContext('orders');
  const response = await orders(request(), context);
  assert.equal(response.status, 200);
  assert.equal(vault.calls, 1);
  assert.ok(
    lines.every((l) => !l.includes('canary-value-123')),
    'the value is never logged',
  );
});

test('a Key Vault refusal becomes a 502 problem response naming the secret, never a value', async () => {
  const { vault } = configureTestKeyVault({ secrets: { 'orders-api-key': 'k' } });
  vault.failWith = keyVaultError(403, 'Forbidden');
  const response = await orders(request(), capturingContext('orders').context);
  assert.equal(response.status, 502);
  assert.match(JSON.stringify(response.jsonBody), /orders-api-key/);
  assert.equal((response.headers as Record<string, string>)['Content-Type'], 'application/problem+json');
});

test('the ready Event Grid handler re-reads a rotated secret the app holds', async () => {
  const { vault, clock } = configureTestKeyVault({ secrets: { 'orders-api-key': 'v1' } });
  await orders(request(), capturingContext('orders').context);
  clock.advance(6_000); // past SECRET_CACHE_MIN_REFRESH_SECONDS (5 s)
  const v2 = vault.set('orders-api-key', 'v2');
  const host = new URL(TEST_VAULT_URL).host;
  const { context, lines } = capturingContext('secretEvents');
  keyVaultEvents(
    {
      id: '1',
      eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
      subject: 'orders-api-key',
      topic: '/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/test',
      eventTime: new Date().toISOString(),
      dataVersion: '1',
      metadataVersion: '1',
      data: {
        Id: `https://${host}/secrets/orders-api-key/${v2.version}`,
        VaultName: 'test',
        ObjectType: 'Secret',
        ObjectName: 'orders-api-key',
        Version: v2.version,
        NBF: null,
        EXP: null,
      },
    },
    context,
  );
  assert.ok(
    lines.some((l) => l.includes('orders-api-key')),
    'the event is logged by name',
  );
  const { context: after, lines: logged } = capturingContext('orders');
  for (let i = 0; i < 10 && vault.calls < 2; i++) await new Promise((r) => setImmediate(r));
  assert.equal(vault.calls, 2, 'one background re-read');
  await orders(request(), after);
  assert.ok(logged.length > 0);
});
