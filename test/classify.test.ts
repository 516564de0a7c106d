import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyError, parseRetryAfter } from 'functions-keyvault/internal/keyVault/classify.js';
import { KeyVaultFailure } from 'functions-keyvault/internal/keyVault/failure.js';
import { keyVaultError } from 'functions-keyvault/testing';

test('classification of Key Vault and identity errors', () => {
  assert.equal(classifyError(keyVaultError(404, 'not found')).kind, 'secret-not-found');
  assert.equal(classifyError(keyVaultError(404, 'not found'), true).kind, 'version-not-found');
  assert.equal(classifyError(keyVaultError(403, 'forbidden')).kind, 'access-denied');
  assert.equal(classifyError(keyVaultError(401, 'unauthorized')).kind, 'access-denied');
  const throttled = classifyError(keyVaultError(429, 'slow down', { 'retry-after': '7' }));
  assert.equal(throttled.kind, 'throttled');
  assert.equal(throttled.retryAfterSeconds, 7);
  assert.equal(classifyError(keyVaultError(503, 'busy')).kind, 'service-error');
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

test('messages are fixed text: no SDK or server text is echoed, only status, codes and request id', () => {
  const CANARY = 'canary-secret-value-7f3a';
  const parseError = Object.assign(
    new Error(`Error "Unexpected token" occurred while parsing the response body - {"value":"${CANARY}`),
    {
      name: 'RestError',
      code: 'PARSE_ERROR',
      statusCode: 200,
      response: { headers: { get: (n: string) => (n === 'x-ms-request-id' ? 'req-123' : undefined) } },
    },
  );
  const failure = classifyError(parseError);
  assert.equal(failure.kind, 'unexpected');
  assert.equal(failure.statusCode, 200);
  assert.equal(failure.errorCode, 'PARSE_ERROR');
  assert.equal(failure.requestId, 'req-123');
  assert.equal(JSON.stringify({ ...failure, message: failure.message }).includes(CANARY), false);

  const serverText = keyVaultError(500, `Internal error while handling ${CANARY}`);
  const five = classifyError(serverText);
  assert.equal(five.kind, 'service-error');
  assert.equal(five.message.includes(CANARY), false);

  // A server-chosen code that is prose or data is not kept.
  const proseCode = Object.assign(keyVaultError(403, 'x'), { code: `value is ${CANARY}` });
  assert.equal(classifyError(proseCode).errorCode, undefined);
  const inner = Object.assign(keyVaultError(403, 'x'), {
    response: {
      headers: { get: () => undefined },
      parsedBody: { error: { code: 'Forbidden', innererror: { code: 'SecretDisabled' } } },
    },
  });
  assert.equal(classifyError(inner).errorCode, 'SecretDisabled');
  for (const kind of [new Error(CANARY), { message: CANARY }, CANARY]) {
    assert.equal(classifyError(kind).message.includes(CANARY), false);
  }
  assert.ok(classifyError(new KeyVaultFailure('timeout', 'x')) instanceof KeyVaultFailure);
});

test('Retry-After: delta seconds or an HTTP date', () => {
  assert.equal(parseRetryAfter('7'), 7);
  assert.equal(parseRetryAfter('1.2'), 2);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(new Date(10_000 + 30_000).toUTCString(), 10_000), 30);
});
