import assert from 'node:assert/strict';
import { test } from 'node:test';
import { problemForFailure } from '../src/http/problems.js';
import { classifyError, isTransient, KeyVaultFailure, referenceStatusWord } from '../src/keyVault/errors.js';
import { body, header } from './support/handlers.js';
import { restError } from './support/fakeFetch.js';

test('classification of Key Vault and identity errors', () => {
  assert.equal(classifyError(restError(404, 'not found')).kind, 'secret-not-found');
  assert.equal(classifyError(restError(404, 'not found'), true).kind, 'version-not-found');
  assert.equal(classifyError(restError(403, 'forbidden')).kind, 'access-denied');
  assert.equal(classifyError(restError(401, 'unauthorized')).kind, 'access-denied');
  const throttled = classifyError(restError(429, 'slow down', { 'retry-after': '7' }));
  assert.equal(throttled.kind, 'throttled');
  assert.equal(throttled.retryAfterSeconds, 7);
  assert.equal(classifyError(restError(503, 'busy')).kind, 'service-error');
  assert.equal(
    classifyError(Object.assign(new Error('x'), { name: 'CredentialUnavailableError' })).kind,
    'identity-unavailable',
  );
  assert.equal(
    classifyError(Object.assign(new Error('x'), { name: 'AuthenticationError', statusCode: 400 })).kind,
    'identity-refused',
  );
  assert.equal(
    classifyError(Object.assign(new Error('x'), { name: 'AuthenticationError', statusCode: 500 })).kind,
    'identity-unavailable',
  );
  assert.equal(classifyError(Object.assign(new Error('x'), { name: 'AbortError' })).kind, 'timeout');
  // ManagedIdentityCredential wraps the identity endpoint's answer: its status is in the cause chain.
  const wrongClientId = Object.assign(new Error('ManagedIdentityCredential: identity not found'), {
    name: 'CredentialUnavailableError',
    cause: { name: 'ServerError', status: 400 },
  });
  assert.equal(classifyError(wrongClientId).kind, 'identity-refused');
  const endpoint500 = Object.assign(new Error('x'), { name: 'CredentialUnavailableError', cause: { status: 500 } });
  assert.equal(classifyError(endpoint500).kind, 'identity-unavailable');
  const refused = Object.assign(new Error('send failed'), {
    name: 'RestError',
    code: 'REQUEST_SEND_ERROR',
    cause: { code: 'ECONNREFUSED' },
  });
  assert.equal(classifyError(refused).kind, 'unreachable');
  assert.equal(classifyError(Object.assign(new Error('dns'), { code: 'ENOTFOUND' })).kind, 'vault-not-found');
  assert.equal(classifyError('weird').kind, 'unexpected');
});

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

const ctx = {
  vaultUrl: 'https://v.vault.azure.net/',
  name: 'db',
  identity: "the Function App's system-assigned managed identity",
};

test('403 maps to 502 naming the identity and the role to grant', () => {
  const r = problemForFailure(new KeyVaultFailure('access-denied', 'Forbidden', 403), ctx);
  assert.equal(r.status, 502);
  assert.equal(header(r, 'content-type'), 'application/problem+json');
  const b = body(r);
  assert.equal(b.status, 502);
  assert.equal(typeof b.type, 'string');
  assert.equal(typeof b.title, 'string');
  assert.match(String(b.detail), /system-assigned managed identity/);
  assert.match(String(b.detail), /Key Vault Secrets User/);
  assert.match(String(b.detail), /access policy with secret permission "get"/);
});

test('throttling, timeouts and outages map to 503 with Retry-After', () => {
  const throttled = problemForFailure(new KeyVaultFailure('throttled', 'x', 429, 12), ctx);
  assert.equal(throttled.status, 503);
  assert.equal(header(throttled, 'retry-after'), '12');
  for (const kind of ['timeout', 'unreachable', 'identity-unavailable', 'service-error'] as const) {
    const r = problemForFailure(new KeyVaultFailure(kind, 'x'), ctx);
    assert.equal(r.status, 503, kind);
    assert.match(header(r, 'retry-after') ?? '', /^\d+$/, kind);
  }
});

test('404s name the secret and version', () => {
  const r = problemForFailure(new KeyVaultFailure('version-not-found', 'x', 404), { ...ctx, version: 'a'.repeat(32) });
  assert.equal(r.status, 404);
  assert.match(String(body(r).detail), /version a{32} of secret "db"/);
});
