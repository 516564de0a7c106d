import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTransient, referenceStatusWord } from 'functions-keyvault/internal/keyVault/failure.js';

test('transient failures are the ones that may serve stale; 403 and 404 are not', () => {
  for (const kind of ['throttled', 'timeout', 'service-error', 'unreachable', 'identity-unavailable'] as const)
    assert.equal(isTransient(kind), true, kind);
  for (const kind of ['access-denied', 'secret-not-found', 'version-not-found', 'identity-refused'] as const)
    assert.equal(isTransient(kind), false, kind);
});

test('platform reference-status words', () => {
  assert.equal(referenceStatusWord('access-denied'), 'AccessToKeyVaultDenied');
  assert.equal(referenceStatusWord('secret-not-found'), 'SecretNotFound');
  assert.equal(referenceStatusWord('version-not-found'), 'SecretVersionNotFound');
  assert.equal(referenceStatusWord('vault-not-found'), 'VaultNotFound');
  assert.equal(referenceStatusWord('timeout'), 'FetchTimedOut');
  assert.equal(referenceStatusWord('identity-unavailable'), 'MSINotEnabled');
});
