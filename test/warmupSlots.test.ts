/**
 * The fleet's warm-up slots (src/ledger/warmupSlots.ts): the app's real Key Vault service and WarmupSlots per
 * instance, on virtual time, with the slots' blob leases modelled (scripts/ledgerModel.ts; the real leases against
 * Azurite: test/ledger.azurite.test.ts) and the vault at the service's fetch seam.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LedgerModel } from '../scripts/ledgerModel.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { KeyVaultService, type SecretFetch } from 'functions-keyvault/internal/keyVault/index.js';
import { secretRecord } from 'functions-keyvault/testing';
import { SLOT_LEASE_SECONDS, UNAVAILABLE_MS, WarmupSlots } from 'functions-keyvault/internal/ledger/warmupSlots.js';
import { VirtualTimers } from './support/virtualTimers.js';

const VAULT = 'https://slots.vault.azure.net/';
const NAMES = Array.from({ length: 20 }, (_, i) => `s${i}`);

function world() {
  const timers = new VirtualTimers();
  const store = new LedgerModel(() => timers.ms);
  const fetched: Array<{ name: string; at: number }> = [];
  const fetchSecret: SecretFetch = (_vault, name) =>
    Promise.resolve().then(() => {
      fetched.push({ name, at: timers.ms });
      return secretRecord(name, `value-of-${name}`, '1'.repeat(32));
    });
  return { timers, store, fetched, fetchSecret };
}

/** One instance: a slow per-instance warm-up pace (1 call per 10 s) and, unless `slots` is false, the fleet's slots. */
async function instance(w: ReturnType<typeof world>, id: string, { slots = true, count = 1 } = {}) {
  const service = new KeyVaultService({
    config: parseConfig({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: NAMES.join(','), KEY_VAULT_WARMUP_PER_10S: '1' }),
    fetchSecret: (vault, name, version, signal) =>
      w.fetchSecret(vault, name, version, signal).then((r) => {
        calls.push(name);
        return r;
      }),
    clock: w.timers,
    schedule: w.timers.schedule,
    random: () => 0.5,
    log: { warn: () => undefined, info: () => undefined },
  });
  const calls: string[] = [];
  const gate = new WarmupSlots({
    store: w.store,
    timeoutMs: 1_000,
    clock: w.timers,
    schedule: w.timers.schedule,
    random: () => 0.5,
    leaseId: id,
    slots: count,
  });
  if (slots) service.useWarmupSlots(gate);
  await service.checkVersions([]); // loads the engine (real module imports) before virtual time runs
  const read = (name: string) => service.read({ vaultUrl: VAULT, name });
  return { service, gate, calls, read };
}

test('with a slot, one first read warms every name the fleet uses at the slot pace, then the slot is released', async () => {
  const w = world();
  const a = await instance(w, 'a');
  // The ledger is outside input: a name it lists that this app does not use, or in another vault, is never read.
  a.service.noteFleetSecrets([
    { vaultUrl: VAULT, name: 'not-allowed' },
    { vaultUrl: 'https://other.vault.azure.net/', name: 's1' },
  ]);
  const first = a.read('s7');
  await w.timers.advance(0);
  assert.equal(w.store.slotHolder(0), 'a', 'the first read took the slot');
  await w.timers.advance(100);
  assert.equal((await first).record.value, 'value-of-s7');
  assert.equal(a.calls[0], 's7', 'the name asked for first');
  await w.timers.advance(1_400);
  assert.equal(a.calls.length, NAMES.length, '20 names within 1.5 s (SLOT_PER_10S = 20 per second)');
  assert.deepEqual([...a.calls].sort(), [...NAMES].sort(), 'every name of SECRETS_ALLOWED, once; nothing else');
  assert.equal(w.store.slotHolder(0), undefined, 'released once warm');
  const before = w.store.slotRequests;
  for (const name of NAMES) assert.equal((await a.read(name)).cache, 'hit');
  await w.timers.advance(10_000);
  assert.equal(w.store.slotRequests, before, 'a warm instance asks for no slot');
});

test('without the slots (no ledger) the same first reads keep the per-instance pace', async () => {
  const w = world();
  const a = await instance(w, 'a', { slots: false });
  for (const name of NAMES) void a.read(name).catch(() => undefined);
  await w.timers.advance(1_500);
  assert.ok(a.calls.length <= 2, `at 1 call per 10 s, ${a.calls.length} call(s) in 1.5 s`);
  assert.equal(w.store.slotRequests, 0);
});

test('one slot per holder: a second instance waits while the slot is taken and takes it once it is free', async () => {
  const w = world();
  const a = await instance(w, 'a');
  const b = await instance(w, 'b');
  void a.read('s0');
  await w.timers.advance(0);
  const waiting = b.read('s0').then(
    () => 'value',
    () => 'failed',
  );
  await w.timers.advance(100);
  assert.equal(w.store.slotHolder(0), 'a');
  assert.equal(b.calls.length, 0, 'b makes no Key Vault call without a slot (no slow pace beside the slots)');
  await w.timers.advance(4_000);
  assert.ok(a.calls.length === NAMES.length, 'a is warm');
  assert.ok(b.calls.length > 0, 'b took the slot after a released it');
  assert.equal(await waiting, 'value', "b's first read got its value within KEY_VAULT_TIMEOUT_MS");
  await w.timers.advance(2_000);
  assert.equal(b.calls.length, NAMES.length);
  assert.equal(w.store.slotHolder(0), undefined);
});

test('a holder that dies frees its slot when its lease expires; a long warm-up renews it', async () => {
  const w = world();
  const dead = new WarmupSlots({
    store: w.store,
    timeoutMs: 1_000,
    clock: w.timers,
    schedule: () => () => undefined, // a dead process: its timers never fire, nothing renews or releases
    leaseId: 'dead',
    slots: 1,
  });
  assert.equal(await dead.enter(1_000), 'held');
  const b = await instance(w, 'b');
  const entered = b.gate.enter(60_000);
  await w.timers.advance(SLOT_LEASE_SECONDS * 1000 - 1_000);
  assert.equal(w.store.slotHolder(0), 'dead', 'still held before the lease expires');
  await w.timers.advance(2_500);
  assert.equal(await entered, 'held', 'taken over once the lease expired');
  assert.equal(w.store.slotHolder(0), 'b');
  assert.equal(dead.held, undefined, 'the dead holder no longer counts itself one');
  await w.timers.advance(SLOT_LEASE_SECONDS * 3000);
  assert.equal(w.store.slotHolder(0), 'b', 'renewed while in use');
  assert.equal(b.gate.held, 0);
  b.gate.leave();
  await w.timers.advance(0);
  assert.equal(w.store.slotHolder(0), undefined, 'released when no longer in use');
});

test('storage failing: the slots are unavailable and first reads fall back to the per-instance pace', async () => {
  const w = world();
  w.store.down = true;
  const a = await instance(w, 'a');
  for (const name of NAMES) void a.read(name).catch(() => undefined);
  await w.timers.advance(11_000);
  assert.ok(a.calls.length >= 1 && a.calls.length <= 2, `the per-instance pace, 1 per 10 s: ${a.calls.length} call(s)`);
  assert.equal(w.store.slotRequests, 1, 'one attempt, then no slot asked for within UNAVAILABLE_MS');
  assert.equal(await a.gate.enter(1_000), 'unavailable');
  w.store.down = false;
  await w.timers.advance(UNAVAILABLE_MS);
  assert.equal(await a.gate.enter(1_000), 'held', 'tried again after UNAVAILABLE_MS');
  a.gate.leave();
});
