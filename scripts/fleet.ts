/**
 * Fleet simulation (part of `npm run bench`; also `node dist/scripts/fleet.js`): N instances × M secrets sharing
 * one vault, over one simulated hour on a virtual clock — no real time, no network. Each instance is the app's real
 * Key Vault service (cache policy, jittered refresh ahead, call policy with its per-instance budget) with the Key
 * Vault call replaced at its seam by a model of one vault:
 * - it answers at once, and throttles (429, Retry-After) beyond 4,000 GETs per 10 s, Key Vault's limit per vault;
 * - t = 0: the whole fleet starts cold at once and reads every secret;
 * - t = 30–35 min: a 5-minute outage (every call fails with 503);
 * - t = 45 min: every secret gets a new version (a rotation).
 * Each instance reads each secret once per READ_INTERVAL_S, each (instance, secret) at its own random phase (after the
 * cold start, where every instance reads every secret at t = 0). Each instance's budget is
 * KEY_VAULT_BUDGET_PER_10S = 400 / N (the fleet's steady share: 10% of the vault's limit), as docs/configuration.md recommends.
 *
 * Printed per (N, M): the budget, peak Key Vault calls per 10 s at cold start, in steady state and after the
 * outage, 503s served for names an instance had never read (cold start), errors served for names it had read
 * (target 0 within max staleness), stale serves, and how long the rotation took to reach every instance.
 */
import { parseConfig } from '../src/config.js';
import { KeyVaultFailure, KeyVaultService, type SecretFetch } from '../src/keyVault/index.js';

const VAULT = 'https://fleet.vault.azure.net/';
const VAULT_LIMIT_PER_10S = 4_000;
const HOUR_S = 3_600;
const READ_INTERVAL_S = Number(process.env.FLEET_READ_INTERVAL_S ?? 60);
const OUTAGE = { from: 1_800, to: 2_100 };
const ROTATION_AT = 2_700;

interface Result {
  instances: number;
  secrets: number;
  budgetPer10s: number;
  coldPeak: number;
  steadyPeak: number;
  recoveryPeak: number;
  cold503: number;
  cachedErrors: number;
  staleServes: number;
  throttledByVault: number;
  rotationSeconds: number | undefined;
  reads: number;
}

/** A deterministic random source, so two runs print the same table. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

export async function simulate(instances: number, secrets: number): Promise<Result> {
  let nowMs = 1_000; // lru-cache treats a start time of 0 as "no TTL"
  const clock = { now: () => nowMs };
  const random = seeded(instances * 1_000 + secrets);
  const windows = new Map<number, number>();
  let version = 1;
  let throttledByVault = 0;

  // Answers at once (a resolved promise): the model has no latency, only the vault's limit and the outage.
  const fetchSecret: SecretFetch = (_vault, name) =>
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
      return {
        name,
        value: `${name}-v${version}`,
        version: version.toString(16).padStart(32, '0'),
        contentType: null,
        enabled: true,
        createdOn: null,
        updatedOn: null,
        expiresOn: null,
        notBefore: null,
      };
    });

  const budgetPer10s = Math.max(0.1, Math.min(4_000, (VAULT_LIMIT_PER_10S * 0.1) / instances));
  const config = parseConfig({ KEY_VAULT_URL: VAULT, KEY_VAULT_BUDGET_PER_10S: String(budgetPer10s) });
  const quiet = { warn: () => undefined, info: () => undefined };
  const fleet = Array.from({ length: instances }, () => ({
    service: new KeyVaultService({ config, fetchSecret, clock, log: quiet }),
    known: new Set<string>(),
    rotatedSeen: new Set<string>(),
  }));
  const names = Array.from({ length: secrets }, (_, i) => `fleet-secret-${i}`);
  type Instance = (typeof fleet)[number];
  // schedule[s]: the (instance, secret) pairs read at every t with t % READ_INTERVAL_S === s.
  const schedule: Array<Array<[Instance, string]>> = Array.from({ length: READ_INTERVAL_S }, () => []);
  for (const instance of fleet) {
    for (const name of names) schedule[Math.floor(random() * READ_INTERVAL_S)]!.push([instance, name]);
  }
  const everything = fleet.flatMap((instance) => names.map((name): [Instance, string] => [instance, name]));

  let cold503 = 0;
  let cachedErrors = 0;
  let staleServes = 0;
  let reads = 0;
  let rotationDone: number | undefined;
  let rotatedPairs = 0;

  for (let t = 0; t < HOUR_S; t++) {
    if (t === ROTATION_AT) version += 1;
    nowMs = 1_000 + t * 1_000;
    for (const [instance, name] of t === 0 ? everything : schedule[t % READ_INTERVAL_S]!) {
      reads += 1;
      try {
        const { record, cache } = await instance.service.read({ vaultUrl: VAULT, name });
        if (cache === 'stale') staleServes += 1;
        instance.known.add(name);
        if (t >= ROTATION_AT && record.value.endsWith(`-v${version}`) && !instance.rotatedSeen.has(name)) {
          instance.rotatedSeen.add(name);
          rotatedPairs += 1;
          if (rotatedPairs === instances * secrets) rotationDone = t - ROTATION_AT;
        }
      } catch {
        if (instance.known.has(name)) cachedErrors += 1;
        else cold503 += 1;
      }
    }
    // Let background refreshes started by these reads finish at this instant.
    await new Promise((r) => setImmediate(r));
  }

  const peak = (from: number, to: number) => {
    let max = 0;
    for (let w = Math.floor(from / 10); w < Math.ceil(to / 10); w++) max = Math.max(max, windows.get(w) ?? 0);
    return max;
  };
  return {
    instances,
    secrets,
    budgetPer10s,
    coldPeak: peak(0, 120),
    steadyPeak: peak(900, OUTAGE.from),
    recoveryPeak: peak(OUTAGE.to, ROTATION_AT),
    cold503,
    cachedErrors,
    staleServes,
    throttledByVault,
    rotationSeconds: rotationDone,
    reads,
  };
}

export async function fleetBench(): Promise<void> {
  console.log(
    `\n== Fleet simulation: one virtual hour, cold start at 0, outage 30-35 min, rotation at 45 min, each instance ` +
      `reads each secret every ${READ_INTERVAL_S} s; vault limit ${VAULT_LIMIT_PER_10S} GET / 10 s`,
  );
  console.log(
    '| instances | secrets | budget / 10 s / instance | peak calls / 10 s: cold start | steady (% of limit) | after outage | 503 for uncached names (cold start) | errors for cached names | stale serves | rotation reaches every instance |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const n of [1, 100, 1_000]) {
    for (const m of [5, 50]) {
      const r = await simulate(n, m);
      const pct = ((r.steadyPeak / VAULT_LIMIT_PER_10S) * 100).toFixed(1);
      console.log(
        `| ${n} | ${m} | ${r.budgetPer10s} | ${r.coldPeak} | ${r.steadyPeak} (${pct}%) | ${r.recoveryPeak} | ` +
          `${r.cold503} | ${r.cachedErrors} | ${r.staleServes} | ` +
          `${r.rotationSeconds === undefined ? `not within ${HOUR_S - ROTATION_AT} s` : `${r.rotationSeconds} s`} |`,
      );
      if (r.throttledByVault > 0) console.log(`   (the vault throttled ${r.throttledByVault} calls)`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await fleetBench();
