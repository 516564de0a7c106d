/**
 * The rotation ledger's logic on an injected clock, with the in-memory blob model (ETags, 304, If-Match) and the
 * app's real Key Vault service per instance (the Key Vault call replaced at its fetch seam). The same against
 * Azurite: test/ledger.azurite.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LedgerModel } from '../scripts/ledgerModel.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { buildConfigReport, reportLogLine } from 'functions-keyvault/internal/diagnostics/configReport.js';
import { SECRET_NEW_VERSION_CREATED } from 'functions-keyvault/internal/events/keyVaultEvents.js';
import { secretEvents } from '../src/functions/secretEvents.js';
import { capturingContext } from 'functions-keyvault/testing';
import { configureKeyVault, KeyVaultService, type SecretFetch } from 'functions-keyvault/internal/keyVault/index.js';
import { secretRecord } from 'functions-keyvault/testing';
import {
  LEDGER_MAX_ENTRIES,
  mergeEntries,
  parseLedger,
  serializeLedger,
} from 'functions-keyvault/internal/ledger/document.js';
import { rotationLedger, startRotationLedger } from 'functions-keyvault/internal/ledger/index.js';
import {
  RotationLedger,
  type PollOutcome,
  type RotationLedgerOptions,
} from 'functions-keyvault/internal/ledger/rotationLedger.js';
import { LedgerFailure, type LedgerRead } from 'functions-keyvault/internal/ledger/store.js';
import { keyVaultEvent } from './support/keyVaultEvents.js';

const VAULT = 'https://ledger.vault.azure.net/';
const V1 = '1'.repeat(32);
const V2 = '2'.repeat(32);
const V3 = '3'.repeat(32);
const START = Date.UTC(2026, 5, 1);

/** A virtual clock: monotonic ms for the cache and the ledger, wall ms derived from it. */
function virtualClock() {
  let ms = 1_000;
  return {
    now: () => ms,
    wall: () => START + ms,
    advance: (byMs: number) => {
      ms += byMs;
    },
  };
}

/** A vault at the service's fetch seam: one current version per name, every GET counted. */
function vaultModel() {
  const current = new Map<string, string>();
  const gets: string[] = [];
  const fetchSecret: SecretFetch = (_vault, name) =>
    Promise.resolve().then(() => {
      gets.push(name);
      const version = current.get(name) ?? V1;
      return secretRecord(name, `value-of-${name}-${version.slice(0, 1)}`, version);
    });
  return { current, gets, fetchSecret };
}

const settle = () => new Promise((r) => setImmediate(r));

function instance(
  store: RotationLedgerOptions['store'],
  vault: ReturnType<typeof vaultModel>,
  clock: ReturnType<typeof virtualClock>,
  env: Record<string, string> = {},
  options: Pick<RotationLedgerOptions, 'schedule' | 'random' | 'log'> = {},
) {
  const config = parseConfig({
    KEY_VAULT_URL: VAULT,
    ROTATION_LEDGER_URL: 'https://stapp.blob.core.windows.net/rotation-ledger/app.json',
    ...env,
  });
  const service = new KeyVaultService({
    config,
    fetchSecret: vault.fetchSecret,
    clock,
    log: { warn: () => undefined, info: () => undefined },
  });
  const outcomes: PollOutcome[] = [];
  const ledger = new RotationLedger({
    store,
    target: service,
    pollMs: config.ledger!.pollMs,
    timeoutMs: 1_000,
    clock,
    wallClock: clock.wall,
    events: { poll: (o) => outcomes.push(o) },
    ...options,
  });
  service.onVersionSeen((v, n, ver) => ledger.versionSeen(v, n, ver));
  return { service, ledger, outcomes };
}

/** Two instances on one blob and vault, each holding `db` (read once from Key Vault). */
async function twoInstances(env: Record<string, string> = {}) {
  const clock = virtualClock();
  const store = new LedgerModel(clock.wall);
  const vault = vaultModel();
  const a = instance(store, vault, clock, env);
  const b = instance(store, vault, clock, env);
  await a.service.read({ vaultUrl: VAULT, name: 'db' });
  await b.service.read({ vaultUrl: VAULT, name: 'db' });
  return { clock, store, vault, a, b };
}

test('an event on one instance reaches another through the ledger: one GET there, a 304 on every later poll', async () => {
  const { clock, store, vault, a, b } = await twoInstances();
  assert.equal(await b.ledger.poll(), 'absent', 'nothing written yet');

  vault.current.set('db', V2);
  a.ledger.rotationEvent(VAULT, 'db', V2);
  a.service.secretRotated(VAULT, 'db');
  await a.ledger.settled();
  await settle();
  assert.match(store.document ?? '', new RegExp(V2), 'the event instance wrote the new version');
  assert.doesNotMatch(store.document ?? '', /value-of/, 'never a value');

  const getsBefore = vault.gets.length;
  clock.advance(5_000);
  assert.equal(await b.ledger.poll(), 'changed');
  await settle();
  assert.equal(vault.gets.length - getsBefore, 1, 'exactly one Key Vault GET on the other instance');
  const read = await b.service.read({ vaultUrl: VAULT, name: 'db' });
  assert.equal(read.record.version, V2, 'the other instance serves the new version');
  await b.ledger.settled();

  for (let i = 0; i < 3; i++) {
    clock.advance(5_000);
    assert.equal(await b.ledger.poll(), 'not-modified');
    assert.equal(await a.ledger.poll(), 'not-modified', 'the writer knows its own ETag');
  }
  assert.equal(vault.gets.length - getsBefore, 1, 'no further Key Vault call');
});

test('an instance that holds no secrets makes no storage request', async () => {
  const clock = virtualClock();
  const store = new LedgerModel(clock.wall);
  const { ledger } = instance(store, vaultModel(), clock);
  assert.equal(await ledger.poll(), 'idle');
  assert.equal(store.reads, 0);
});

test('a refresh that returns another version records it; a stale or repeated entry costs at most one GET', async () => {
  const { clock, store, vault, a, b } = await twoInstances();
  await b.ledger.poll();

  // A lost event: nobody was told, but A's own refresh sees V2 and records it.
  vault.current.set('db', V2);
  clock.advance(10_000);
  await a.service.read({ vaultUrl: VAULT, name: 'db' }, { forceRefresh: true });
  await a.ledger.settled();
  assert.match(store.document ?? '', new RegExp(V2));

  const before = vault.gets.length;
  clock.advance(5_000);
  await b.ledger.poll();
  await settle();
  assert.equal(vault.gets.length - before, 1, 'B re-read once');

  // Someone writes an entry for a version Key Vault does not have (a forged entry): one GET, then never again.
  store.overwrite(serializeLedger([{ vaultUrl: VAULT, name: 'db', version: V3, seenAt: clock.wall() }]));
  clock.advance(5_000);
  await b.ledger.poll();
  await settle();
  clock.advance(5_000);
  await b.ledger.poll();
  await settle();
  assert.equal(vault.gets.length - before, 2, 'the forged version cost one GET');
  const held = await b.service.read({ vaultUrl: VAULT, name: 'db' });
  assert.equal(held.record.version, V2, 'Key Vault stays the authority');
});

test('health: the backstop TTL while the ledger answers, the normal TTL (values brought into line) when it does not', async () => {
  const clock = virtualClock();
  const store = new LedgerModel(clock.wall);
  const vault = vaultModel();
  const { service, ledger } = instance(store, vault, clock, {
    SECRET_CACHE_TTL_SECONDS: '300',
    SECRET_CACHE_BACKSTOP_TTL_SECONDS: '43200',
  });
  await service.read({ vaultUrl: VAULT, name: 'db' });
  assert.equal(await ledger.poll(), 'absent');
  assert.equal(ledger.isHealthy(), true);

  // Healthy: an hour later the value is still served from memory, no Key Vault call.
  clock.advance(3_600_000);
  assert.equal((await service.read({ vaultUrl: VAULT, name: 'db' })).cache, 'hit');
  assert.equal(vault.gets.length, 1);

  // Storage fails: unhealthy only after the grace period (max(3 polls, 30 s)), then the normal TTL applies.
  store.down = true;
  clock.advance(5_000);
  assert.equal(await ledger.poll(), 'failed:unreachable');
  assert.equal(ledger.isHealthy(), true, 'one failed poll is not an outage');
  clock.advance(30_000);
  await ledger.poll();
  assert.equal(ledger.isHealthy(), false);
  // The held value now refreshes within the normal TTL from the moment the ledger was lost (jittered 75-95%).
  clock.advance(300_000);
  assert.equal((await service.read({ vaultUrl: VAULT, name: 'db' })).cache, 'miss');
  assert.equal(vault.gets.length, 2, 'refreshed on the normal TTL, as without a ledger');
  clock.advance(300_000);
  await service.read({ vaultUrl: VAULT, name: 'db' });
  await settle();
  assert.equal(vault.gets.length, 3, 'and again one TTL later');

  store.down = false;
  clock.advance(5_000);
  assert.equal(await ledger.poll(), 'absent');
  assert.equal(ledger.isHealthy(), true);
});

test('a malformed ledger is not acted on and counts as unhealthy at once; a write replaces it with a valid one', async () => {
  const clock = virtualClock();
  const store = new LedgerModel(clock.wall);
  const vault = vaultModel();
  const { service, ledger } = instance(store, vault, clock);
  await service.read({ vaultUrl: VAULT, name: 'db' });
  store.overwrite('{"v":1,"entries":"nope"}');
  assert.equal(await ledger.poll(), 'invalid');
  assert.equal(ledger.isHealthy(), false);
  ledger.rotationEvent(VAULT, 'db', V2);
  await ledger.settled();
  assert.equal(parseLedger(store.document!, clock.wall()).ok, true);
  assert.equal(await ledger.poll(), 'not-modified');
  assert.equal(ledger.isHealthy(), true);
});

test('concurrent writers: If-Match conflicts are retried, no update is lost', async () => {
  const clock = virtualClock();
  const store = new LedgerModel(clock.wall);
  const vault = vaultModel();
  const fleet = Array.from({ length: 5 }, () => instance(store, vault, clock));
  fleet.forEach(({ ledger }, i) => ledger.rotationEvent(VAULT, `secret-${i}`, V2));
  await Promise.all(fleet.map(({ ledger }) => ledger.settled()));
  const parsed = parseLedger(store.document!, clock.wall());
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.entries.map((e) => e.name).sort(), [
    'secret-0',
    'secret-1',
    'secret-2',
    'secret-3',
    'secret-4',
  ]);
  assert.ok(store.conflicts > 0, 'the writers did collide');
});

test('document: entries arriving from outside are bounded and validated', () => {
  const now = START;
  const good = { vault: VAULT, name: 'db', version: V1, seenAt: new Date(now).toISOString() };
  const doc = (entries: unknown[]) => JSON.stringify({ v: 1, entries });
  const bad = [
    { ...good, vault: 'https://evil.example.com/x' },
    { ...good, vault: 'http://ledger.vault.azure.net/' },
    { ...good, name: '../etc' },
    { ...good, name: 'x'.repeat(128) },
    { ...good, version: 'abc' },
    { ...good, seenAt: 'yesterday' },
    { ...good, seenAt: new Date(now + 3_600_000).toISOString() }, // from the future: would block later updates
    { ...good, seenAt: '1999-01-01T00:00:00Z' },
    'string',
    null,
  ];
  const parsed = parseLedger(doc([good, ...bad]), now);
  assert.ok(parsed.ok);
  assert.equal(parsed.entries.length, 1);
  assert.equal(parsed.dropped, bad.length);

  const many = Array.from({ length: LEDGER_MAX_ENTRIES + 50 }, (_, i) => ({ ...good, name: `s${i}` }));
  const capped = parseLedger(doc(many), now);
  assert.ok(capped.ok);
  assert.equal(capped.entries.length, LEDGER_MAX_ENTRIES);
  assert.equal(capped.dropped, 50);

  assert.deepEqual(parseLedger('x'.repeat(200_000), now), { ok: false, reason: 'too large' });
  assert.deepEqual(parseLedger('{"v":2,"entries":[]}', now), { ok: false, reason: 'unknown format version' });
  assert.deepEqual(parseLedger('[1]', now), { ok: false, reason: 'not an object' });

  // Merge: newer versions replace, older or equal ones do not, the oldest go first beyond the cap.
  const e = (name: string, version: string, seenAt: number) => ({ vaultUrl: VAULT, name, version, seenAt });
  assert.equal(mergeEntries([e('db', V1, 10)], [e('DB', V1, 20)]), undefined, 'same version (names case-insensitive)');
  assert.equal(mergeEntries([e('db', V2, 30)], [e('db', V1, 20)]), undefined, 'older sighting');
  assert.deepEqual(mergeEntries([e('db', V1, 10)], [e('db', V2, 20)]), [e('db', V2, 20)]);
  const full = Array.from({ length: LEDGER_MAX_ENTRIES }, (_, i) => e(`s${i}`, V1, i));
  const merged = mergeEntries(full, [e('new', V1, 10_000)])!;
  assert.equal(merged.length, LEDGER_MAX_ENTRIES);
  assert.equal(merged[0]!.name, 's1', 'the oldest entry went');
  assert.equal(merged.at(-1)!.name, 'new');
});

test("a large fleet's share of the budget (0.4 calls per 10 s) still lets a rotation notice re-read, once per refill", async () => {
  const { clock, vault, a, b } = await twoInstances({ KEY_VAULT_BUDGET_PER_10S: '0.4' });
  clock.advance(30_000); // the one-call bucket is full again
  vault.current.set('db', V2);
  a.ledger.rotationEvent(VAULT, 'db', V2);
  await a.ledger.settled();
  const before = vault.gets.length;
  assert.equal(await b.ledger.poll(), 'changed');
  await settle();
  assert.equal(vault.gets.length - before, 1, 'the re-read was made');
  assert.equal((await b.service.read({ vaultUrl: VAULT, name: 'db' })).record.version, V2);
  assert.equal(b.service.stats().vaults[VAULT]?.budgetRefusals ?? 0, 0);
});

/** Timers on the virtual clock: what `start()` schedules runs when the test moves the clock past it. */
function virtualTimers(clock: ReturnType<typeof virtualClock>) {
  const due: Array<{ at: number; run: () => void }> = [];
  const delays: number[] = [];
  return {
    delays,
    schedule: (run: () => void, ms: number) => {
      delays.push(ms);
      const timer = { at: clock.now() + ms, run };
      due.push(timer);
      return () => {
        const i = due.indexOf(timer);
        if (i >= 0) due.splice(i, 1);
      };
    },
    /** Run every timer due up to `ms` from now, in order, letting each poll finish before the next. */
    async runFor(ms: number) {
      const end = clock.now() + ms;
      for (;;) {
        due.sort((a, b) => a.at - b.at);
        const next = due[0];
        if (next === undefined || next.at > end) break;
        due.shift();
        clock.advance(next.at - clock.now());
        next.run();
        for (let i = 0; i < 5; i++) await settle();
      }
      clock.advance(end - clock.now());
    },
  };
}

test('a failing ledger backs off (doubling to 60 s, jittered) and polls every 5 s again once it answers', async () => {
  const clock = virtualClock();
  const store = new LedgerModel(clock.wall);
  const vault = vaultModel();
  const timers = virtualTimers(clock);
  const { service, ledger, outcomes } = instance(store, vault, clock, {}, { schedule: timers.schedule });
  await service.read({ vaultUrl: VAULT, name: 'db' });
  ledger.start();
  try {
    await timers.runFor(60_000);
    const healthyReads = outcomes.length;
    assert.ok(healthyReads >= 10 && healthyReads <= 15, `about one poll per 5 s while it answers (${healthyReads})`);
    assert.equal(store.reads, healthyReads, 'each poll one storage request');

    // A 10-minute outage: without backoff about 120 polls; with it 10-20-40-60-60… s, about a dozen.
    store.down = true;
    await timers.runFor(600_000);
    const outageReads = outcomes.length - healthyReads;
    assert.ok(outcomes.slice(healthyReads).every((o) => o === 'failed:unreachable'));
    assert.ok(outageReads >= 9 && outageReads <= 16, `backed off during the outage (${outageReads} polls in 10 min)`);
    assert.equal(ledger.isHealthy(), false, 'the outage was noticed');
    assert.ok(Math.max(...timers.delays) <= 60_000, 'never more than 60 s between polls');
    assert.equal(ledger.status().consecutiveFailures, outageReads);

    // It answers again: the next poll (within 60 s) succeeds, and the cadence is back to 5 s (±20%).
    store.down = false;
    await timers.runFor(60_000);
    assert.equal(ledger.isHealthy(), true);
    assert.equal(ledger.status().consecutiveFailures, 0);
    const before = outcomes.length;
    await timers.runFor(60_000);
    const after = outcomes.length - before;
    assert.ok(after >= 10 && after <= 15, `one poll per 5 s again (${after})`);
  } finally {
    ledger.stop();
  }
});

test('an interval longer than the backoff cap is kept as it is: failures never make polls more frequent', async () => {
  const clock = virtualClock();
  const store = new LedgerModel(clock.wall);
  const vault = vaultModel();
  let r = 0;
  const random = () => [0, 0.999][r++ % 2]!; // the extremes of the jitter
  const { service, ledger } = instance(store, vault, clock, { ROTATION_LEDGER_POLL_SECONDS: '120' }, { random });
  await service.read({ vaultUrl: VAULT, name: 'db' });
  store.down = true;
  for (let i = 0; i < 6; i++) {
    const delay = ledger.nextPollDelayMs();
    assert.ok(delay >= 96_000 && delay <= 144_000, `the interval ±20% at most (${delay} ms after ${i} failures)`);
    await ledger.poll();
    clock.advance(delay);
  }
  assert.equal(ledger.status().consecutiveFailures, 6);
});

test('while failing but not yet past the grace period, the next poll falls by its end', async () => {
  const clock = virtualClock();
  const store = new LedgerModel(clock.wall);
  const vault = vaultModel();
  const { service, ledger } = instance(store, vault, clock);
  await service.read({ vaultUrl: VAULT, name: 'db' });
  store.down = true;
  let elapsed = 0;
  for (let i = 0; i < 10 && ledger.isHealthy(); i++) {
    await ledger.poll();
    if (!ledger.isHealthy()) break;
    const delay = ledger.nextPollDelayMs();
    clock.advance(delay);
    elapsed += delay;
  }
  assert.equal(ledger.isHealthy(), false);
  // Without backoff: the first 5-s (±20%) poll at or after the 30-s grace period, so by 36 s at the latest.
  assert.ok(elapsed <= 36_000, `unhealthy no later than without backoff (${elapsed} ms)`);
});

/** The blob as a read-only role, a lease or an immutability policy leaves it: reads work, writes are refused. */
class RefusingStore extends LedgerModel {
  /** `lease`: 412 on every write (an immutability policy's 409 looks the same to the app); `denied`: 403. */
  refuse: 'lease' | 'denied' | undefined;

  override write(text: string, etag: string | undefined): Promise<string | false> {
    if (this.refuse === undefined) return super.write(text, etag);
    return Promise.resolve().then(() => {
      this.writes += 1;
      if (this.refuse === 'denied') throw new LedgerFailure('denied', 403);
      return false; // the SDK's 412/409, as for a conflict; the document does not change
    });
  }
}

for (const refuse of ['lease', 'denied'] as const) {
  test(`writes refused (${refuse}): unhealthy, the normal TTL, the config check and a log line say which, and writes back off`, async () => {
    const clock = virtualClock();
    const store = new RefusingStore(clock.wall);
    store.overwrite(serializeLedger([{ vaultUrl: VAULT, name: 'db', version: V1, seenAt: clock.wall() }]));
    store.refuse = refuse;
    const vault = vaultModel();
    const timers = virtualTimers(clock);
    const warnings: string[] = [];
    const log = { warn: (m: string) => warnings.push(m), info: () => undefined };
    const { service, ledger, outcomes } = instance(store, vault, clock, {}, { schedule: timers.schedule, log });
    await service.read({ vaultUrl: VAULT, name: 'db' });
    ledger.start();
    try {
      await timers.runFor(10_000);
      // A rotation this instance sees: an event (awaited by the event function) that cannot be recorded.
      await assert.rejects(ledger.recordEvent(VAULT, 'db', V2), { name: 'LedgerFailure' });
      const kind = refuse === 'lease' ? 'locked' : 'denied';
      assert.equal(ledger.isHealthy(), false, 'a ledger that cannot record what it saw is not healthy');
      assert.equal(ledger.status().writeFailure, kind);
      assert.equal(service.cacheTtl().backstop, false, 'back to SECRET_CACHE_TTL_SECONDS');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, new RegExp(`writes refused: ${kind}`));
      const { report } = await buildConfigReport(service, Date.now(), ledger);
      assert.equal(report.rotationLedger.state, 'unhealthy');
      assert.equal(report.rotationLedger.writeFailure, kind);
      assert.match(report.rotationLedger.detail, refuse === 'lease' ? /lease/ : /Storage Blob Data Contributor/);
      assert.match(reportLogLine(report), new RegExp(`rotation ledger unhealthy \\(writes ${kind}\\)`));

      // Ten minutes of polls: each one storage request, the refused write retried on the backoff only.
      const polls = outcomes.length;
      const requests = store.reads + store.writes;
      await timers.runFor(600_000);
      const pollsDuring = outcomes.length - polls;
      const requestsDuring = store.reads + store.writes - requests;
      assert.ok(pollsDuring >= 100, `polling went on (${pollsDuring})`);
      assert.ok(
        requestsDuring <= 1.5 * pollsDuring,
        `${requestsDuring} storage requests for ${pollsDuring} polls (was about 11 per poll)`,
      );
      assert.equal(ledger.isHealthy(), false);

      // Writes work again (the lease broken, the role granted): the next retry records it, and the ledger is healthy.
      store.refuse = undefined;
      await timers.runFor(120_000);
      assert.equal(ledger.status().writeFailure, null);
      assert.equal(ledger.isHealthy(), true);
      assert.equal(service.cacheTtl().backstop, true);
      assert.match(store.document ?? '', new RegExp(V2), 'the rotation it saw is recorded');
    } finally {
      ledger.stop();
    }
  });
}

test('a poll never waits beyond its timeout, even on a store that ignores the abort signal', async () => {
  const clock = virtualClock();
  const timers = virtualTimers(clock);
  const vault = vaultModel();
  const store = {
    read: () => new Promise<LedgerRead>(() => undefined), // never answers, never heeds the signal
    write: () => new Promise<string | false>(() => undefined),
  };
  const { service, ledger } = instance(store, vault, clock, {}, { schedule: timers.schedule });
  await service.read({ vaultUrl: VAULT, name: 'db' });
  const poll = ledger.poll();
  await timers.runFor(1_000); // the ledger's timeout (1 s here), on the virtual clock
  assert.equal(await poll, 'failed:timeout');
  const event = ledger.recordEvent(VAULT, 'db', V2);
  await timers.runFor(3_000);
  await assert.rejects(event, { name: 'LedgerFailure', kind: 'timeout' });
});

/** A store whose writes wait until the test opens the gate (a write in flight). */
class GatedStore extends LedgerModel {
  private open: (() => void) | undefined;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  release(): void {
    this.open?.();
  }
  override write(text: string, etag: string | undefined): Promise<string | false> {
    return this.gate.then(() => super.write(text, etag));
  }
}

test('every event reaches the blob from an instance that holds no secret: while the ledger starts, while a write is in flight', async () => {
  const clock = virtualClock();
  const store = new GatedStore(clock.wall);
  const vault = vaultModel();
  const timers = virtualTimers(clock);
  const config = parseConfig({
    KEY_VAULT_URL: VAULT,
    ROTATION_LEDGER_URL: 'https://stapp.blob.core.windows.net/rotation-ledger/app.json',
  });
  const quiet = { warn: () => undefined, info: () => undefined };
  const service = configureKeyVault({ config, fetchSecret: vault.fetchSecret, clock, log: quiet });
  const deliver = (name: string) =>
    secretEvents(
      keyVaultEvent('EventGridSchema', { type: SECRET_NEW_VERSION_CREATED, vaultUrl: VAULT, name, version: V2 }),
      capturingContext('secretEvents').context,
    );
  const seams = { store, clock, wallClock: clock.wall, schedule: timers.schedule, log: quiet };
  const starting = startRotationLedger(service, config, seams);
  try {
    let returned = 0;
    const first = deliver('db-0').then(() => (returned += 1)); // the ledger is still starting
    await starting;
    await settle();
    // Three more, 10 ms apart, while the first write is in flight.
    const more = [1, 2, 3].map((i) => {
      clock.advance(10);
      return deliver(`db-${i}`).then(() => (returned += 1));
    });
    await settle();
    assert.equal(returned, 0, 'no invocation returns before its write is done');
    store.release();
    await Promise.all([first, ...more]);
    const parsed = parseLedger(store.document ?? '', clock.wall());
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.entries.map((e) => e.name).sort(), ['db-0', 'db-1', 'db-2', 'db-3']);
    assert.equal(store.writes, 2, 'the first event, then the three that arrived meanwhile in one write');
    assert.equal(await rotationLedger()!.poll(), 'idle', 'this instance holds no secret: it never polls');

    // A write that fails: the invocation fails, so that Event Grid delivers the event again.
    store.down = true;
    await assert.rejects(deliver('db-4'), /deliver it again/);
    store.down = false;
    await deliver('db-4');
    assert.match(store.document ?? '', /db-4/, 'the redelivery is recorded');
  } finally {
    rotationLedger()?.stop();
  }
});

test('an entry dated in the future cannot swallow a later rotation: the next real one is written', async () => {
  const { clock, store, vault, a, b } = await twoInstances();
  // A writer with a clock 9 minutes fast (within what a read accepts) records V2.
  store.overwrite(serializeLedger([{ vaultUrl: VAULT, name: 'db', version: V2, seenAt: clock.wall() + 9 * 60_000 }]));
  const writes = store.writes;
  clock.advance(10_000);
  vault.current.set('db', V3);
  await a.ledger.recordEvent(VAULT, 'db', V3);
  assert.equal(store.writes - writes, 1, 'one PUT (was 0: judged unchanged)');
  assert.match(store.document ?? '', new RegExp(V3));
  clock.advance(10_000);
  assert.equal(await b.ledger.poll(), 'changed');
  await settle();
  assert.equal((await b.service.read({ vaultUrl: VAULT, name: 'db' })).record.version, V3, 'the fleet gets V3');
  const e = (version: string, seenAt: number) => ({ vaultUrl: VAULT, name: 'db', version, seenAt });
  assert.deepEqual(mergeEntries([e(V2, 2_000)], [e(V3, 1_000)], 1_500), [e(V3, 1_000)], 'a future entry yields');
  assert.equal(mergeEntries([e(V2, 1_200)], [e(V3, 1_000)], 1_500), undefined, 'a later real one does not');
});

test('a notice for a version that never appears stops after a bound; a notice for the version held settles it', async () => {
  const clock = virtualClock();
  const vault = vaultModel();
  const { service } = instance(new LedgerModel(clock.wall), vault, clock);
  const readEverySecond = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      clock.advance(1_000);
      await service.read({ vaultUrl: VAULT, name: 'db' });
      await settle();
    }
  };
  await service.read({ vaultUrl: VAULT, name: 'db' }); // V1
  clock.advance(10_000);
  let gets = vault.gets.length;
  assert.equal(service.secretRotated(VAULT, 'db', V3), 'refreshing'); // V3 never appears
  await settle();
  await readEverySecond(30);
  assert.equal(vault.gets.length - gets, 2, 'the re-read and one more after the window (was 7 in 30 s: one every 5 s)');

  // Again, and then a notice naming the version held: nothing more is asked.
  clock.advance(10_000);
  gets = vault.gets.length;
  service.secretRotated(VAULT, 'db', '4'.repeat(32));
  await settle();
  assert.equal(service.secretRotated(VAULT, 'db', V1), 'current');
  await readEverySecond(30);
  assert.equal(vault.gets.length - gets, 1, 'only the first re-read (was 7 in 30 s)');
});
