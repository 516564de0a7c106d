/**
 * Rotation notices (`keyVault().secretRotated`, the seam the event function and a fleet-wide rotation ledger call):
 * merged and rate-limited, never spending what reads need, never dropping the last good value before the new one is
 * in hand. Through the real handlers (secretEvents, getSecret), the real cache and call policies, an injected clock,
 * and the Key Vault call replaced at its seam (src/keyVault/testing.ts, which counts calls).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { SECRET_NEW_VERSION_CREATED } from 'functions-keyvault/internal/events/keyVaultEvents.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import * as secretEventsModule from '../src/functions/secretEvents.js';
import { configureKeyVault, keyVault } from 'functions-keyvault/internal/keyVault/index.js';
import { asDelivered, keyVaultEvent } from './support/keyVaultEvents.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { InMemoryVault, keyVaultError, ManualClock } from 'functions-keyvault/testing';

const VAULT = 'https://kv-rotation.vault.azure.net/';
const quiet = { warn: () => undefined, info: () => undefined };

function setup(settings: Record<string, string> = {}) {
  const vault = new InMemoryVault();
  const clock = new ManualClock();
  const warnings: string[] = [];
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'app-*', ...settings }),
    fetchSecret: vault.fetch,
    clock,
    log: { ...quiet, warn: (m) => void warnings.push(m) },
  });
  return { vault, clock, warnings };
}

async function read(name: string) {
  const { context } = capturingContext('getSecret');
  return getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}`, { name }), context);
}

/** Let background work (a re-read a notice started) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** One SecretNewVersionCreated event through the function, as Event Grid delivers it; returns its log lines. */
async function deliver(name: string, version: string): Promise<string[]> {
  const { context, lines } = capturingContext('secretEvents');
  const event = keyVaultEvent('EventGridSchema', { type: SECRET_NEW_VERSION_CREATED, vaultUrl: VAULT, name, version });
  await secretEventsModule.secretEvents(asDelivered(event), context);
  await settle();
  return lines;
}

test('a flood of 200 rotation events 20 ms apart for one cached name: ≤ 10 GETs, every read answers 200', async () => {
  const { vault, clock } = setup();
  vault.set('app-db', 'v0');
  assert.equal((await read('app-db')).status, 200);
  let latest = '';
  const statuses = new Map<number, number>();
  for (let i = 0; i < 200; i++) {
    latest = vault.set('app-db', `v${i + 1}`).version!;
    clock.advance(20);
    await deliver('app-db', latest);
    const r = await read('app-db');
    statuses.set(r.status ?? 0, (statuses.get(r.status ?? 0) ?? 0) + 1);
  }
  assert.deepEqual([...statuses], [[200, 200]], 'every ordinary read during the flood answered 200');
  assert.ok(vault.calls <= 10, `${vault.calls} Key Vault GETs for 200 events (expected ≤ 10)`);
  // The notices were merged, not lost: the first read after SECRET_CACHE_MIN_REFRESH_SECONDS has the last version.
  clock.advance(5_000);
  const after = await read('app-db');
  assert.equal(body(after).version, latest);
  assert.equal(body(after).value, 'v200');
  assert.ok(vault.calls <= 10, `${vault.calls} Key Vault GETs in all`);
  // The budget is intact: a name never read before is read at once.
  vault.set('app-other', 'x');
  assert.equal((await read('app-other')).status, 200);
  assert.equal(keyVault().stats().vaults[VAULT]?.budgetRefusals, 0);
});

test('a rotation event outside the rate-limit window re-reads at once, in the background (one GET)', async () => {
  const { vault, clock } = setup();
  vault.set('app-db', 'old');
  await read('app-db');
  clock.advance(5_000);
  const rotated = vault.set('app-db', 'new');
  const lines = await deliver('app-db', rotated.version!);
  assert.match(lines[0]!, /re-reading it in the background; the value held is served until the new one arrives/);
  assert.equal(vault.calls, 2);
  const r = await read('app-db');
  assert.deepEqual([body(r).value, header(r, 'x-cache'), vault.calls], ['new', 'hit', 2]);
});

test('an event naming the version already held costs nothing; a name never read costs nothing', async () => {
  const { vault, clock } = setup();
  const held = vault.set('app-db', 'v');
  await read('app-db');
  clock.advance(60_000);
  assert.match((await deliver('app-db', held.version!))[0]!, /already holds that version/);
  assert.match((await deliver('app-never', held.version!))[0]!, /not cached on this instance/);
  assert.equal(vault.calls, 1);
  // The seam itself, as a ledger would call it: version in any case, or none.
  assert.equal(keyVault().secretRotated(VAULT, 'APP-DB', held.version!.toUpperCase()), 'current');
  assert.equal(keyVault().secretRotated(VAULT, 'app-never'), 'not-cached');
  assert.equal(vault.calls, 1);
});

test('rotation events for many names never make reads fail with InstanceBudgetSpent', async () => {
  const { vault, clock } = setup({ KEY_VAULT_BUDGET_PER_10S: '10' });
  for (let i = 0; i < 8; i++) vault.set(`app-held-${i}`, `held-${i}`);
  for (let i = 0; i < 8; i++) assert.equal((await read(`app-held-${i}`)).status, 200);
  clock.advance(10_000); // the budget refills to 10
  for (let i = 0; i < 8; i++) await deliver(`app-held-${i}`, vault.set(`app-held-${i}`, `new-${i}`).version!);
  const cold = [];
  for (let i = 0; i < 5; i++) {
    vault.set(`app-cold-${i}`, `cold-${i}`);
    cold.push((await read(`app-cold-${i}`)).status);
  }
  assert.deepEqual(cold, [200, 200, 200, 200, 200], 'names never read before are still read');
  for (let i = 0; i < 8; i++) assert.equal((await read(`app-held-${i}`)).status, 200);
  assert.ok(vault.calls <= 8 + 8 + 5, `${vault.calls} calls`);
});

test('an event during an outage keeps the last good value: served as stale, within SECRET_CACHE_MAX_STALE_SECONDS', async () => {
  const { vault, clock, warnings } = setup({ SECRET_CACHE_TTL_SECONDS: '60', SECRET_CACHE_MAX_STALE_SECONDS: '120' });
  vault.set('app-db', 'last-good');
  await read('app-db');
  clock.advance(5_000);
  vault.failWith = keyVaultError(503, 'Service Unavailable');
  const rotated = vault.set('app-db', 'rotated');
  await deliver('app-db', rotated.version!);
  assert.equal(vault.calls, 2, 'the re-read was tried');

  const during = await read('app-db');
  assert.equal(during.status, 200);
  assert.equal(body(during).value, 'last-good');
  assert.equal(header(during, 'x-cache'), 'stale', 'known superseded: said so');
  assert.equal(warnings.filter((w) => /rotation notice failed \(service-error\)/.test(w)).length, 1);
  assert.ok(
    warnings.every((w) => !w.includes('last-good') && !w.includes('rotated')),
    'no value logged',
  );

  // A forged or repeated notice during the outage changes nothing either.
  for (let i = 0; i < 20; i++) {
    clock.advance(20);
    await deliver('app-db', rotated.version!);
  }
  assert.equal(body(await read('app-db')).value, 'last-good');

  // Past the TTL, still failing: served stale until TTL + SECRET_CACHE_MAX_STALE_SECONDS...
  clock.advance(100_000);
  const late = await read('app-db');
  assert.deepEqual([late.status, body(late).value, header(late, 'x-cache')], [200, 'last-good', 'stale']);
  // ...and not after.
  clock.advance(90_000);
  assert.equal((await read('app-db')).status, 503);
  assert.ok(vault.calls < 20, `${vault.calls} calls`);
});

test('after the outage the rotated value replaces the last good one', async () => {
  const { vault, clock } = setup({ SECRET_CACHE_TTL_SECONDS: '60' });
  vault.set('app-db', 'last-good');
  await read('app-db');
  clock.advance(5_000);
  vault.failWith = keyVaultError(503, 'Service Unavailable');
  const rotated = vault.set('app-db', 'rotated');
  await deliver('app-db', rotated.version!);
  assert.equal(body(await read('app-db')).value, 'last-good');
  vault.failWith = undefined;
  clock.advance(5_000); // the stale retry interval, and the rate-limit window
  const first = await read('app-db');
  assert.equal(first.status, 200);
  await settle();
  const r = await read('app-db');
  assert.deepEqual([body(r).value, body(r).version], ['rotated', rotated.version]);
});

test('a deferred notice is acted on by the first read after the window, even with no further event', async () => {
  const { vault, clock } = setup();
  vault.set('app-db', 'old');
  await read('app-db');
  clock.advance(1_000);
  const rotated = vault.set('app-db', 'new');
  assert.match((await deliver('app-db', rotated.version!))[0]!, /merged with a re-read made moments ago/);
  assert.equal(vault.calls, 1, 'within SECRET_CACHE_MIN_REFRESH_SECONDS of the last answer: no GET yet');
  assert.equal(body(await read('app-db')).value, 'old');
  clock.advance(4_000);
  const r = await read('app-db');
  assert.deepEqual([body(r).value, header(r, 'x-cache'), vault.calls], ['new', 'miss', 2]);
  assert.equal(body(await read('app-db')).value, 'new');
  assert.equal(vault.calls, 2);
});
