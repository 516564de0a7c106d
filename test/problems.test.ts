import assert from 'node:assert/strict';
import { test } from 'node:test';
import { problemForFailure } from 'functions-keyvault/internal/http/problems.js';
import { KeyVaultFailure } from 'functions-keyvault/internal/keyVault/index.js';
import { body, header } from 'functions-keyvault/testing';

const ctx = {
  vaultUrl: 'https://v.vault.azure.net/',
  name: 'db',
  identity: "the Function App's system-assigned managed identity",
};

test('403 maps to 502 naming the identity and the role to grant', () => {
  const r = problemForFailure(new KeyVaultFailure('access-denied', 'Forbidden', { statusCode: 403 }), ctx);
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
  const throttled = problemForFailure(
    new KeyVaultFailure('throttled', 'x', { statusCode: 429, retryAfterSeconds: 12 }),
    ctx,
  );
  assert.equal(throttled.status, 503);
  assert.equal(header(throttled, 'retry-after'), '12');
  for (const kind of ['timeout', 'unreachable', 'identity-unavailable', 'service-error'] as const) {
    const r = problemForFailure(new KeyVaultFailure(kind, 'x'), ctx);
    assert.equal(r.status, 503, kind);
    assert.match(header(r, 'retry-after') ?? '', /^\d+$/, kind);
  }
});

test('404s name the secret and version', () => {
  const r = problemForFailure(new KeyVaultFailure('version-not-found', 'x', { statusCode: 404 }), {
    ...ctx,
    version: 'a'.repeat(32),
  });
  assert.equal(r.status, 404);
  assert.match(String(body(r).detail), /version a{32} of secret "db"/);
});

test('anything that is not a KeyVaultFailure is a bare 500 problem, without its message', () => {
  const r = problemForFailure(new Error('secret-looking text'), ctx);
  assert.equal(r.status, 500);
  assert.equal(JSON.stringify(r.jsonBody).includes('secret-looking text'), false);
});

test('bad input and no vault: 400 and 503 problems', () => {
  assert.equal(problemForFailure(new KeyVaultFailure('invalid-request', 'bad name'), ctx).status, 400);
  assert.equal(problemForFailure(new KeyVaultFailure('not-configured', 'x'), ctx).status, 503);
});

test('failureResponse fills the problem with the failing service’s vault and identity', async () => {
  const { failureResponse } = await import('functions-keyvault/internal/http/failureResponse.js');
  const { parseConfig } = await import('functions-keyvault/internal/config.js');
  const { KeyVaultService } = await import('functions-keyvault/internal/keyVault/index.js');
  const service = new KeyVaultService({
    config: parseConfig({
      KEY_VAULT_URL: 'https://mapped.vault.azure.net/',
      IDENTITY_ENDPOINT: 'http://127.0.0.1:9/token',
      IDENTITY_HEADER: 'unit',
      WEBSITE_INSTANCE_ID: 'instance',
    }),
  });
  const denied = failureResponse(
    new KeyVaultFailure('access-denied', 'Forbidden', { statusCode: 403 }),
    { name: 'db' },
    service,
  );
  assert.equal(denied.status, 502);
  const detail = String(body(denied).detail);
  assert.match(detail, /https:\/\/mapped\.vault\.azure\.net\//);
  assert.ok(detail.includes(service.identity.description), detail);
  assert.match(detail, /secret "db"/);
  assert.equal(failureResponse(new Error('x'), {}, service).status, 500);
});
