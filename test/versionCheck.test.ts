/**
 * The fleet's version check and its lease (issue: lost rotations found in minutes; revocation is not a rotation):
 * the app's real Key Vault service, rotation ledger and VersionChecker per instance, on virtual time, with the blob
 * and its lease modelled (scripts/ledgerModel.ts; the real lease against Azurite: test/ledger.azurite.test.ts) and
 * the vault at the service's fetch seam.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LedgerModel } from '../scripts/ledgerModel.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { KeyVaultFailure, KeyVaultService, type SecretFetch } from 'functions-keyvault/internal/keyVault/index.js';
import { secretRecord } from 'functions-keyvault/testing';
import { RotationLedger } from 'functions-keyvault/internal/ledger/rotationLedger.js';
import { LEASE_SECONDS, VersionChecker } from 'functions-keyvault/internal/ledger/versionCheck.js';
import { VirtualTimers } from './support/virtualTimers.js';

const VAULT = 'https://check.vault.azure.net/';
const V1 = '1'.repeat(32);
const V2 = '2'.repeat(32);
const START = Date.UTC(2026, 5, 1);
const CHECK_MS = 300_000;
const POLL_MS = 5_000;

/** A vault at the fetch seam: per name a version, or disabled (403 SecretDisabled) or deleted (404). */
function vaultModel() {
  const state = new Map<string, string>(); // a version, or "disabled", or "deleted"
  let gets = 0;
  const fetchSecret: SecretFetch = (_vault, name) =>
    Promise.resolve().then(() => {
      gets += 1;
      const s = state.get(name) ?? V1;
      if (s === 'disabled') {
        throw new KeyVaultFailure('secret-disabled', 'Operation get is not allowed on a disabled secret.', {
          statusCode: 403,
        });
      }
      if (s === 'deleted') throw new KeyVaultFailure('secret-not-found', 'Not found.', { statusCode: 404 });
      return secretRecord(name, `value-of-${name}-${s.slice(0, 1)}`, s);
    });
  return { state, fetchSecret, gets: () => gets };
}

function instance(store: LedgerModel, vault: ReturnType<typeof vaultModel>, timers: VirtualTimers, id: string) {
  const config = parseConfig({
    KEY_VAULT_URL: VAULT,
    SECRETS_ALLOWED: 'db,api',
    ROTATION_LEDGER_URL: 'https://stapp.blob.core.windows.net/rotation-ledger/app.json',
  });
  const quiet = { warn: () => undefined, info: () => undefined };
  const service = new KeyVaultService({
    config,
    fetchSecret: vault.fetchSecret,
    clock: timers,
    schedule: timers.schedule,
    log: quiet,
  });
  const wallClock = () => START + timers.ms;
  const ledger = new RotationLedger({
    store,
    target: service,
    pollMs: POLL_MS,
    timeoutMs: 1_000,
    clock: timers,
    wallClock,
    schedule: timers.schedule,
    random: () => 0.5,
    log: quiet,
  });
  service.onVersionSeen((v, n, ver) => ledger.versionSeen(v, n, ver));
  const checks: number[] = [];
  const checker = new VersionChecker({
    lease: store,
    ledger,
    target: service,
    checkMs: CHECK_MS,
    timeoutMs: 1_000,
    clock: timers,
    random: () => 0.5,
    schedule: timers.schedule,
    leaseId: id,
    onCheck: (asked) => checks.push(asked),
  });
  const read = (name: string) => service.read({ vaultUrl: VAULT, name });
  return { service, ledger, checker, checks, read };
}

async function fleetOf(n: number) {
  const timers = new VirtualTimers();
  const store = new LedgerModel(() => START + timers.ms);
  const vault = vaultModel();
  const fleet = Array.from({ length: n }, (_, i) => instance(store, vault, timers, `lease-${i}`));
  for (const i of fleet) {
    await i.read('db');
    await i.read('api');
  }
  for (const i of fleet) {
    i.ledger.start();
    i.checker.start();
  }
  return { timers, store, vault, fleet };
}

test('one holder at a time: the first to try takes the lease, renews it, and it alone checks (M calls per check)', async () => {
  const { timers, store, vault, fleet } = await fleetOf(3);
  await timers.advance(10_000);
  const holders = fleet.filter((i) => i.checker.isHolder());
  assert.equal(holders.length, 1, 'exactly one holder');
  assert.equal(store.leaseHolder, 'lease-0');
  const before = vault.gets();
  await timers.advance(2 * CHECK_MS);
  assert.equal(fleet[0]!.checks.length, 3, 'the holder checked at once and then every 300 s');
  assert.deepEqual([fleet[1]!.checks.length, fleet[2]!.checks.length], [0, 0], 'nobody else checked');
  assert.equal(vault.gets() - before, 2 * 2, 'two names per check, for the whole fleet (the first was before)');
  assert.ok(fleet[0]!.checker.isHolder(), 'renewed all along (a 30 s lease over 10 minutes)');
  for (const i of fleet) i.checker.stop();
});

test('a holder that dies is replaced after its lease expires; the old one, back, does not act as holder', async () => {
  const { timers, store, fleet } = await fleetOf(2);
  await timers.advance(10_000);
  const [a, b] = [fleet[0]!, fleet[1]!];
  assert.ok(a.checker.isHolder());
  a.checker.stop(); // gives the lease up (a clean stop): b takes it on its next attempt
  await timers.advance(CHECK_MS * 1.3);
  assert.ok(b.checker.isHolder(), 'b took over');
  assert.equal(store.leaseHolder, 'lease-1');

  // b dies without releasing (its timers stop, nothing renews): the lease expires after LEASE_SECONDS.
  b.checker.stop = () => undefined;
  (b.checker as unknown as { cancelTimer: () => void }).cancelTimer();
  (b.checker as unknown as { cancelTimer: undefined }).cancelTimer = undefined;
  await timers.advance(LEASE_SECONDS * 1000);
  assert.equal(store.leaseHolder, undefined, 'expired');
  assert.equal(b.checker.isHolder(), false, 'b stopped counting itself the holder when its term ended');
  a.checker.start();
  await timers.advance(CHECK_MS * 1.3);
  assert.ok(a.checker.isHolder(), 'a new holder after the expiry');
  assert.equal([a, b].filter((i) => i.checker.isHolder()).length, 1, 'never two');
  a.checker.stop();
});

test('a renewal that fails stops the holder at once, before the lease could pass to another', async () => {
  const { timers, store, fleet } = await fleetOf(2);
  await timers.advance(10_000);
  const [a, b] = [fleet[0]!, fleet[1]!];
  assert.ok(a.checker.isHolder());
  store.leaseDown = true; // renewals fail (storage unreachable for lease requests)
  await timers.advance(10_000);
  assert.equal(a.checker.isHolder(), false, 'its renewal failed: not the holder any more, at once');
  store.leaseDown = false;
  await timers.advance(CHECK_MS * 1.3);
  assert.equal([a, b].filter((i) => i.checker.isHolder()).length, 1, 'one holder again, never two');
  a.checker.stop();
  b.checker.stop();
});

test('a lost rotation is found by the next check and reaches every instance at its next poll', async () => {
  const { timers, vault, fleet } = await fleetOf(3);
  await timers.advance(10_000); // first check: both names recorded at V1
  vault.state.set('db', V2); // rotated, and no event reaches anyone
  await timers.advance(CHECK_MS + 2 * POLL_MS);
  for (const i of fleet) assert.equal((await i.read('db')).record.version, V2, 'every instance has the new version');
  for (const i of fleet) i.checker.stop();
});

test('disabled in Key Vault: every instance stops serving it within check + poll interval, and serves it again once enabled', async () => {
  const { timers, vault, fleet } = await fleetOf(3);
  await timers.advance(10_000);
  vault.state.set('api', 'disabled');
  const disabledAt = timers.ms;
  const served = new Set<number>();
  // Probe every second: when did the last instance stop serving the value?
  let lastServed = -Infinity;
  for (let s = 0; s < (CHECK_MS + 2 * POLL_MS) / 1000; s++) {
    await timers.advance(1_000);
    for (const [n, i] of fleet.entries()) {
      try {
        await i.read('api');
        served.add(n);
        lastServed = timers.ms;
      } catch (error) {
        assert.equal((error as KeyVaultFailure).kind, 'secret-disabled');
      }
    }
  }
  assert.ok(
    lastServed - disabledAt <= CHECK_MS + 2 * POLL_MS,
    `last served ${(lastServed - disabledAt) / 1000} s after`,
  );
  const gets = vault.gets();
  for (const i of fleet) {
    await assert.rejects(i.read('api'), { kind: 'secret-disabled' }, 'refused from the ledger');
    assert.equal((await i.read('db')).cache, 'hit', 'other secrets untouched');
  }
  assert.equal(vault.gets(), gets, 'refusals cost no Key Vault call');

  vault.state.set('api', V1);
  await timers.advance(CHECK_MS + 2 * POLL_MS);
  for (const i of fleet) assert.equal((await i.read('api')).record.value, 'value-of-api-1', 'enabled again: served');
  for (const i of fleet) i.checker.stop();
});

test('deleted in Key Vault (404): recorded as deleted and dropped everywhere', async () => {
  const { timers, store, vault, fleet } = await fleetOf(2);
  await timers.advance(10_000);
  vault.state.set('db', 'deleted');
  await timers.advance(CHECK_MS + 2 * POLL_MS);
  assert.match(store.document ?? '', /"name":"db"[^}]*"state":"deleted"/);
  assert.doesNotMatch(store.document ?? '', /value-of/, 'never a value in the ledger');
  for (const i of fleet) await assert.rejects(i.read('db'), { kind: 'secret-not-found' });
  for (const i of fleet) i.checker.stop();
});
