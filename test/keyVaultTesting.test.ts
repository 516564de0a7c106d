/**
 * The testing entries (src/keyVault/testing.ts, src/http/testing.ts) as a user of docs/your-own-function.md uses
 * them: the page's `orders` function, tested through the public face only, and the promises the entries make (an
 * in-memory vault whose failures are classified like the SDK's, a manual clock that drives the cache, a fresh
 * service per call, no value in any answer).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { failureResponse } from 'functions-keyvault/internal/http/failureResponse.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { declareSetting, readSecret, resolveSetting } from 'functions-keyvault/internal/keyVault/index.js';
import {
  configureTestKeyVault,
  InMemoryVault,
  keyVaultError,
  ManualClock,
  TEST_VAULT_URL,
} from 'functions-keyvault/testing';

const CANARY = 'canary-orders-7c1d2e';

// The function of docs/your-own-function.md, as a user would write it in src/functions/orders.ts (its registration
// left out: test/yourOwnFunction.test.ts runs the whole file in a copy of the project).
const ORDERS_DB_URL = declareSetting('ORDERS_DB_URL', 'the orders database URL, or a Key Vault reference to it');

export async function orders(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const apiKey = (await readSecret('orders-api-key')).value; // from KEY_VAULT_URL, through the cache
    const dbUrl = await resolveSetting(ORDERS_DB_URL); // a plain setting, or a Key Vault reference resolved
    // ... use them; never log or return them
    return { status: 200, jsonBody: { configured: Boolean(apiKey && dbUrl) } };
  } catch (error) {
    return failureResponse(error, { name: 'orders-api-key' }); // the same RFC 9457 problems as getSecret
  }
}

function call() {
  const { context, lines } = capturingContext('orders');
  return orders(get('http://localhost:7071/api/orders'), context).then((response) => ({ response, lines }));
}

let clock: ManualClock;
let vault: InMemoryVault;

beforeEach(() => {
  ({ vault, clock } = configureTestKeyVault({
    settings: { ORDERS_DB_URL: 'postgres://orders' },
    secrets: { 'orders-api-key': CANARY },
  }));
});

test("the page's function: 200 when its secret is there, never the value", async () => {
  const { response, lines } = await call();
  assert.equal(response.status, 200);
  assert.deepEqual(body(response), { configured: true });
  assert.equal(JSON.stringify([response, lines]).includes(CANARY), false);
  assert.equal(vault.calls, 1);
});

test("the page's function: 404 problem naming the secret and the test vault when it is missing", async () => {
  vault.delete('orders-api-key');
  const { response } = await call();
  assert.equal(response.status, 404);
  assert.equal(header(response, 'content-type'), 'application/problem+json');
  assert.match(String(body(response).detail), new RegExp(`${TEST_VAULT_URL}.*"orders-api-key"`));
});

test("the page's function: a refusing vault is a 502 naming the role to grant; an outage a 503 with Retry-After", async () => {
  vault.failWith = keyVaultError(403, 'Forbidden');
  const refused = await call();
  assert.equal(refused.response.status, 502);
  assert.match(String(body(refused.response).detail), /Key Vault Secrets User/);

  configureTestKeyVault({ vault, clock, settings: { ORDERS_DB_URL: 'x' } });
  vault.failWith = keyVaultError(429, 'Too many requests', { 'retry-after': '7' });
  const throttled = await call();
  assert.equal(throttled.response.status, 503);
  assert.equal(header(throttled.response, 'retry-after'), '7');
});

test('the manual clock drives the cache: the old value until the TTL passes, then the new version', async () => {
  assert.equal((await readSecret('orders-api-key')).value, CANARY);
  vault.set('orders-api-key', 'rotated');
  clock.advance(299_000);
  const cached = await readSecret('orders-api-key');
  assert.deepEqual([cached.value, cached.cache], [CANARY, 'hit']);
  clock.advance(2_000); // past SECRET_CACHE_TTL_SECONDS (300 s by default)
  assert.equal((await readSecret('orders-api-key')).value, 'rotated');
  assert.equal(vault.calls, 2, 'one call to fill the cache, one to refresh it (ahead of or at the TTL)');
});

test('versions and attributes: pinned reads, metadata as given, case-insensitive names', async () => {
  const first = vault.set('Pinned', 'one', { contentType: 'text/plain', expiresOn: new Date(Date.UTC(2030, 0, 1)) });
  vault.set('pinned', 'two');
  assert.equal((await readSecret('PINNED')).value, 'two');
  const pinned = await readSecret('pinned', { version: first.version! });
  assert.deepEqual(
    [pinned.value, pinned.contentType, pinned.expiresOn?.toISOString()],
    ['one', 'text/plain', '2030-01-01T00:00:00.000Z'],
  );
});

test('each configureTestKeyVault starts from an empty cache, and its log lines are collected', async () => {
  await readSecret('orders-api-key');
  const again = configureTestKeyVault({ vault, clock });
  await readSecret('orders-api-key');
  assert.equal(vault.calls, 2, 'the second service asked the vault again');
  vault.failWith = keyVaultError(503, 'Service Unavailable');
  await assert.rejects(readSecret('other-name'), { kind: 'service-error' });
  assert.ok(Array.isArray(again.logs));
});

test("this file's orders function is the one docs/your-own-function.md shows", () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const block = (text: string) => {
    const start = text.indexOf('const ORDERS_DB_URL = ');
    return text.slice(start, text.indexOf('\n}\n', start) + 3);
  };
  const shown = block(readFileSync(`${root}docs/your-own-function.md`, 'utf8'));
  assert.ok(shown.length > 100);
  assert.equal(shown, block(readFileSync(`${root}test/keyVaultTesting.test.ts`, 'utf8')));
});
