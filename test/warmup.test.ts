/**
 * Warm-up (issue: a cold fleet serves from its first minute): first reads of the fleet's names take turns from the
 * warm-up pacer (KEY_VAULT_WARMUP_PER_10S) instead of the steady budget, wait their turn in a bounded queue instead
 * of failing at once, keep their place when the reader stops waiting, and slow down on Key Vault's 429 (AIMD).
 * Through the app's real Key Vault service on virtual time; the vault is the fetch seam.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { KeyVaultFailure, KeyVaultService, type SecretFetch } from 'functions-keyvault/internal/keyVault/index.js';
import { secretRecord } from 'functions-keyvault/testing';
import { WARMUP_QUEUE_MS } from 'functions-keyvault/internal/keyVault/callPolicy.js';
import { settle, VirtualTimers } from './support/virtualTimers.js';

const VAULT = 'https://warm.vault.azure.net/';
const V1 = '1'.repeat(32);

function setup(env: Record<string, string>, answer?: (name: string) => Error | undefined) {
  const timers = new VirtualTimers();
  const gets: Array<{ name: string; at: number }> = [];
  const fetchSecret: SecretFetch = (_vault, name) =>
    Promise.resolve().then(() => {
      gets.push({ name, at: timers.ms });
      const error = answer?.(name);
      if (error) throw error;
      return secretRecord(name, `value-of-${name}`, V1);
    });
  const config = parseConfig({ KEY_VAULT_URL: VAULT, ...env });
  assert.deepEqual(config.problems, []);
  const service = new KeyVaultService({
    config,
    fetchSecret,
    clock: timers,
    schedule: timers.schedule,
    random: () => 0.5,
    log: { warn: () => undefined, info: () => undefined },
  });
  return { timers, gets, service };
}

/** The service with its engine loaded (its modules are imported on first use: real I/O, outside virtual time). */
async function ready(env: Record<string, string>, answer?: (name: string) => Error | undefined) {
  const s = setup(env, answer);
  await s.service.checkVersions([]);
  return s;
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `app-${i}`);

test('a large fleet: first reads of the fleet names wait their turn at the warm-up pace instead of failing at once', async () => {
  // A 1,000-instance share: budget 0.4 per 10 s, warm-up 3.2 per 10 s (one turn every 3.125 s).
  const all = names(6);
  const { timers, gets, service } = await ready({
    SECRETS_ALLOWED: all.join(','),
    KEY_VAULT_BUDGET_PER_10S: '0.4',
    KEY_VAULT_WARMUP_PER_10S: '3.2',
    KEY_VAULT_TIMEOUT_MS: '4000',
  });
  const outcomes = new Map<string, string>();
  for (const name of all) {
    service.read({ vaultUrl: VAULT, name }).then(
      (r) => outcomes.set(name, r.cache),
      (e: KeyVaultFailure) => outcomes.set(name, `${e.kind}:${e.errorCode}`),
    );
  }
  await timers.advance(0);
  assert.equal(gets.length, 0, 'the first turn is jittered (half an interval here), nothing fails at once');
  assert.equal(outcomes.size, 0);
  await timers.advance(4_100);
  assert.deepEqual(
    gets.map((g) => Math.round(g.at - 1_000_000)),
    [1_563],
    'one turn within the timeout: 1.56 s (jitter), the next at 4.69 s',
  );
  assert.equal(outcomes.get('app-0'), 'miss');
  assert.equal(outcomes.get('app-1'), 'throttled:WarmupWaiting', 'a reader waits KEY_VAULT_TIMEOUT_MS (+ 0.1 s)');
  // The loads kept their places: one call per turn, 3.125 s apart, and every value is in memory after its turn.
  await timers.advance(20_000);
  assert.deepEqual(
    gets.map((g) => Math.round(g.at - 1_000_000)),
    [1_563, 4_688, 7_813, 10_938, 14_063, 17_188],
  );
  for (const name of all) assert.equal((await service.read({ vaultUrl: VAULT, name })).cache, 'hit', name);
  assert.equal(gets.length, 6, 'no Key Vault call for the reads that found the loads done');
});

test('names the fleet is not known to use (a prefix in SECRETS_ALLOWED) still spend the budget and fail at once', async () => {
  const { timers, gets, service } = await ready({
    SECRETS_ALLOWED: 'app-*',
    KEY_VAULT_BUDGET_PER_10S: '2',
    KEY_VAULT_WARMUP_PER_10S: '400',
  });
  const results = await Promise.allSettled(names(5).map((name) => service.read({ vaultUrl: VAULT, name })));
  await timers.advance(0);
  assert.equal(gets.length, 2, 'the budget of 2, not the warm-up allowance');
  const refused = results.filter((r) => r.status === 'rejected');
  assert.equal(refused.length, 3);
  for (const r of refused) assert.equal((r.reason as KeyVaultFailure).errorCode, 'InstanceBudgetSpent');
});

test('the queue is bounded: a turn more than 5 minutes away is refused at once', async () => {
  const all = names(6);
  // 0.1 per 10 s: a turn every 100 s; 300 s of queue holds the first four turns (jittered 50 s, 150, 250, ...).
  const { timers, gets, service } = await ready({
    SECRETS_ALLOWED: all.join(','),
    KEY_VAULT_BUDGET_PER_10S: '0.1',
    KEY_VAULT_WARMUP_PER_10S: '0.1',
  });
  const outcomes = new Map<string, string>();
  for (const name of all) {
    service.read({ vaultUrl: VAULT, name }).then(
      () => outcomes.set(name, 'value'),
      (e: KeyVaultFailure) => outcomes.set(name, e.errorCode ?? e.kind),
    );
  }
  await timers.advance(0);
  assert.equal(WARMUP_QUEUE_MS, 300_000);
  assert.equal(outcomes.get('app-3'), 'InstanceBudgetSpent', 'its turn would be at 350 s');
  assert.equal(outcomes.get('app-4'), 'InstanceBudgetSpent');
  await timers.advance(400_000);
  assert.equal(gets.length, 3, 'the three queued loads, each at its turn');
});

test("Key Vault's 429 halves the warm-up pace and moves the next turn past Retry-After; the pace grows back", async () => {
  const all = names(4);
  let throttle = true;
  const { timers, gets, service } = await ready(
    { SECRETS_ALLOWED: all.join(','), KEY_VAULT_BUDGET_PER_10S: '1', KEY_VAULT_WARMUP_PER_10S: '10' },
    () =>
      throttle
        ? new KeyVaultFailure('throttled', 'Key Vault is throttling requests (429).', {
            statusCode: 429,
            retryAfterSeconds: 7,
          })
        : undefined,
  );
  const pace = () => service.stats().vaults[VAULT]!.warmupPer10s;
  await assert.rejects(service.read({ vaultUrl: VAULT, name: 'app-0' }), { kind: 'throttled' });
  assert.equal(pace(), 5, 'halved');
  throttle = false;
  const started = timers.ms;
  const next = service.read({ vaultUrl: VAULT, name: 'app-1' });
  next.catch(() => undefined); // asserted below
  await timers.advance(6_000);
  assert.equal(gets.length, 1, 'nothing before the Retry-After');
  await assert.rejects(next, { errorCode: 'WarmupWaiting' }, 'the reader waited its 5 s, the load keeps its turn');
  await timers.advance(2_000);
  assert.equal(gets.length, 2);
  assert.ok(gets[1]!.at - started >= 7_000, 'the next turn came after the 7 s Retry-After');
  assert.equal((await service.read({ vaultUrl: VAULT, name: 'app-1' })).cache, 'hit', 'and its value is in memory');
  await timers.advance(100_000);
  assert.equal(pace(), 10, 'back to KEY_VAULT_WARMUP_PER_10S after about 100 s without a 429');
  await settle();
});
