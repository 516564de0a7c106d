/**
 * Fleet simulation (`npm run bench:fleet`; also part of `npm run bench`): N instances × M secrets sharing one vault,
 * on a virtual clock — no real time, no network. Each instance is the app's real Key Vault service (cache policy,
 * jittered refresh ahead, call policy with its per-instance budget) with the Key Vault call replaced at its seam by a
 * model of one vault, and, in the ledger designs, the app's real rotation ledger with its storage replaced by a model
 * of one blob (scripts/ledgerModel.ts: ETags, 304, If-Match).
 *
 * The vault model answers in the same 1-s step, and throttles (429, Retry-After) beyond 4,000 GETs per 10 s, Key
 * Vault's limit per vault. The blob model answers in the same 1-s step too (a real GET takes tens of ms: modelled
 * latency is under one step, so every time below is at most 1 s optimistic). Timeline of one virtual hour:
 * - t = 0: the whole fleet starts cold at once and reads every secret;
 * - each instance reads each secret once per READ_INTERVAL_S (60 s) at its own random phase;
 * - t = 30–35 min: a 5-minute Key Vault outage (every call fails with 503);
 * - t = 45 min: one secret gets a new version, and Event Grid delivers SecretNewVersionCreated to one instance.
 * Each instance's budget is KEY_VAULT_BUDGET_PER_10S = 400 / N (the fleet's steady share: 10% of the vault's limit, as
 * docs/configuration.md recommends).
 *
 * Three designs, same timeline, same seeds, printed side by side:
 * - today: no ledger, SECRET_CACHE_TTL_SECONDS = 300 (what the app did before the ledger, and does without one);
 * - ledger: ROTATION_LEDGER_URL set, polls every ROTATION_LEDGER_POLL_SECONDS = 5 (modelled: a fixed phase per
 *   instance, no ±20% jitter), backstop TTL SECRET_CACHE_BACKSTOP_TTL_SECONDS = 43,200. The hour is followed by the
 *   rest of the backstop TTL (to 12 h) with coarser steps — reads every 30 min, polls every 60 s — to see the first
 *   backstop refresh wave after the cold start (the steady state's worst 10 s) and a lost event (a second secret gets
 *   a new version at 61 min and no event is delivered: how long until every instance has it);
 * - ledger down: ledger configured but unreachable from the start (first 30 min only): must look like today. Its
 *   polls back off as the app's do (RotationLedger.nextPollDelayMs: doubling to 60 s, jittered), each taken at the
 *   instance's first phase tick after the delay, so within POLL_S of the app's schedule.
 *
 * Printed per (N, M) and design: Key Vault calls per 10 s (peak at cold start; peak and mean in steady state, i.e.
 * refreshes of names already held, from 15 to 30 min and, with a ledger, from 1.5 h to 12 h; and, as the earlier
 * tables counted it, every call from 15 to 30 min, first reads of a cold start still loading included), 503s
 * for names an instance had never read (cold start), errors for names it had read (target 0), rotation time to every
 * instance holding the secret and the most GETs any instance made for it, lost-event convergence, and the storage
 * requests per second the ledger costs. One `FLEET {...}` JSON line per scenario and design for comparing runs.
 * FLEET_FULL=true runs the whole matrix (1, 100, 1,000 instances × 5, 50 secrets); the default runs 1 × 5,
 * 100 × 50 and 1,000 × 50, the corners the targets name.
 */
import { LedgerModel } from './ledgerModel.js';
import { parseConfig } from '../src/config.js';
import { KeyVaultFailure, KeyVaultService, type SecretFetch } from '../src/keyVault/index.js';
import { secretRecord } from '../src/keyVault/testing.js';
import { RotationLedger } from '../src/ledger/rotationLedger.js';

const VAULT = 'https://fleet.vault.azure.net/';
const LEDGER_URL = 'https://stfleet.blob.core.windows.net/rotation-ledger/fleet.json';
const VAULT_LIMIT_PER_10S = 4_000;
const HOUR_S = 3_600;
const READ_INTERVAL_S = Number(process.env.FLEET_READ_INTERVAL_S ?? 60);
const POLL_S = 5;
const BACKSTOP_S = 43_200;
/** Coarse steps after the first hour (ledger design only). */
const LONG_READ_INTERVAL_S = 1_800;
const LONG_POLL_S = 60;
const OUTAGE = { from: 1_800, to: 2_100 };
const ROTATION_AT = 2_700;
const LOST_EVENT_AT = HOUR_S + 60;
const START_WALL = Date.UTC(2026, 0, 5);

export type Design = 'today' | 'ledger' | 'ledger-down';

export interface FleetResult {
  instances: number;
  secrets: number;
  design: Design;
  budgetPer10s: number;
  coldPeakPer10s: number;
  steadyPeakPer10s: number;
  steadyMeanPer10s: number;
  /** All Key Vault calls, 15-30 min, peak per 10 s (the earlier tables' "steady", first reads included). */
  allCallsPeak15to30: number;
  recoveryPeakPer10s: number;
  uncached503: number;
  cachedErrors: number;
  staleServes: number;
  throttledByVault: number;
  rotationAllInstancesS: number | null;
  rotationMaxGetsPerInstance: number;
  lostEventConvergedS: number | null;
  storageRps: number;
  storageMeanRps: number;
  reads: number;
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

/** Tracks which instances hold a secret's new version since it was rotated, and GETs per instance for it. */
class RotationWatch {
  at: number | undefined;
  /** When the first instance got the new version, and when the last holder did. */
  firstAt: number | undefined;
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
    this.firstAt ??= t;
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

export async function simulate(instances: number, secrets: number, design: Design): Promise<FleetResult> {
  let nowMs = 1_000; // lru-cache treats a start time of 0 as "no TTL"
  const clock = { now: () => nowMs };
  const wallClock = () => START_WALL + nowMs;
  const random = seeded(instances * 1_000 + secrets);
  const windows = new Map<number, number>();
  /**
   * Per 10-s window, the GETs that are not the steady state's: first reads of a name by an instance (a cold start
   * still loading, which the budget paces at 1,000 instances) and the GETs that carried a rotation to an instance.
   */
  const notSteady = new Map<number, number>();
  let holds: (instance: number, name: string) => boolean = () => false;
  const versions = new Map<string, number>();
  let throttledByVault = 0;
  const names = Array.from({ length: secrets }, (_, i) => `fleet-secret-${i}`);
  const watches = new Map<string, RotationWatch>([
    [names[0]!, new RotationWatch()],
    [names[1] ?? names[0]!, new RotationWatch()],
  ]);

  const fetchFor =
    (instance: number): SecretFetch =>
    (_vault, name) =>
      Promise.resolve().then(() => {
        const t = nowMs / 1000;
        const w = Math.floor(t / 10);
        const calls = (windows.get(w) ?? 0) + 1;
        windows.set(w, calls);
        if (calls > VAULT_LIMIT_PER_10S) {
          throttledByVault += 1;
          throw new KeyVaultFailure('throttled', 'Key Vault is throttling requests (429).', {
            statusCode: 429,
            retryAfterSeconds: 10 - (t % 10),
          });
        }
        if (t >= OUTAGE.from && t < OUTAGE.to) {
          throw new KeyVaultFailure('service-error', 'Key Vault failed (503).', { statusCode: 503 });
        }
        const version = versions.get(name) ?? 1;
        const rotation = watches.get(name)?.fetched(instance, version > 1, Math.floor(t)) ?? false;
        if (rotation || !holds(instance, name)) notSteady.set(w, (notSteady.get(w) ?? 0) + 1);
        return secretRecord(name, `${name}-v${version}`, hex(version));
      });

  const budgetPer10s = Math.max(0.1, Math.min(4_000, (VAULT_LIMIT_PER_10S * 0.1) / instances));
  const withLedger = design !== 'today';
  const config = parseConfig({
    KEY_VAULT_URL: VAULT,
    KEY_VAULT_BUDGET_PER_10S: String(budgetPer10s),
    ...(withLedger
      ? {
          ROTATION_LEDGER_URL: LEDGER_URL,
          ROTATION_LEDGER_POLL_SECONDS: String(POLL_S),
          SECRET_CACHE_BACKSTOP_TTL_SECONDS: String(BACKSTOP_S),
        }
      : {}),
  });
  const store = new LedgerModel(wallClock);
  store.down = design === 'ledger-down';
  const quiet = { warn: () => undefined, info: () => undefined };
  const fleet = Array.from({ length: instances }, (_, index) => {
    const service = new KeyVaultService({ config, fetchSecret: fetchFor(index), clock, log: quiet });
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
    return {
      index,
      service,
      ledger,
      known: new Set<string>(),
      pollPhase: Math.floor(random() * POLL_S),
      /** While the ledger is failing: no poll before this second (its backoff). */
      resumeAt: 0,
    };
  });
  type Instance = (typeof fleet)[number];
  holds = (instance, name) => fleet[instance]!.known.has(name);

  const scheduleOf = (interval: number) => {
    const schedule: Array<Array<[Instance, string]>> = Array.from({ length: interval }, () => []);
    for (const instance of fleet) {
      for (const name of names) schedule[Math.floor(random() * interval)]!.push([instance, name]);
    }
    return schedule;
  };
  const schedule = scheduleOf(READ_INTERVAL_S);
  const longSchedule = withLedger ? scheduleOf(LONG_READ_INTERVAL_S) : [];
  const everything = fleet.flatMap((instance) => names.map((name): [Instance, string] => [instance, name]));

  let uncached503 = 0;
  let cachedErrors = 0;
  let staleServes = 0;
  let reads = 0;
  const horizon = design === 'ledger' ? BACKSTOP_S : design === 'ledger-down' ? OUTAGE.from : HOUR_S;

  const rotate = (t: number, name: string, event: boolean) => {
    versions.set(name, (versions.get(name) ?? 1) + 1);
    watches.get(name)!.start(
      t,
      fleet.filter((i) => i.known.has(name)).map((i) => i.index),
    );
    if (!event) return;
    // Event Grid delivers the event to one instance: what the secretEvents function does with it.
    const receiver = fleet[0]!;
    receiver.ledger?.rotationEvent(VAULT, name, hex(versions.get(name)!));
    receiver.service.secretRotated(VAULT, name, hex(versions.get(name)!));
  };

  for (let t = 0; t < horizon; t++) {
    nowMs = 1_000 + t * 1_000;
    if (t === ROTATION_AT) rotate(t, names[0]!, true);
    if (t === LOST_EVENT_AT && names[1]) rotate(t, names[1], false);
    const long = t >= HOUR_S;
    const due = t === 0 ? everything : long ? longSchedule[t % LONG_READ_INTERVAL_S]! : schedule[t % READ_INTERVAL_S]!;
    for (const [instance, name] of due) {
      reads += 1;
      try {
        const { cache } = await instance.service.read({ vaultUrl: VAULT, name });
        if (cache === 'stale') staleServes += 1;
        instance.known.add(name);
      } catch {
        if (instance.known.has(name)) cachedErrors += 1;
        else uncached503 += 1;
      }
    }
    const pollEvery = long ? LONG_POLL_S : POLL_S;
    const polling = fleet.filter((i) => i.ledger && (t + i.pollPhase) % pollEvery === 0 && t >= i.resumeAt);
    await Promise.all(polling.map((i) => i.ledger!.poll()));
    for (const i of polling) {
      const failing = i.ledger!.status().consecutiveFailures > 0;
      i.resumeAt = failing ? t + i.ledger!.nextPollDelayMs() / 1000 : 0;
    }
    // Let background refreshes and ledger writes started at this instant finish at this instant.
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  }

  const perWindow = (from: number, to: number) => {
    const out: number[] = [];
    for (let w = Math.floor(from / 10); w < Math.ceil(to / 10); w++) out.push(windows.get(w) ?? 0);
    return out;
  };
  // Steady state: refreshes of names already held; first reads and rotation re-reads are left out.
  const steadyWindows = (from: number, to: number) =>
    perWindow(from, to).map((n, i) => n - (notSteady.get(Math.floor(from / 10) + i) ?? 0));
  const peak = (from: number, to: number) => Math.max(0, ...perWindow(from, to));
  const mean = (all: number[]) => all.reduce((a, b) => a + b, 0) / Math.max(1, all.length);
  // Steady state: 15-30 min; with a ledger also from 1.5 h (after the lost event settled) to the backstop TTL,
  // where the first backstop refresh wave after the cold start falls.
  const steadyRanges: Array<[number, number]> = [[900, OUTAGE.from]];
  if (design === 'ledger') steadyRanges.push([HOUR_S + 1_800, BACKSTOP_S]);
  const storageSeconds = [...store.perSecond.entries()].filter(([s]) => s - START_WALL / 1000 < HOUR_S);
  const storageTotal = storageSeconds.reduce((sum, [, n]) => sum + n, 0);
  return {
    instances,
    secrets,
    design,
    budgetPer10s,
    coldPeakPer10s: peak(0, 120),
    steadyPeakPer10s: Math.max(0, ...steadyRanges.flatMap(([a, b]) => steadyWindows(a, b))),
    steadyMeanPer10s: Math.round(mean(steadyWindows(...steadyRanges.at(-1)!)) * 10) / 10,
    allCallsPeak15to30: peak(900, OUTAGE.from),
    recoveryPeakPer10s: design === 'ledger-down' ? 0 : peak(OUTAGE.to, ROTATION_AT),
    uncached503,
    cachedErrors,
    staleServes,
    throttledByVault,
    rotationAllInstancesS: watches.get(names[0]!)!.seconds(),
    rotationMaxGetsPerInstance: watches.get(names[0]!)!.maxGets(),
    lostEventConvergedS: design === 'ledger' ? watches.get(names[1] ?? names[0]!)!.seconds() : null,
    storageRps: store.peakPerSecond(START_WALL / 1000, START_WALL / 1000 + HOUR_S),
    storageMeanRps: Math.round((storageTotal / HOUR_S) * 10) / 10,
    reads,
  };
}

function show(r: FleetResult): string {
  const pct = (n: number) => `${((n / VAULT_LIMIT_PER_10S) * 100).toFixed(1)}%`;
  const secondsOr = (s: number | null, none: string) => (s === null ? none : `${s} s`);
  return (
    `| ${r.instances} × ${r.secrets} | ${r.design} | ${r.coldPeakPer10s} | ${r.steadyPeakPer10s} (${pct(r.steadyPeakPer10s)}) | ` +
    `${r.steadyMeanPer10s} | ${r.allCallsPeak15to30} | ${r.design === 'ledger-down' ? 'n/a' : r.recoveryPeakPer10s} | ${r.uncached503} | ` +
    `${r.cachedErrors} | ` +
    `${r.design === 'ledger-down' ? 'n/a' : `${secondsOr(r.rotationAllInstancesS, 'not within the run')}, ≤ ${r.rotationMaxGetsPerInstance} GET`} | ` +
    `${r.design === 'ledger' ? secondsOr(r.lostEventConvergedS, `not within ${BACKSTOP_S - LOST_EVENT_AT} s`) : 'n/a'} | ` +
    `${r.design === 'today' ? '0' : `${r.storageMeanRps} / ${r.storageRps}`} |`
  );
}

export async function fleetBench(full = process.env.FLEET_FULL === 'true'): Promise<FleetResult[]> {
  const matrix: Array<[number, number]> = full
    ? [
        [1, 5],
        [1, 50],
        [100, 5],
        [100, 50],
        [1_000, 5],
        [1_000, 50],
      ]
    : [
        [1, 5],
        [100, 50],
        [1_000, 50],
      ];
  console.log(
    `\n== Fleet simulation (${full ? 'full matrix' : 'default matrix; FLEET_FULL=true for all six'}): cold start at 0, ` +
      `Key Vault outage 30-35 min, one secret rotated at 45 min with its event delivered to one instance; reads ` +
      `every ${READ_INTERVAL_S} s; vault limit ${VAULT_LIMIT_PER_10S} GET / 10 s. today = TTL ${300} s, no ledger; ` +
      `ledger = poll ${POLL_S} s, backstop TTL ${BACKSTOP_S} s, run to ${BACKSTOP_S / 3600} h (after 1 h: reads ` +
      `every ${LONG_READ_INTERVAL_S} s, polls every ${LONG_POLL_S} s; a second secret rotated at 61 min with no ` +
      `event); ledger-down = ledger configured, unreachable (polls back off to 60 s), first 30 min. Storage answers in the same 1-s step.`,
  );
  console.log(
    '| instances × secrets | design | Key Vault calls / 10 s: cold peak | steady peak (% of limit) | steady mean | all calls 15-30 min | after outage | 503 for uncached names | errors for cached names | rotation reaches every holder | lost event converged | storage req/s mean / peak |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const results: FleetResult[] = [];
  const lines: string[] = [];
  for (const [n, m] of matrix) {
    for (const design of ['today', 'ledger', 'ledger-down'] as const) {
      const r = await simulate(n, m, design);
      results.push(r);
      console.log(show(r));
      lines.push(
        `FLEET ${JSON.stringify({
          instances: r.instances,
          secrets: r.secrets,
          design: r.design,
          steadyPeakPer10s: r.steadyPeakPer10s,
          coldPeakPer10s: r.coldPeakPer10s,
          rotationAllInstancesS: r.rotationAllInstancesS,
          uncached503: r.uncached503,
          storageRps: r.storageRps,
          steadyMeanPer10s: r.steadyMeanPer10s,
          allCallsPeak15to30: r.allCallsPeak15to30,
          cachedErrors: r.cachedErrors,
          rotationMaxGetsPerInstance: r.rotationMaxGetsPerInstance,
          lostEventConvergedS: r.lostEventConvergedS,
          storageMeanRps: r.storageMeanRps,
        })}`,
      );
    }
  }
  for (const line of lines) console.log(line);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await fleetBench();
