import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CacheSettings, type CallSettings, parseConfig } from 'functions-keyvault/internal/config.js';
import { VaultCalls } from 'functions-keyvault/internal/keyVault/callPolicy.js';
import type { KeyVaultFailure } from 'functions-keyvault/internal/keyVault/failure.js';
import { SecretCache } from 'functions-keyvault/internal/keyVault/secretCache.js';
import { InMemoryVault, keyVaultError, ManualClock } from 'functions-keyvault/testing';

const VAULT = 'https://unit.vault.azure.net/';

const DEFAULTS = parseConfig({});

/** The cache policy over the call policy, both real, with the Key Vault call replaced at its seam. */
function setup(policy: Partial<CacheSettings & CallSettings> = {}, random = () => 0) {
  const vault = new InMemoryVault();
  const clock = new ManualClock();
  const warnings: string[] = [];
  const infos: string[] = [];
  const p = {
    ...DEFAULTS.cache,
    ...DEFAULTS.calls,
    ttlMs: 60_000,
    maxStaleMs: 600_000,
    negativeTtlMs: 10_000,
    ...policy,
  };
  const calls = new VaultCalls(
    vault.fetch,
    {
      timeoutMs: p.timeoutMs,
      maxConcurrency: p.maxConcurrency,
      budgetPer10s: p.budgetPer10s,
      warmupPer10s: p.warmupPer10s,
    },
    clock,
  );
  const cache = new SecretCache(
    (ref) => calls.call(ref),
    {
      ttlMs: p.ttlMs,
      maxStaleMs: p.maxStaleMs,
      negativeTtlMs: p.negativeTtlMs,
      failureTtlMs: p.failureTtlMs,
      minRefreshMs: p.minRefreshMs,
      maxEntries: p.maxEntries,
    },
    { warn: (m) => warnings.push(m), info: (m) => infos.push(m) },
    clock,
    random,
  );
  const store = {
    read: cache.read.bind(cache),
    stats: () => ({ ...cache.stats(), vaults: calls.snapshot() }),
  };
  return { vault, clock, store, warnings, infos, cache };
}

test('miss then hit; one Key Vault call', async () => {
  const { vault, store } = setup();
  vault.set('db', 'v1');
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'db' })).cache, 'miss');
  const second = await store.read({ vaultUrl: VAULT, name: 'DB' });
  assert.equal(second.cache, 'hit');
  assert.equal(second.record.value, 'v1');
  assert.equal(vault.calls, 1);
});

test('1,000 concurrent cold reads of one name make exactly one Key Vault call and share its result', async () => {
  const { vault, store } = setup();
  vault.set('hot', 'value');
  vault.delayMs = 20;
  const reads = await Promise.all(Array.from({ length: 1000 }, () => store.read({ vaultUrl: VAULT, name: 'hot' })));
  assert.equal(vault.calls, 1);
  assert.ok(reads.every((r) => r.record.value === 'value'));
});

test('concurrent cold reads share the error too', async () => {
  const { vault, store } = setup();
  vault.failWith = keyVaultError(403, 'Forbidden');
  vault.delayMs = 10;
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, () => store.read({ vaultUrl: VAULT, name: 'x' })),
  );
  assert.equal(vault.calls, 1);
  assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as KeyVaultFailure).kind === 'access-denied'));
});

test('rotation is seen once the TTL has passed', async () => {
  const { vault, clock, store } = setup();
  vault.set('rot', 'old');
  await store.read({ vaultUrl: VAULT, name: 'rot' });
  vault.set('rot', 'new');
  clock.advance(30_000);
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'rot' })).record.value, 'old');
  clock.advance(30_001);
  const after = await store.read({ vaultUrl: VAULT, name: 'rot' });
  assert.equal(after.record.value, 'new');
  assert.equal(after.cache, 'miss');
});

test('refresh ahead: a read late in the TTL is served from memory and refreshes in the background', async () => {
  const { vault, clock, store } = setup({}, () => 0); // refresh point at 75% of the TTL
  vault.set('ahead', 'old');
  await store.read({ vaultUrl: VAULT, name: 'ahead' });
  vault.set('ahead', 'new');
  clock.advance(50_000); // 83% of the TTL: inside the refresh-ahead window
  const inWindow = await store.read({ vaultUrl: VAULT, name: 'ahead' });
  assert.equal(inWindow.cache, 'hit');
  assert.equal(inWindow.record.value, 'old');
  await new Promise((r) => setImmediate(r));
  assert.equal(vault.calls, 2);
  const next = await store.read({ vaultUrl: VAULT, name: 'ahead' });
  assert.equal(next.record.value, 'new');
  assert.equal(next.cache, 'hit');
});

test('refresh-ahead points carry jitter', async () => {
  const early = setup({}, () => 0);
  const late = setup({}, () => 0.99);
  for (const { vault, store } of [early, late]) {
    vault.set('j', 'v');
    await store.read({ vaultUrl: VAULT, name: 'j' });
  }
  early.clock.advance(46_000);
  late.clock.advance(46_000);
  await early.store.read({ vaultUrl: VAULT, name: 'j' });
  await late.store.read({ vaultUrl: VAULT, name: 'j' });
  await new Promise((r) => setImmediate(r));
  assert.equal(early.vault.calls, 2, 'random 0 refreshes from 75% of the TTL');
  assert.equal(late.vault.calls, 1, 'random 0.99 waits until ~95% of the TTL');
});

test('backstop TTL: the first refresh of a value read anew is spread widely, later ones fall near expiry', async () => {
  const { vault, clock, store, cache } = setup({}, () => 0); // the earliest point of each window
  cache.setTtl(600_000); // a backstop TTL (longer than SECRET_CACHE_TTL_SECONDS, 60 s here)
  vault.set('b', 'v1');
  await store.read({ vaultUrl: VAULT, name: 'b' });
  /** Advance, read (a refresh it starts runs in the background), and count Key Vault's calls. */
  const after = async (ms: number) => {
    clock.advance(ms);
    await store.read({ vaultUrl: VAULT, name: 'b' });
    await new Promise((r) => setImmediate(r));
    return vault.calls;
  };
  assert.equal(await after(149_000), 1, 'not before 25% of the TTL');
  assert.equal(await after(1_001), 2, 'the first refresh at 25% of the TTL (150 s)');
  // The value that refresh returned is refreshed again from 85% of the TTL (510 s later), not from 25%.
  assert.equal(await after(509_000), 2, 'a refreshed value is not refreshed before 85% of the TTL');
  assert.equal(await after(1_001), 3, 'the second refresh at 85% of the TTL');
});

test('force fresh bypasses the cached value', async () => {
  const { vault, clock, store } = setup();
  vault.set('f', 'old');
  await store.read({ vaultUrl: VAULT, name: 'f' });
  vault.set('f', 'new');
  clock.advance(5_000); // forced refreshes are allowed once SECRET_CACHE_MIN_REFRESH_SECONDS (5) have passed
  const forced = await store.read({ vaultUrl: VAULT, name: 'f' }, { forceRefresh: true });
  assert.equal(forced.record.value, 'new');
  assert.equal(forced.cache, 'miss');
  assert.equal(vault.calls, 2);
});

const settle = () => new Promise((r) => setImmediate(r));

test('stale-if-error: transient failures serve the last good value, warn once per streak, and recover', async () => {
  const { vault, clock, store, warnings, infos } = setup();
  vault.set('s', 'pa55-w0rd-123');
  await store.read({ vaultUrl: VAULT, name: 's' });
  clock.advance(61_000);
  vault.failWith = keyVaultError(503, 'Service Unavailable');
  const stale = await store.read({ vaultUrl: VAULT, name: 's' });
  assert.equal(stale.cache, 'stale');
  assert.equal(stale.record.value, 'pa55-w0rd-123');
  assert.equal(vault.calls, 2);

  // Within the retry interval: served from memory, Key Vault is not asked again.
  assert.equal((await store.read({ vaultUrl: VAULT, name: 's' })).cache, 'stale');
  assert.equal(vault.calls, 2);

  // After it: still served at once (no caller waits on a failing Key Vault); one background retry.
  clock.advance(6_000);
  vault.failWith = Object.assign(new Error('no token'), { name: 'CredentialUnavailableError' });
  assert.equal((await store.read({ vaultUrl: VAULT, name: 's' })).cache, 'stale');
  await settle();
  assert.equal(vault.calls, 3);
  assert.equal(warnings.length, 1, 'one warning per key per failure streak');
  assert.match(warnings[0]!, /secret "s"/);
  assert.doesNotMatch(warnings[0]!, /pa55-w0rd-123/, 'the warning never carries the value');
  assert.equal(store.stats().staleServes, 3);
  assert.equal(store.stats().vaults[VAULT]?.lastError?.kind, 'identity-unavailable');

  // Recovery: the next retry succeeds in the background and the following reads are fresh hits.
  vault.failWith = undefined;
  vault.set('s', 'rotated');
  clock.advance(6_000);
  await store.read({ vaultUrl: VAULT, name: 's' });
  await settle();
  const recovered = await store.read({ vaultUrl: VAULT, name: 's' });
  assert.equal(recovered.record.value, 'rotated');
  assert.equal(recovered.cache, 'hit');
  assert.equal(infos.length, 1);
});

test('a failed refresh ahead within the TTL keeps serving the value as fresh', async () => {
  const { vault, clock, store, warnings } = setup();
  vault.set('fa', 'v');
  await store.read({ vaultUrl: VAULT, name: 'fa' });
  vault.failWith = keyVaultError(500, 'boom');
  clock.advance(50_000); // refresh-ahead window, TTL not over
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'fa' })).cache, 'hit');
  await settle();
  assert.equal(vault.calls, 2, 'the background refresh was tried');
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'fa' })).cache, 'hit');
  assert.equal(warnings.length, 0);
  assert.equal(store.stats().staleServes, 0);
});

test('a TTL of 0 asks Key Vault once per read, not twice', async () => {
  const { vault, store } = setup({ ttlMs: 0, negativeTtlMs: 0 });
  vault.set('z', 'v');
  await store.read({ vaultUrl: VAULT, name: 'z' });
  assert.equal(vault.calls, 1);
  await assert.rejects(store.read({ vaultUrl: VAULT, name: 'nope' }));
  assert.equal(vault.calls, 2);
});

test('a read whose key is evicted while in flight still gets its value', async () => {
  const { vault, store } = setup({ maxEntries: 1 });
  vault.delayMs = 5;
  for (const n of ['e1', 'e2', 'e3']) vault.set(n, n);
  const reads = await Promise.all(['e1', 'e2', 'e3'].map((name) => store.read({ vaultUrl: VAULT, name })));
  assert.deepEqual(
    reads.map((r) => r.record.value),
    ['e1', 'e2', 'e3'],
  );
});

test('stale serving stops at the maximum staleness', async () => {
  const { vault, clock, store } = setup({ maxStaleMs: 10_000 });
  vault.set('m', 'good');
  await store.read({ vaultUrl: VAULT, name: 'm' });
  vault.failWith = keyVaultError(500, 'boom');
  clock.advance(65_000);
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'm' })).cache, 'stale');
  clock.advance(10_000);
  await assert.rejects(store.read({ vaultUrl: VAULT, name: 'm' }), (e: KeyVaultFailure) => e.kind === 'service-error');
});

test('403 evicts: a revoked secret is never served stale', async () => {
  const { vault, clock, store } = setup();
  vault.set('r', 'secret');
  await store.read({ vaultUrl: VAULT, name: 'r' });
  clock.advance(61_000);
  vault.failWith = keyVaultError(403, 'Forbidden');
  await assert.rejects(store.read({ vaultUrl: VAULT, name: 'r' }), (e: KeyVaultFailure) => e.kind === 'access-denied');
  vault.failWith = keyVaultError(503, 'down');
  // The refusal is remembered for SECRET_CACHE_FAILURE_TTL_SECONDS (5): no Key Vault call, still refused.
  const calls = vault.calls;
  await assert.rejects(store.read({ vaultUrl: VAULT, name: 'r' }), (e: KeyVaultFailure) => e.kind === 'access-denied');
  assert.equal(vault.calls, calls);
  clock.advance(5_001);
  await assert.rejects(store.read({ vaultUrl: VAULT, name: 'r' }), (e: KeyVaultFailure) => e.kind === 'service-error');
});

test('404 evicts and is negative-cached for a short time', async () => {
  const { vault, clock, store } = setup();
  vault.set('gone', 'x');
  await store.read({ vaultUrl: VAULT, name: 'gone' });
  vault.delete('gone');
  clock.advance(61_000);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(
      store.read({ vaultUrl: VAULT, name: 'gone' }),
      (e: KeyVaultFailure) => e.kind === 'secret-not-found',
    );
  }
  assert.equal(vault.calls, 2, 'the 404 is cached');
  clock.advance(10_001);
  vault.set('gone', 'back');
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'gone' })).record.value, 'back');
});

test('pinned versions: the value is immutable, but access to it is revalidated at the TTL', async () => {
  const { vault, clock, store } = setup();
  const v1 = vault.set('p', 'one');
  vault.set('p', 'two');
  const pinned = await store.read({ vaultUrl: VAULT, name: 'p', version: v1.version! });
  assert.equal(pinned.record.value, 'one');
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'p', version: v1.version! })).cache, 'hit');
  assert.equal(vault.calls, 1);
  clock.advance(61_000);
  const revalidated = await store.read({ vaultUrl: VAULT, name: 'p', version: v1.version! });
  assert.equal(revalidated.record.value, 'one');
  assert.equal(vault.calls, 2, 'one GET of that version per TTL');
  // Access revoked: the pinned value is no longer served, not even stale.
  vault.failWith = keyVaultError(403, 'Forbidden');
  clock.advance(61_000);
  await assert.rejects(
    store.read({ vaultUrl: VAULT, name: 'p', version: v1.version! }),
    (e: KeyVaultFailure) => e.kind === 'access-denied',
  );
  vault.failWith = undefined;
  await assert.rejects(
    store.read({ vaultUrl: VAULT, name: 'p', version: 'f'.repeat(32) }),
    (e: KeyVaultFailure) => e.kind === 'version-not-found',
  );
});

test('per-call timeout fails fast with a timeout failure', async () => {
  const { vault, store } = setup({ timeoutMs: 30 });
  vault.hang = true;
  await assert.rejects(store.read({ vaultUrl: VAULT, name: 'slow' }), (e: KeyVaultFailure) => e.kind === 'timeout');
});

test('Key Vault concurrency is bounded per vault', async () => {
  const { vault, store } = setup({ maxConcurrency: 3 });
  vault.delayMs = 5;
  for (let i = 0; i < 20; i++) vault.set(`n${i}`, 'v');
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.read({ vaultUrl: VAULT, name: `n${i}` })));
  assert.equal(vault.calls, 20);
  assert.equal(vault.maxInFlight, 3);
});

test('memory is bounded: least recently used entries are evicted', async () => {
  const { vault, store } = setup({ maxEntries: 2 });
  for (const n of ['a', 'b', 'c']) vault.set(n, n);
  await store.read({ vaultUrl: VAULT, name: 'a' });
  await store.read({ vaultUrl: VAULT, name: 'b' });
  await store.read({ vaultUrl: VAULT, name: 'a' });
  await store.read({ vaultUrl: VAULT, name: 'c' });
  assert.equal(store.stats().entries, 2);
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'a' })).cache, 'hit');
  assert.equal((await store.read({ vaultUrl: VAULT, name: 'b' })).cache, 'miss');
});

test('statistics count hits, misses and Key Vault calls, never values', async () => {
  const { vault, store } = setup();
  vault.set('a', 'super-secret-value');
  await store.read({ vaultUrl: VAULT, name: 'a' });
  await store.read({ vaultUrl: VAULT, name: 'a' });
  const stats = store.stats();
  assert.equal(stats.hits, 1);
  assert.equal(stats.misses, 1);
  assert.equal(stats.vaults[VAULT]?.keyVaultCalls, 1);
  assert.doesNotMatch(JSON.stringify(stats), /super-secret-value/);
});
