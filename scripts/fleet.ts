/**
 * Fleet simulation (`npm run bench:fleet`; also part of `npm run bench`): N instances × M secrets sharing one vault,
 * on a virtual clock — no real time, no network. Each instance is the app's real Key Vault service (cache policy,
 * jittered refresh ahead, call policy with its budget and warm-up pacer) with the Key Vault call replaced at its seam
 * by a model of one vault, and, in the ledger designs, the app's real rotation ledger and version check (lease
 * included) with storage replaced by a model of one blob and its lease (scripts/ledgerModel.ts).
 *
 * Time is event-driven: the clock jumps to the next thing that happens (a second with reads or polls, a warm-up turn,
 * a timeout), on a 100-ms grid, and the app's timers (warm-up turns, call timeouts, the lease) run on it. The vault
 * model answers at once and throttles (429, Retry-After to the end of the window) beyond 4,000 calls per 10-s window,
 * Key Vault's limit per vault; every call counts, 429s included. The blob model answers at once too.
 *
 * Scenarios:
 * - cold-fleet: every instance starts at t = 0 and reads every secret at once, then each secret once per
 *   READ_INTERVAL_S (60 s) at its own phase; a Key Vault outage at 30-35 min; one secret rotated at 45 min with its
 *   event delivered to one instance. With the ledger the run goes on to 12 h (reads every 30 min, polls every 60 s
 *   after the first hour) to see the backstop refresh wave; at 61 min a second secret is rotated with no event (lost
 *   event); at 48 min a third is disabled in Key Vault (no event exists for that) and enabled again at 55 min.
 * - scale-out: instances join one per second up to N while traffic runs; each gets each secret once per 60 s at its
 *   own phase from its first second on (ledger design, 30 min).
 * Designs: today (no ledger, TTL 300 s), ledger (ROTATION_LEDGER_URL set, poll 5 s, backstop TTL 12 h, version check
 * every ROTATION_LEDGER_CHECK_SECONDS = 300 s by the lease holder), ledger-down (configured, unreachable; 30 min).
 * Every instance's budget is KEY_VAULT_BUDGET_PER_10S = 400 / N (10% of the vault, docs/configuration.md) and its
 * warm-up pace KEY_VAULT_WARMUP_PER_10S = 3,200 / N (80% of the vault for a whole fleet warming at once;
 * FLEET_WARMUP_SHARE changes the 0.8). SECRETS_ALLOWED lists the M names exactly (the names the fleet is known to use).
 * In the ledger designs each instance also has the app's real warm-up slots (src/ledger/warmupSlots.ts) on the
 * model's slot leases: with a slot it warms at SLOT_PER_10S, without one it waits (ledger-down: the slots are
 * unavailable, so the per-instance pace applies); FLEET_SLOTS changes how many slots there are.
 *
 * One `FLEET {...}` JSON line per scenario and design. FLEET_FULL=true runs the whole matrix; the default runs the
 * corners the targets name. `--check` (or FLEET_CHECK=true) compares the run with the targets (FLEET_TARGETS below),
 * prints met/MISSED per target and exits 1 when one is missed: CI runs `npm run bench:fleet:check`.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { LedgerModel } from './ledgerModel.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { KeyVaultFailure, KeyVaultService, type SecretFetch } from 'functions-keyvault/internal/keyVault/index.js';
import { secretRecord } from 'functions-keyvault/testing';
import { CHECK_PER_10S } from 'functions-keyvault/internal/keyVault/callPolicy.js';
import { RotationLedger } from 'functions-keyvault/internal/ledger/rotationLedger.js';
import { VersionChecker } from 'functions-keyvault/internal/ledger/versionCheck.js';
import { WARMUP_SLOTS, WarmupSlots } from 'functions-keyvault/internal/ledger/warmupSlots.js';

const VAULT = 'https://fleet.vault.azure.net/';
const LEDGER_URL = 'https://stfleet.blob.core.windows.net/rotation-ledger/fleet.json';
const VAULT_LIMIT_PER_10S = 4_000;
const HOUR_S = 3_600;
const READ_INTERVAL_S = 60;
const POLL_S = 5;
const CHECK_S = 300;
const BACKSTOP_S = 43_200;
/** Coarse steps after the first hour (ledger design only). */
const LONG_READ_INTERVAL_S = 1_800;
const LONG_POLL_S = 60;
const OUTAGE = { from: 1_800, to: 2_100 };
const ROTATION_AT = 2_700;
const LOST_EVENT_AT = HOUR_S + 60;
const DISABLE_AT = 2_900;
const ENABLE_AT = 3_300;
/** While a secret is disabled, every instance asks for it every this many seconds (to see when it stops serving it). */
const PROBE_S = 5;
/** A scale-out runs until 5 minutes after the last instance joined, and at least this long. */
const SCALE_OUT_S = 600;
const START_WALL = Date.UTC(2026, 0, 5);
const GRID_MS = 100;
const WARMUP_SHARE = Number(process.env.FLEET_WARMUP_SHARE ?? 0.8);
/** The fleet's warm-up slots (FLEET_SLOTS changes WARMUP_SLOTS, to see a worse setting fail the check). */
const SLOTS = Number(process.env.FLEET_SLOTS ?? WARMUP_SLOTS);

export type Design = 'today' | 'ledger' | 'ledger-down';
export type Scenario = 'cold-fleet' | 'scale-out';

export interface FleetResult {
  scenario: Scenario;
  instances: number;
  secrets: number;
  design: Design;
  budgetPer10s: number;
  warmupPer10s: number;
  /** cold-fleet: until every instance holds every secret; scale-out: the longest from a first read to its value. */
  warmAllInstancesS: number | null;
  /** Reads of a secret Key Vault holds that returned no value (cached or not). */
  failedReads: number;
  /** Of those, reads of a name the instance had held before (target 0, as before). */
  cachedErrors: number;
  /** Every call the vault saw in any 10-s window, 429s included. */
  vaultPeakPer10s: number;
  throttled429: number;
  coldPeakPer10s: number;
  /** Refreshes of names already held, peak per 10 s (first reads, rotation re-reads and version checks left out). */
  steadyPeakPer10s: number;
  /** The same with the version checks' calls added back. */
  steadyWithChecksPeakPer10s: number;
  steadyMeanPer10s: number;
  allCallsPeak15to30: number;
  recoveryPeakPer10s: number;
  staleServes: number;
  rotationAllInstancesS: number | null;
  rotationMaxGetsPerInstance: number;
  lostEventConvergedS: number | null;
  /** From the disable in Key Vault to the last value served anywhere; from the enable to every instance serving it. */
  revokedStoppedS: number | null;
  reenabledAllInstancesS: number | null;
  /** Key Vault calls the version checks made, per 10 s over the run (the whole fleet), and per check. */
  checkCallsPer10s: number;
  checks: number;
  leaseRequests: number;
  /** Storage requests for the warm-up slots (acquire, renew, release), in the run. */
  slotRequests: number;
  storageRps: number;
  storageMeanRps: number;
  reads: number;
  wallS: number;
}

/** A deterministic random source, so two runs make the same schedule. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

const hex = (n: number) => n.toString(16).padStart(32, '0');

/** Virtual timers on a 100-ms grid: a binary heap; cancelled timers are skipped when they come up. */
class VirtualTimers {
  private readonly heap: Array<{ at: number; seq: number; run: () => void; cancelled: boolean }> = [];
  private seq = 0;

  constructor(private readonly now: () => number) {}

  readonly schedule = (run: () => void, ms: number): (() => void) => {
    const at = Math.ceil((this.now() + Math.max(0, ms)) / GRID_MS) * GRID_MS;
    const event = { at, seq: this.seq++, run, cancelled: false };
    const h = this.heap;
    h.push(event);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
    return () => {
      event.cancelled = true;
    };
  };

  private less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private pop() {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  /** When the next live timer is due, or undefined. */
  nextAt(): number | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0]?.at;
  }

  /** Run every live timer due at or before `at`. */
  runDue(at: number): void {
    while (this.heap.length > 0 && this.heap[0]!.at <= at) {
      const event = this.pop();
      if (!event.cancelled) event.run();
    }
  }
}

/** Tracks which instances hold a secret's new version since it was rotated, and GETs per instance for it. */
class RotationWatch {
  at: number | undefined;
  doneAt: number | undefined;
  private readonly holders = new Set<number>();
  private readonly updated = new Set<number>();
  readonly gets = new Map<number, number>();

  start(t: number, holders: Iterable<number>): void {
    this.at = t;
    for (const h of holders) this.holders.add(h);
  }

  /** A GET of this secret by `instance`; returns whether it belongs to the rotation (a holder fetching it anew). */
  fetched(instance: number, newVersion: boolean, t: number): boolean {
    if (this.at === undefined || this.updated.has(instance) || !this.holders.has(instance)) return false;
    this.gets.set(instance, (this.gets.get(instance) ?? 0) + 1);
    if (!newVersion) return true;
    this.updated.add(instance);
    if (this.doneAt === undefined && this.updated.size === this.holders.size) this.doneAt = t;
    return true;
  }

  seconds(): number | null {
    return this.at === undefined || this.doneAt === undefined ? null : this.doneAt - this.at;
  }

  maxGets(): number {
    return Math.max(0, ...this.gets.values());
  }
}

export async function simulate(
  instances: number,
  secrets: number,
  design: Design,
  scenario: Scenario = 'cold-fleet',
): Promise<FleetResult> {
  const wallStart = performance.now();
  let nowMs = 1_000; // lru-cache treats a start time of 0 as "no TTL"
  const clock = { now: () => nowMs };
  const wallClock = () => START_WALL + nowMs;
  const timers = new VirtualTimers(clock.now);
  const random = seeded(instances * 1_000 + secrets + (scenario === 'scale-out' ? 7 : 0));
  const windows = new Map<number, number>();
  /** Per 10-s window, the calls that are not the steady state's: first reads, rotation re-reads, checks, 429s. */
  const notSteady = new Map<number, number>();
  /** Per 10-s window, the version checks' calls (reported apart, and added back in the "with checks" peak). */
  const checkWindows = new Map<number, number>();
  const versions = new Map<string, number>();
  let throttled429 = 0;
  let checkCalls = 0;
  let checks = 0;
  const names = Array.from({ length: secrets }, (_, i) => `fleet-secret-${i}`);
  const lostName = names[1] ?? names[0]!;
  const disabledName = secrets >= 3 ? names[2]! : undefined;
  let disabled = false;
  const watches = new Map<string, RotationWatch>([
    [names[0]!, new RotationWatch()],
    [lostName, new RotationWatch()],
  ]);
  const tNow = () => (nowMs - 1_000) / 1000;
  const withLedger = design !== 'today';
  const horizon =
    scenario === 'scale-out'
      ? Math.max(SCALE_OUT_S, instances + 300)
      : design === 'ledger'
        ? BACKSTOP_S
        : design === 'ledger-down'
          ? OUTAGE.from
          : HOUR_S;

  type Instance = {
    index: number;
    service: KeyVaultService;
    ledger: RotationLedger | undefined;
    checker: VersionChecker | undefined;
    joinAt: number;
    /** Names read with a value at least once (a later failure for one is a cached error). */
    known: Set<string>;
    /** True while this instance's version check runs (its calls are not the steady state's refreshes). */
    checking: boolean;
    /** When each name was first asked for here, and when Key Vault first returned it here. */
    askedAt: Map<string, number>;
    loadedAt: Map<string, number>;
    pollPhase: number;
    resumeAt: number;
  };
  const fleet: Instance[] = [];
  /** Engines still loading (the service imports its cache and call policy on first use: real I/O, not virtual time). */
  let loading: Array<Promise<unknown>> = [];

  const fetchFor =
    (instance: number): SecretFetch =>
    (_vault, name) =>
      Promise.resolve().then(() => {
        const t = tNow();
        const w = Math.floor(t / 10);
        const calls = (windows.get(w) ?? 0) + 1;
        windows.set(w, calls);
        const steady = () => notSteady.set(w, (notSteady.get(w) ?? 0) + 1);
        if (calls > VAULT_LIMIT_PER_10S) {
          throttled429 += 1;
          steady();
          throw new KeyVaultFailure('throttled', 'Key Vault is throttling requests (429).', {
            statusCode: 429,
            retryAfterSeconds: Math.max(1, Math.ceil(10 - (t % 10))),
          });
        }
        if (t >= OUTAGE.from && t < OUTAGE.to) {
          throw new KeyVaultFailure('service-error', 'Key Vault failed (503).', { statusCode: 503 });
        }
        if (name === disabledName && disabled) {
          throw new KeyVaultFailure('secret-disabled', 'Operation get is not allowed on a disabled secret.', {
            statusCode: 403,
            errorCode: 'Forbidden',
          });
        }
        const self = fleet[instance]!;
        const version = versions.get(name) ?? 1;
        const rotation = watches.get(name)?.fetched(instance, version > 1, Math.floor(t)) ?? false;
        if (self.checking) checkWindows.set(w, (checkWindows.get(w) ?? 0) + 1);
        if (rotation || !self.loadedAt.has(name) || self.checking) steady();
        if (!self.loadedAt.has(name)) self.loadedAt.set(name, t);
        return secretRecord(name, `${name}-v${version}`, hex(version));
      });

  const budgetPer10s = Math.max(0.1, Math.min(4_000, (VAULT_LIMIT_PER_10S * 0.1) / instances));
  const warmupPer10s = Math.max(0.1, Math.min(4_000, (VAULT_LIMIT_PER_10S * WARMUP_SHARE) / instances));
  const config = parseConfig({
    KEY_VAULT_URL: VAULT,
    SECRETS_ALLOWED: names.join(','),
    KEY_VAULT_BUDGET_PER_10S: String(budgetPer10s),
    KEY_VAULT_WARMUP_PER_10S: String(warmupPer10s),
    ...(withLedger
      ? {
          ROTATION_LEDGER_URL: LEDGER_URL,
          ROTATION_LEDGER_POLL_SECONDS: String(POLL_S),
          ROTATION_LEDGER_CHECK_SECONDS: String(CHECK_S),
          SECRET_CACHE_BACKSTOP_TTL_SECONDS: String(BACKSTOP_S),
        }
      : {}),
  });
  const store = new LedgerModel(wallClock);
  store.down = design === 'ledger-down';
  const quiet = { warn: () => undefined, info: () => undefined };
  const join = (index: number, joinAt: number): Instance => {
    const service = new KeyVaultService({
      config,
      fetchSecret: fetchFor(index),
      clock,
      schedule: timers.schedule,
      random,
      log: quiet,
    });
    const ledger = withLedger
      ? new RotationLedger({
          store,
          target: service,
          pollMs: POLL_S * 1000,
          timeoutMs: 5_000,
          clock,
          wallClock,
          random,
          log: quiet,
        })
      : undefined;
    if (ledger) service.onVersionSeen((v, n, ver) => ledger.versionSeen(v, n, ver));
    const checker = ledger
      ? new VersionChecker({
          lease: store,
          ledger,
          target: {
            holdsSecrets: () => service.holdsSecrets(),
            secretsHeld: () => service.secretsHeld(),
            config: service.config,
            checkVersions: (refs, go) => {
              checkCalls += refs.length;
              const self = fleet[index]!;
              self.checking = true;
              return service.checkVersions(refs, go).finally(() => (self.checking = false));
            },
          },
          checkMs: CHECK_S * 1000,
          timeoutMs: 5_000,
          clock,
          random,
          schedule: timers.schedule,
          onCheck: () => (checks += 1),
        })
      : undefined;
    checker?.start();
    if (withLedger) {
      service.useWarmupSlots(
        new WarmupSlots({ store, timeoutMs: 5_000, clock, schedule: timers.schedule, random, slots: SLOTS }),
      );
    }
    loading.push(service.checkVersions([]));
    return {
      index,
      service,
      ledger,
      checker,
      joinAt,
      checking: false,
      known: new Set(),
      askedAt: new Map(),
      loadedAt: new Map(),
      pollPhase: Math.floor(random() * POLL_S),
      resumeAt: 0,
    };
  };

  // Each (instance, name) pair's phase in the read interval: the second of each interval it is read at.
  const phases = (interval: number) => {
    const schedule: Array<Array<[number, string]>> = Array.from({ length: interval }, () => []);
    for (let i = 0; i < instances; i++) {
      for (const name of names) schedule[Math.floor(random() * interval)]!.push([i, name]);
    }
    return schedule;
  };
  const schedule = phases(READ_INTERVAL_S);
  const longSchedule = design === 'ledger' && scenario === 'cold-fleet' ? phases(LONG_READ_INTERVAL_S) : [];

  let failedReads = 0;
  let cachedErrors = 0;
  let staleServes = 0;
  let reads = 0;
  let lastServedDisabled: number | undefined;
  const servingAgain = new Set<number>();
  let reenabledAt: number | undefined;

  const read = (instance: Instance, name: string) => {
    const t = tNow();
    if (!instance.askedAt.has(name)) instance.askedAt.set(name, t);
    const probe = name === disabledName && t >= DISABLE_AT && t < ENABLE_AT + 600;
    if (!probe) reads += 1;
    instance.service.read({ vaultUrl: VAULT, name }).then(
      ({ cache }) => {
        if (cache === 'stale' && !probe) staleServes += 1;
        instance.known.add(name);
        if (name !== disabledName) return;
        const at = tNow();
        if (disabled) lastServedDisabled = at;
        else if (at >= ENABLE_AT && !servingAgain.has(instance.index)) {
          servingAgain.add(instance.index);
          if (servingAgain.size === fleet.length) reenabledAt = at;
        }
      },
      () => {
        if (probe) return;
        failedReads += 1;
        if (instance.known.has(name)) cachedErrors += 1;
      },
    );
  };

  const rotate = (t: number, name: string, event: boolean) => {
    versions.set(name, (versions.get(name) ?? 1) + 1);
    watches.get(name)!.start(
      t,
      fleet.filter((i) => i.service.secretsHeld().some((s) => s.name === name)).map((i) => i.index),
    );
    if (!event) return;
    // Event Grid delivers the event to one instance: what the secretEvents function does with it.
    const receiver = fleet[0]!;
    receiver.ledger?.rotationEvent(VAULT, name, hex(versions.get(name)!));
    receiver.service.secretRotated(VAULT, name, hex(versions.get(name)!));
  };

  if (scenario === 'cold-fleet') for (let i = 0; i < instances; i++) fleet.push(join(i, 0));

  const tick = (t: number) => {
    if (scenario === 'scale-out' && t < instances) fleet.push(join(t, t));
    if (scenario === 'cold-fleet') {
      if (t === ROTATION_AT) rotate(t, names[0]!, true);
      if (design === 'ledger' && t === LOST_EVENT_AT && names[1]) rotate(t, names[1], false);
      if (design === 'ledger' && disabledName && t === DISABLE_AT) disabled = true;
      if (design === 'ledger' && disabledName && t === ENABLE_AT) disabled = false;
    }
    const long = t >= HOUR_S && longSchedule.length > 0;
    if (t === 0 && scenario === 'cold-fleet') {
      for (const instance of fleet) for (const name of names) read(instance, name);
    } else {
      const due = long ? longSchedule[t % LONG_READ_INTERVAL_S]! : schedule[t % READ_INTERVAL_S]!;
      for (const [i, name] of due) {
        const instance = fleet[i];
        if (instance !== undefined) read(instance, name);
      }
    }
    if (disabledName && t >= DISABLE_AT && t < ENABLE_AT + 600 && t % PROBE_S === 0 && design === 'ledger') {
      for (const instance of fleet) read(instance, disabledName);
    }
    const pollEvery = long ? LONG_POLL_S : POLL_S;
    for (const i of fleet) {
      if (!i.ledger || (t + i.pollPhase) % pollEvery !== 0 || t < i.resumeAt) continue;
      const ledger = i.ledger;
      void ledger.poll().then(() => {
        i.resumeAt = ledger.status().consecutiveFailures > 0 ? t + ledger.nextPollDelayMs() / 1000 : 0;
      });
    }
    if (t + 1 < horizon) timers.schedule(() => tick(t + 1), 1_000);
  };
  timers.schedule(() => tick(0), 0);

  const horizonMs = 1_000 + horizon * 1_000;
  for (;;) {
    const at = timers.nextAt();
    if (at === undefined || at >= horizonMs) break;
    nowMs = at;
    timers.runDue(at);
    if (loading.length > 0) {
      await Promise.all(loading);
      loading = [];
    }
    // Let everything started at this instant (reads, loads, ledger writes) finish at this instant.
    await new Promise((r) => setImmediate(r));
  }
  for (const i of fleet) i.checker?.stop();

  let warmAllInstancesS: number | null = 0;
  for (const i of fleet) {
    for (const [name, asked] of i.askedAt) {
      if (name === disabledName && asked >= DISABLE_AT) continue;
      const loaded = i.loadedAt.get(name);
      if (loaded === undefined) warmAllInstancesS = null;
      else if (warmAllInstancesS !== null) {
        warmAllInstancesS = Math.max(warmAllInstancesS, scenario === 'cold-fleet' ? loaded : loaded - asked);
      }
    }
  }

  if (warmAllInstancesS !== null) warmAllInstancesS = Math.round(warmAllInstancesS * 10) / 10;

  const perWindow = (from: number, to: number) => {
    const out: number[] = [];
    for (let w = Math.floor(from / 10); w < Math.ceil(to / 10); w++) out.push(windows.get(w) ?? 0);
    return out;
  };
  // Steady state: refreshes of names already held; first reads, rotation re-reads and checks are left out.
  const steadyWindows = (from: number, to: number) =>
    perWindow(from, to).map((n, i) => n - (notSteady.get(Math.floor(from / 10) + i) ?? 0));
  const peak = (from: number, to: number) => Math.max(0, ...perWindow(from, to));
  const mean = (all: number[]) => all.reduce((a, b) => a + b, 0) / Math.max(1, all.length);
  const steadyRanges: Array<[number, number]> = [[900, OUTAGE.from]];
  if (design === 'ledger' && scenario === 'cold-fleet') steadyRanges.push([HOUR_S + 1_800, BACKSTOP_S]);
  const storageSeconds = [...store.perSecond.entries()].filter(([s]) => s - START_WALL / 1000 < HOUR_S);
  const storageTotal = storageSeconds.reduce((sum, [, n]) => sum + n, 0);
  const cold = scenario === 'cold-fleet';
  return {
    scenario,
    instances,
    secrets,
    design,
    budgetPer10s,
    warmupPer10s,
    warmAllInstancesS,
    failedReads,
    cachedErrors,
    vaultPeakPer10s: peak(0, horizon),
    throttled429,
    coldPeakPer10s: peak(0, 120),
    steadyPeakPer10s: Math.max(0, ...steadyRanges.flatMap(([a, b]) => steadyWindows(a, b))),
    steadyWithChecksPeakPer10s: Math.max(
      0,
      ...steadyRanges.flatMap(([a, b]) =>
        steadyWindows(a, b).map((n, i) => n + (checkWindows.get(Math.floor(a / 10) + i) ?? 0)),
      ),
    ),
    steadyMeanPer10s: Math.round(mean(steadyWindows(...steadyRanges.at(-1)!)) * 10) / 10,
    allCallsPeak15to30: peak(900, OUTAGE.from),
    recoveryPeakPer10s: design === 'ledger-down' || !cold ? 0 : peak(OUTAGE.to, ROTATION_AT),
    staleServes,
    rotationAllInstancesS: cold ? watches.get(names[0]!)!.seconds() : null,
    rotationMaxGetsPerInstance: watches.get(names[0]!)!.maxGets(),
    lostEventConvergedS: design === 'ledger' && cold ? watches.get(lostName)!.seconds() : null,
    revokedStoppedS:
      design === 'ledger' && cold && disabledName
        ? lastServedDisabled === undefined
          ? 0
          : lastServedDisabled - DISABLE_AT
        : null,
    reenabledAllInstancesS:
      design === 'ledger' && cold && disabledName
        ? reenabledAt === undefined
          ? null
          : Math.round((reenabledAt - ENABLE_AT) * 10) / 10
        : null,
    checkCallsPer10s: Math.round((checkCalls / (horizon / 10)) * 100) / 100,
    checks,
    leaseRequests: store.leaseRequests,
    slotRequests: store.slotRequests,
    storageRps: store.peakPerSecond(START_WALL / 1000, START_WALL / 1000 + HOUR_S),
    storageMeanRps: Math.round((storageTotal / Math.min(HOUR_S, horizon)) * 10) / 10,
    reads,
    wallS: Math.round((performance.now() - wallStart) / 100) / 10,
  };
}

/** The revocation bound: ROTATION_LEDGER_CHECK_SECONDS + M × 10 / CHECK_PER_10S (the check) + a poll, + 1 s of grid. */
export const revocationBoundS = (secrets: number) => CHECK_S + (secrets * 10) / CHECK_PER_10S + POLL_S + 1;

/** A target of the "ledger" design: which runs it applies to, and whether a result meets it. */
interface Target {
  /** A short name for FLEET_ACKNOWLEDGED. */
  id: string;
  what: string;
  applies: (r: FleetResult) => boolean;
  met: (r: FleetResult) => boolean;
  figure: (r: FleetResult) => string;
}

const is = (scenario: Scenario, n: number, m: number) => (r: FleetResult) =>
  r.design === 'ledger' && r.scenario === scenario && r.instances === n && r.secrets === m;

export const FLEET_TARGETS: Target[] = [
  {
    id: 'cold-1000-warm',
    what: 'cold-fleet 1000 × 50: warmAllInstancesS ≤ 300',
    applies: is('cold-fleet', 1_000, 50),
    met: (r) => r.warmAllInstancesS !== null && r.warmAllInstancesS <= 300,
    figure: (r) => `${r.warmAllInstancesS}`,
  },
  {
    id: 'cold-1000-failed',
    what: 'cold-fleet 1000 × 50: failedReads ≤ 150000',
    applies: is('cold-fleet', 1_000, 50),
    met: (r) => r.failedReads <= 150_000,
    figure: (r) => `${r.failedReads}`,
  },
  {
    id: 'cold-1000-peak',
    what: 'cold-fleet 1000 × 50: vaultPeakPer10s ≤ 4000',
    applies: is('cold-fleet', 1_000, 50),
    met: (r) => r.vaultPeakPer10s <= 4_000,
    figure: (r) => `${r.vaultPeakPer10s} (429s: ${r.throttled429})`,
  },
  {
    id: 'cold-100-warm',
    what: 'cold-fleet 100 × 50: warmAllInstancesS ≤ 30',
    applies: is('cold-fleet', 100, 50),
    met: (r) => r.warmAllInstancesS !== null && r.warmAllInstancesS <= 30,
    figure: (r) => `${r.warmAllInstancesS}`,
  },
  {
    id: 'cold-100-failed',
    what: 'cold-fleet 100 × 50: failedReads ≤ 5000',
    applies: is('cold-fleet', 100, 50),
    met: (r) => r.failedReads <= 5_000,
    figure: (r) => `${r.failedReads}`,
  },
  {
    id: 'scale-out-warm',
    what: 'scale-out 1000 × 50: every first read has its value within 10 s',
    applies: is('scale-out', 1_000, 50),
    met: (r) => r.warmAllInstancesS !== null && r.warmAllInstancesS <= 10,
    figure: (r) => `${r.warmAllInstancesS}`,
  },
  {
    id: 'scale-out-failed',
    what: 'scale-out 1000 × 50: failedReads = 0',
    applies: is('scale-out', 1_000, 50),
    met: (r) => r.failedReads === 0,
    figure: (r) => `${r.failedReads}`,
  },
  {
    id: 'steady',
    what: 'steady 1000 × 50: ≤ 40 calls per 10 s',
    applies: is('cold-fleet', 1_000, 50),
    met: (r) => r.steadyPeakPer10s <= 40,
    figure: (r) => `${r.steadyPeakPer10s} (${r.steadyWithChecksPeakPer10s} with the version checks' calls)`,
  },
  {
    id: 'rotation',
    what: 'rotation to every holder ≤ 15 s',
    applies: (r) => r.design === 'ledger' && r.scenario === 'cold-fleet' && r.instances > 1,
    met: (r) => r.rotationAllInstancesS !== null && r.rotationAllInstancesS <= 15,
    figure: (r) => `${r.instances} × ${r.secrets}: ${r.rotationAllInstancesS}`,
  },
  {
    id: 'lost-event',
    what: 'lost event: lostEventConvergedS ≤ 600',
    applies: (r) => r.design === 'ledger' && r.scenario === 'cold-fleet',
    met: (r) => r.lostEventConvergedS !== null && r.lostEventConvergedS <= 600,
    figure: (r) => `${r.instances} × ${r.secrets}: ${r.lostEventConvergedS}`,
  },
  {
    id: 'check-cost',
    what: 'version checks ≤ 1% of the vault limit (40 per 10 s)',
    applies: (r) => r.design === 'ledger' && r.scenario === 'cold-fleet',
    met: (r) => r.checkCallsPer10s <= VAULT_LIMIT_PER_10S / 100,
    figure: (r) => `${r.instances} × ${r.secrets}: ${r.checkCallsPer10s}`,
  },
  {
    id: 'revocation',
    what: 'disabled secret: no value served later than check interval + check duration + poll interval',
    applies: (r) => r.revokedStoppedS !== null,
    met: (r) => r.revokedStoppedS !== null && r.revokedStoppedS <= revocationBoundS(r.secrets),
    figure: (r) => `${r.instances} × ${r.secrets}: ${r.revokedStoppedS} (bound ${revocationBoundS(r.secrets)})`,
  },
];

function show(r: FleetResult): string {
  const pct = (n: number) => `${((n / VAULT_LIMIT_PER_10S) * 100).toFixed(1)}%`;
  const secondsOr = (s: number | null, none: string) => (s === null ? none : `${s} s`);
  const ledger = r.design === 'ledger' && r.scenario === 'cold-fleet';
  return (
    `| ${r.scenario} | ${r.instances} × ${r.secrets} | ${r.design} | ${secondsOr(r.warmAllInstancesS, 'never')} | ` +
    `${r.failedReads} | ${r.vaultPeakPer10s} (${r.throttled429} × 429) | ` +
    `${r.steadyPeakPer10s} (${pct(r.steadyPeakPer10s)}); ${r.steadyWithChecksPeakPer10s} with checks | ${r.cachedErrors} | ` +
    `${r.scenario === 'scale-out' || r.design === 'ledger-down' ? 'n/a' : secondsOr(r.rotationAllInstancesS, 'not within the run')} | ` +
    `${ledger ? secondsOr(r.lostEventConvergedS, 'not within the run') : 'n/a'} | ` +
    `${ledger ? `${secondsOr(r.revokedStoppedS, 'n/a')} / ${secondsOr(r.reenabledAllInstancesS, 'not within the run')}` : 'n/a'} | ` +
    `${r.design === 'today' ? 'n/a' : `${r.checkCallsPer10s} (${r.checks} checks)`} | ` +
    `${r.design === 'today' ? '0' : `${r.storageMeanRps} / ${r.storageRps}`} | ${r.wallS} s |`
  );
}

export async function fleetBench(
  full = process.env.FLEET_FULL === 'true',
  check = process.argv.includes('--check') || process.env.FLEET_CHECK === 'true',
): Promise<FleetResult[]> {
  const cells: Array<[Scenario, number, number, Design]> = full
    ? [
        ...(
          [
            [1, 5],
            [1, 50],
            [100, 5],
            [100, 50],
            [1_000, 5],
            [1_000, 50],
          ] as const
        ).flatMap(([n, m]) =>
          (['today', 'ledger', 'ledger-down'] as const).map((d): [Scenario, number, number, Design] => [
            'cold-fleet',
            n,
            m,
            d,
          ]),
        ),
        ['scale-out', 100, 50, 'ledger'],
        ['scale-out', 1_000, 50, 'ledger'],
      ]
    : [
        ['cold-fleet', 1, 5, 'ledger'],
        ['cold-fleet', 100, 50, 'today'],
        ['cold-fleet', 100, 50, 'ledger'],
        ['cold-fleet', 1_000, 50, 'ledger'],
        ['scale-out', 1_000, 50, 'ledger'],
      ];
  const started = performance.now();
  console.log(
    `\n== Fleet simulation (${full ? 'full matrix' : 'default matrix; FLEET_FULL=true for every fleet and design'}): ` +
      `cold-fleet = every instance starts at 0, Key Vault outage 30-35 min, one secret rotated at 45 min with its ` +
      `event delivered to one instance; ledger runs go on to ${BACKSTOP_S / 3600} h (a second secret rotated at 61 min ` +
      `with no event; a third disabled at 48 min and enabled at 55 min); scale-out = one instance joins per second ` +
      `up to N while traffic runs (${SCALE_OUT_S / 60} min). Reads every ${READ_INTERVAL_S} s per secret per ` +
      `instance; vault limit ${VAULT_LIMIT_PER_10S} calls / 10 s (429s count); budget 400 / N, warm-up ` +
      `${VAULT_LIMIT_PER_10S * WARMUP_SHARE} / N per 10 s; version check every ${CHECK_S} s; event-driven virtual time.`,
  );
  console.log(
    '| scenario | instances × secrets | design | warm | failed reads | vault peak / 10 s | steady peak (% of limit) | errors for cached names | rotation reaches every holder | lost event converged | disabled: last served / enabled: all serve | check calls / 10 s | storage req/s mean / peak | wall |',
  );
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  // The cells are independent: run them on up to FLEET_WORKERS worker threads (default 2), largest first.
  const workers = Math.max(1, Math.min(Number(process.env.FLEET_WORKERS ?? 2), availableParallelism()));
  const order = cells.map((cell, i) => ({ cell, i })).sort((a, b) => b.cell[1] * b.cell[2] - a.cell[1] * a.cell[2]);
  const results: FleetResult[] = new Array<FleetResult>(cells.length);
  const runOne = (cell: (typeof cells)[number]) =>
    new Promise<FleetResult>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: cell });
      worker.once('message', (r: FleetResult) => resolve(r));
      worker.once('error', reject);
    });
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let next = order.shift(); next !== undefined; next = order.shift()) {
        results[next.i] = await runOne(next.cell);
      }
    }),
  );
  for (const r of results) console.log(show(r));
  for (const r of results) {
    console.log(`FLEET ${JSON.stringify(r, (key, value: unknown) => (key === 'wallS' ? undefined : value))}`);
  }
  const wall = (performance.now() - started) / 1000;
  console.log(`(fleet simulation: ${wall.toFixed(1)} s of wall time)`);
  if (check) {
    const missed: string[] = [];
    for (const target of FLEET_TARGETS) {
      const runs = results.filter(target.applies);
      if (runs.length === 0) continue;
      const ok = runs.every(target.met);
      const line = `FLEET-CHECK ${ok ? 'met' : 'MISSED'} [${target.id}]: ${target.what} — ${runs.map(target.figure).join('; ')}`;
      console.log(line);
      if (!ok) missed.push(target.id);
    }
    // A miss CI acknowledges, with its reason, in .ci/run (FLEET_ACKNOWLEDGED: target ids, comma-separated) is
    // still printed as MISSED but does not fail the run; every other miss does.
    const acknowledged = new Set((process.env.FLEET_ACKNOWLEDGED ?? '').split(',').map((id) => id.trim()));
    const failing = missed.filter((m) => !acknowledged.has(m));
    const known = missed.filter((m) => acknowledged.has(m));
    if (known.length > 0) console.log(`FLEET-CHECK: acknowledged in FLEET_ACKNOWLEDGED: ${known.join(', ')}`);
    if (failing.length > 0) {
      console.log(`FLEET-CHECK: ${failing.length} target(s) missed: ${failing.join(', ')}`);
      process.exitCode = 1;
    } else console.log(`FLEET-CHECK: every target met${known.length > 0 ? ' but the acknowledged ones' : ''}`);
  }
  return results;
}

if (!isMainThread && Array.isArray(workerData)) {
  const [scenario, n, m, design] = workerData as [Scenario, number, number, Design];
  parentPort!.postMessage(await simulate(n, m, design, scenario));
} else if (import.meta.url === `file://${process.argv[1]}`) await fleetBench();
