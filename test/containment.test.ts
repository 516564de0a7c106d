/**
 * Containment (issue: no caller, no hung request, no fleet can take reads down), through the real handlers, the
 * real cache and call policies, and the Key Vault call replaced at its seam (src/keyVault/testing.ts). The same
 * faults through the real SDK against loopback fixtures are in secretClient.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { configureKeyVault } from 'functions-keyvault/internal/keyVault/index.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { InMemoryVault, keyVaultError, ManualClock } from 'functions-keyvault/testing';

const VAULT = 'https://contain.vault.azure.net/';
const quiet = { warn: () => undefined, info: () => undefined };

function setup(settings: Record<string, string> = {}) {
  const vault = new InMemoryVault();
  const clock = new ManualClock();
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'app-*', ...settings }),
    fetchSecret: vault.fetch,
    clock,
    log: quiet,
  });
  return { vault, clock };
}

async function read(name: string, query = '', headers: Record<string, string> = {}) {
  const { context } = capturingContext('getSecret');
  return getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}${query}`, { name }, headers), context);
}

async function check() {
  const { context } = capturingContext('configCheck');
  return configCheckModule.configCheck(get('http://localhost/api/config/check'), context);
}

test('forced refresh: 300 sequential no-cache requests make one Key Vault call per SECRET_CACHE_MIN_REFRESH_SECONDS', async () => {
  const { vault, clock } = setup();
  vault.set('app-real', 'v1');
  assert.equal((await read('app-real')).status, 200);
  const states = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const r = await read('app-real', '', { 'cache-control': 'no-cache' });
    assert.equal(r.status, 200);
    states.add(header(r, 'x-cache') ?? '');
  }
  assert.equal(vault.calls, 1, 'no forced refresh within 5 s of the last answer');
  assert.deepEqual([...states], ['refresh-limited']);
  clock.advance(5_000);
  vault.set('app-real', 'v2');
  const forced = await read('app-real', '', { 'cache-control': 'no-cache' });
  assert.equal(body(forced).value, 'v2');
  assert.equal(header(forced, 'x-cache'), 'miss');
  assert.equal(vault.calls, 2);
});

test('forced refresh does not bypass the 404 memory either', async () => {
  const { vault } = setup();
  for (let i = 0; i < 50; i++)
    assert.equal((await read('app-missing', '', { 'cache-control': 'no-cache' })).status, 404);
  assert.equal(vault.calls, 1);
});

test('20,000 random names under an allowed prefix: calls bounded by the budget, the hot name stays cached', async () => {
  const { vault } = setup({ SECRET_CACHE_MAX_ENTRIES: '100', KEY_VAULT_BUDGET_PER_10S: '40' });
  vault.set('app-real', 'hot');
  assert.equal(header(await read('app-real'), 'x-cache'), 'miss');
  const statuses = new Map<number, number>();
  for (let i = 0; i < 20_000; i++) {
    const r = await read(`app-${i.toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
    statuses.set(r.status ?? 0, (statuses.get(r.status ?? 0) ?? 0) + 1);
  }
  assert.ok(vault.calls <= 40, `${vault.calls} Key Vault calls for 20,000 random names (budget 40 per 10 s)`);
  assert.equal(statuses.get(404), vault.calls - 1, 'names that reached Key Vault: 404');
  assert.equal(statuses.get(503), 20_000 - (vault.calls - 1), 'the rest: 503, without calling Key Vault');
  const hot = await read('app-real');
  assert.equal(hot.status, 200);
  assert.equal(header(hot, 'x-cache'), 'hit', 'misses did not evict the hot name');
});

test('budget spent: uncached names get 503 + Retry-After without a call; cached names keep answering', async () => {
  const { vault, clock } = setup({ KEY_VAULT_BUDGET_PER_10S: '2' });
  vault.set('app-a', 'a');
  vault.set('app-b', 'b');
  vault.set('app-c', 'c');
  assert.equal((await read('app-a')).status, 200);
  assert.equal((await read('app-b')).status, 200);
  const refused = await read('app-c');
  assert.equal(refused.status, 503);
  assert.equal(body(refused).kind, 'throttled');
  assert.match(String(body(refused).detail), /KEY_VAULT_BUDGET_PER_10S=2/);
  assert.equal(header(refused, 'retry-after'), '5', 'the time to the next token: 10 s / 2');
  assert.equal(vault.calls, 2);
  // Past the TTL, the budget still spent: the cached names are served stale instead of failing.
  clock.advance(301_000);
  for (let i = 0; i < 2; i++) assert.equal((await read('app-c')).status, 200); // the refilled budget reads app-c
  assert.equal(vault.calls, 3);
  assert.equal((await read('app-a')).status, 200);
  const stale = await read('app-b');
  assert.equal(stale.status, 200);
  assert.equal(header(stale, 'x-cache'), 'stale');
});

test('refusals are remembered briefly: 200 reads of a forbidden secret → 1 call; an identity refusal likewise', async () => {
  const { vault, clock } = setup();
  vault.failWith = keyVaultError(403, 'Forbidden');
  for (let i = 0; i < 200; i++) assert.equal((await read('app-forbidden')).status, 502);
  assert.equal(vault.calls, 1);
  clock.advance(5_001);
  assert.equal((await read('app-forbidden')).status, 502);
  assert.equal(vault.calls, 2, 'asked again after SECRET_CACHE_FAILURE_TTL_SECONDS');

  vault.failWith = Object.assign(new Error('x'), { name: 'AuthenticationError', statusCode: 400 });
  for (let i = 0; i < 100; i++) assert.equal((await read('app-refused')).status, 502);
  assert.equal(vault.calls, 3);
});

test('the config check probe is remembered for SECRET_CACHE_FAILURE_TTL_SECONDS', async () => {
  const { vault, clock } = setup();
  for (let i = 0; i < 10; i++) await check();
  assert.equal(vault.calls, 1);
  clock.advance(5_000);
  await check();
  assert.equal(vault.calls, 2);
});

test('a disabled secret is reported as disabled (409 SecretDisabled), not as an access problem', async () => {
  const { vault } = setup();
  vault.failWith = Object.assign(keyVaultError(403, 'Operation get is not allowed on a disabled secret.'), {
    response: {
      headers: { get: () => undefined },
      parsedBody: { error: { code: 'Forbidden', innererror: { code: 'SecretDisabled' } } },
    },
  });
  const r = await read('app-off');
  assert.equal(r.status, 409);
  assert.equal(body(r).reason, 'SecretDisabled');
  assert.doesNotMatch(String(body(r).detail), /Key Vault Secrets User/);
});

test('an expired or not-yet-valid secret is served and flagged (X-Secret-State, config check)', async () => {
  const { vault } = setup();
  vault.set('app-old', 'old', { expiresOn: new Date(Date.now() - 60_000) });
  vault.set('app-future', 'future', { notBefore: new Date(Date.now() + 3_600_000) });
  vault.set('app-fine', 'fine');
  assert.equal(header(await read('app-old'), 'x-secret-state'), 'expired');
  assert.equal(header(await read('app-future'), 'x-secret-state'), 'not-yet-valid');
  assert.equal(header(await read('app-fine'), 'x-secret-state'), undefined);
  const report = body(await check()) as { secrets: { items: Array<{ name: string; state: string }> } };
  assert.deepEqual(report.secrets.items.map((f) => `${f.name}:${f.state}`).sort(), [
    'app-fine:ok',
    'app-future:not-yet-valid',
    'app-old:expired',
  ]);
});

test('X-Cache says stale when a forced refresh fails and the cached value is served', async () => {
  const { vault, clock } = setup();
  vault.set('app-s', 'v');
  await read('app-s');
  clock.advance(5_000);
  vault.failWith = keyVaultError(429, 'Too many requests', { 'retry-after': '7' });
  const r = await read('app-s', '', { 'cache-control': 'no-cache' });
  assert.equal(r.status, 200);
  assert.equal(header(r, 'x-cache'), 'stale');
});

test('unknown or repeated query parameters: 400, and Key Vault is never called', async () => {
  const { vault } = setup();
  vault.set('app-q', 'v');
  const v = '0'.repeat(32);
  for (const query of [`?Version=${v}`, `?VERSION=${v}`, `?version[]=${v}`, `?version=${v}&version=${v}`, '?foo=1']) {
    const r = await read('app-q', query);
    assert.equal(r.status, 400, query);
    assert.equal(header(r, 'content-type'), 'application/problem+json');
  }
  assert.equal(vault.calls, 0);
  assert.equal((await read('app-q', '?code=function-key')).status, 200, 'the function key may come in the query');
});

test('references to hosts the app does not trust are never read; SecretUri with user info is invalid', async () => {
  const { vault } = setup({
    WEBSITE_INSTANCE_ID: 'in-azure', // where an unresolved reference is the platform's failure
    CONFIG_CHECK_SETTINGS: 'ELSEWHERE,USERINFO,ALLOWED',
    ELSEWHERE: '@Microsoft.KeyVault(SecretUri=https://collector.example/secrets/app-x)',
    USERINFO: '@Microsoft.KeyVault(SecretUri=https://contain.vault.azure.net@collector.example/secrets/app-x)',
    ALLOWED: '@Microsoft.KeyVault(SecretUri=https://other.vault.azure.net/secrets/app-x)',
  });
  vault.set('app-x', 'x');
  const report = body(await check()) as { settings: Array<{ name: string; state: string }> };
  const states = Object.fromEntries(report.settings.map((s) => [s.name, s.state]));
  assert.deepEqual(states, {
    ELSEWHERE: 'untrusted-reference',
    USERINFO: 'invalid-reference',
    ALLOWED: 'unresolved-reference', // under the cloud's vault DNS suffix, verification on: trusted
  });
  assert.equal(vault.calls, 2, 'the probe and the trusted reference only');
});

test('with challenge verification off, only KEY_VAULT_URL and KEY_VAULT_ALLOWED_HOSTS are trusted', async () => {
  const { vault } = setup({
    WEBSITE_INSTANCE_ID: 'in-azure',
    KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    KEY_VAULT_ALLOWED_HOSTS: 'stack.vault.local:8443',
    CONFIG_CHECK_SETTINGS: 'SAME_SUFFIX,LISTED',
    SAME_SUFFIX: '@Microsoft.KeyVault(SecretUri=https://other.vault.azure.net/secrets/app-x)',
    LISTED: '@Microsoft.KeyVault(SecretUri=https://stack.vault.local:8443/secrets/app-x)',
  });
  vault.set('app-x', 'x');
  const report = body(await check()) as { settings: Array<{ name: string; state: string }> };
  const states = Object.fromEntries(report.settings.map((s) => [s.name, s.state]));
  assert.deepEqual(states, { SAME_SUFFIX: 'untrusted-reference', LISTED: 'unresolved-reference' });
});

test('expiry warnings: a secret expiring within SECRET_EXPIRY_WARNING_DAYS is flagged; an expired one degrades health', async () => {
  const { vault } = setup({ SECRET_EXPIRY_WARNING_DAYS: '10', SECRET_CACHE_MIN_REFRESH_SECONDS: '0' });
  vault.set('app-soon', 'soon', { expiresOn: new Date(Date.now() + 5 * 86_400_000) });
  vault.set('app-later', 'later', { expiresOn: new Date(Date.now() + 20 * 86_400_000) });
  assert.equal(header(await read('app-soon'), 'x-secret-state'), 'expires-soon');
  assert.equal(header(await read('app-later'), 'x-secret-state'), undefined);
  const ok = await check();
  assert.equal(ok.status, 200, 'expiring soon is a warning, not a failure');
  const report = body(ok) as {
    secrets: { warningDays: number; items: Array<{ name: string; state: string; expiresOn: string }> };
  };
  assert.equal(report.secrets.warningDays, 10);
  const states = Object.fromEntries(report.secrets.items.map((i) => [i.name, i.state]));
  assert.deepEqual(states, { 'app-soon': 'expires-soon', 'app-later': 'ok' });
  assert.ok(report.secrets.items.every((i) => typeof i.expiresOn === 'string'));
  vault.set('app-gone', 'gone', { expiresOn: new Date(Date.now() - 1_000) });
  await read('app-gone');
  const degraded = await check();
  assert.equal(degraded.status, 503);
  assert.match(String(body(degraded).detail), /Secret app-gone has expired/);
  assert.equal(JSON.stringify(degraded.jsonBody).includes('"gone"'), false, 'no value in the report');
});
