/**
 * `npm run bench` (not part of `npm test`): prints, measured in one run,
 *  1. Key Vault calls and p50/p99 handler latency for 10,000 secret reads over 5 names at 100 concurrency, through
 *     this app's store and through a naive per-request fetch (new credential + client + GET per request: the pattern
 *     of the samples this project replaces), side by side, as ratios; plus the ping handler for reference;
 *  2. module load time of the app entry (unbundled dist/ and the esbuild bundle) vs a bare `@azure/functions` load;
 *  3. the fleet simulation (scripts/fleet.ts; `npm run bench:fleet` runs it alone, BENCH_FLEET=false skips it): by
 *     the longest part. Its default matrix (five runs, the ledger ones to 12 h of virtual time, event-driven, on two
 *     worker threads) takes one to a few minutes on a 2-core machine, depending on its load (docs/performance.md).
 * Each target line says whether the target was met or missed in this run; each part ends with how long it took.
 *
 * Backend: an in-process stand-in for the Key Vault call with a fixed latency (BENCH_KV_LATENCY_MS, default 10) at
 * the service's fetch seam — labelled as such in the output. A real vault only when asked for explicitly with both
 * BENCH_REAL_VAULT=true and KEY_VAULT_URL (e.g. an emulator from `npm run vault:start`): the bench then writes five
 * `bench-*` secrets into that vault, and makes its naive reads gently (BENCH_REAL_NAIVE_READS, default 200, at
 * concurrency 5), because a shared (and purge-protected) vault must not be hammered by a benchmark. An exported
 * KEY_VAULT_URL alone (e.g. after `eval "$(azd env get-values)"`) is ignored with a note.
 *
 * The handlers are loaded outside the Functions host, so @azure/functions runs in its test mode and prints a WARNING
 * per registration; those exact lines (functions-test-mode.mjs) are dropped, every other warning is printed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import functions, { type HttpResponseInit } from '@azure/functions';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { configureKeyVault, type SecretFetch } from 'functions-keyvault/internal/keyVault/index.js';
import { secretRecord } from 'functions-keyvault/testing';
import type * as TestModeModule from './functions-test-mode.mjs';

const { HttpRequest, InvocationContext } = functions;
const ROOT = resolve(import.meta.dirname, '..', '..');

// Drop @azure/functions' test-mode notices (printed when the function modules below register), nothing else.
const { TEST_MODE_NOTICE } = (await import(
  pathToFileURL(join(ROOT, 'scripts', 'functions-test-mode.mjs')).href
)) as typeof TestModeModule;
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && TEST_MODE_NOTICE.test(args[0])) return;
  warn(...args);
};
const { getSecret } = await import('../src/functions/getSecret.js');
const { ping } = await import('../src/functions/ping.js');
const { fleetBench } = await import('./fleet.js');
const READS = Number(process.env.BENCH_READS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const NAMES = ['bench-a', 'bench-b', 'bench-c', 'bench-d', 'bench-e'];
const LOAD_RUNS = Number(process.env.BENCH_LOAD_RUNS ?? 15);

/** "met" or "MISSED", for a target line. */
function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED';
}

/** A ratio as printed (two decimals), so a target line's verdict agrees with the figure it shows. */
function ratio(value: number): number {
  return Number(value.toFixed(2));
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function median(values: number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

const quietContext = () => new InvocationContext({ logHandler: () => undefined });

async function runLoad(
  call: (name: string) => Promise<HttpResponseInit> | HttpResponseInit,
  reads = READS,
  concurrency = CONCURRENCY,
): Promise<{ p50: number; p99: number; errors: number }> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  async function worker(): Promise<void> {
    while (next < reads) {
      const i = next++;
      const started = performance.now();
      const response = await call(NAMES[i % NAMES.length]!);
      latencies.push(performance.now() - started);
      if ((response.status ?? 200) !== 200) errors += 1;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), errors };
}

function secretRequest(name: string) {
  return new HttpRequest({ method: 'GET', url: `http://localhost/api/secrets/${name}`, params: { name } });
}

async function cacheBench(): Promise<void> {
  const config = parseConfig(process.env);
  const realVault = process.env.BENCH_REAL_VAULT === 'true' ? config.vaultUrl : undefined;
  if (config.vaultUrl && !realVault) {
    console.log(`   note: KEY_VAULT_URL is set but ignored; BENCH_REAL_VAULT=true benchmarks against that vault.`);
  }
  const latencyMs = Number(process.env.BENCH_KV_LATENCY_MS ?? 10);
  let calls = 0;
  let backend: string;
  let storeFetch: SecretFetch | undefined;
  let naiveRead: (name: string) => Promise<unknown>;

  if (realVault) {
    backend = `real vault ${realVault} (real SDK and credential)`;
    const { SecretClients } = await import('functions-keyvault/internal/keyVault/secretClient.js');
    const { chooseIdentity } = await import('functions-keyvault/internal/keyVault/identity.js');
    const identity = chooseIdentity(config.identity);
    const seed = new SecretClients(identity, config).client(realVault);
    for (const name of NAMES) await seed.setSecret(name, `value-of-${name}`);
    const counted = new SecretClients(identity, config);
    storeFetch = (...args) => {
      calls += 1;
      return counted.fetchSecret(...args);
    };
    naiveRead = async (name) => {
      calls += 1;
      // The naive pattern: a new credential and client per request.
      const perRequest = new SecretClients(identity, config);
      return perRequest.client(realVault).getSecret(name);
    };
  } else {
    backend =
      `in-process stand-in for the Key Vault call, ${latencyMs} ms per call ` +
      '(BENCH_REAL_VAULT=true and KEY_VAULT_URL for a real vault)';
    const fake: SecretFetch = async (_vault, name, version) => {
      calls += 1;
      await new Promise((r) => setTimeout(r, latencyMs));
      return secretRecord(name, `value-of-${name}`, version ?? '0'.repeat(32));
    };
    storeFetch = fake;
    naiveRead = (name) => fake('https://bench.vault.azure.net/', name, undefined, new AbortController().signal);
  }

  const env = {
    ...process.env,
    KEY_VAULT_URL: realVault ?? 'https://bench.vault.azure.net/',
    SECRETS_ALLOWED: 'bench-*',
    KEY_VAULT_TIMEOUT_MS: '30000',
  };
  configureKeyVault({
    config: parseConfig(env),
    fetchSecret: storeFetch,
    log: { warn: () => undefined, info: () => undefined },
  });

  console.log(`\n== Secret reads: ${READS} over ${NAMES.length} names at concurrency ${CONCURRENCY}`);
  console.log(`   backend: ${backend}`);

  calls = 0;
  const storeResult = await runLoad((name) => getSecret(secretRequest(name), quietContext()));
  const storeCalls = calls;

  // The cached steady state: same store, now warm.
  calls = 0;
  const warm = await runLoad((name) => getSecret(secretRequest(name), quietContext()));
  const warmCalls = calls;
  const pingResult = await runLoad(() =>
    ping(new HttpRequest({ method: 'GET', url: 'http://localhost/api/ping' }), quietContext()),
  );

  calls = 0;
  const naiveReads = realVault ? Number(process.env.BENCH_REAL_NAIVE_READS ?? 200) : READS;
  const naiveResult = await runLoad(
    async (name) => {
      await naiveRead(name);
      return { status: 200 };
    },
    naiveReads,
    realVault ? 5 : CONCURRENCY,
  );
  // Scaled to READS so the ratio compares like with like when the naive run was shortened for a real vault.
  const naiveCallsPerRead = calls / naiveReads;
  const naiveCalls = Math.round(naiveCallsPerRead * READS);

  const row = (label: string, kvCalls: number | string, r: { p50: number; p99: number; errors: number }) =>
    console.log(
      `   ${label.padEnd(34)} Key Vault calls ${String(kvCalls).padStart(6)}   p50 ${r.p50.toFixed(3).padStart(8)} ms   p99 ${r.p99.toFixed(3).padStart(8)} ms   errors ${r.errors}`,
    );
  row('naive per-request fetch', naiveCalls, naiveResult);
  row('this store (cold start of run)', storeCalls, storeResult);
  row('this store (warm)', warmCalls, warm);
  row('ping handler (reference)', '-', pingResult);
  const fewer = Math.round(naiveCalls / Math.max(storeCalls, 1));
  console.log(`   Key Vault calls, naive / store: ${fewer}x fewer (target >= 1000x: ${verdict(fewer >= 1000)})`);
  console.log(
    `   handler p50, naive / store: ${(naiveResult.p50 / storeResult.p50).toFixed(1)}x; p99: ${(naiveResult.p99 / storeResult.p99).toFixed(1)}x`,
  );
  const [p50Ratio, p99Ratio] = [ratio(warm.p50 / pingResult.p50), ratio(warm.p99 / pingResult.p99)];
  console.log(
    `   cached read vs ping handler, p50: ${p50Ratio.toFixed(2)}x, p99: ${p99Ratio.toFixed(2)}x ` +
      `(target <= 2x at p50 and p99: ${verdict(p50Ratio <= 2 && p99Ratio <= 2)})`,
  );
}

/** Median time (ms) to import `specifier` in a fresh Node process, measured inside the process. */
/** Median time to import `specifiers` (in order) in a fresh process. */
function loadTime(specifiers: string | string[], cwd: string): number {
  const list = JSON.stringify([specifiers].flat());
  const script = `const t = performance.now(); for (const s of ${list}) await import(s); process.stdout.write(String(performance.now() - t));`;
  const samples: number[] = [];
  for (let i = 0; i < LOAD_RUNS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`loading ${list} failed: ${r.stderr}`);
    samples.push(Number(r.stdout));
  }
  return median(samples);
}

function loadBench(): void {
  console.log(`\n== Module load (median of ${LOAD_RUNS} fresh processes each)`);
  const bare = loadTime('@azure/functions', ROOT);
  // What package.json `main` (dist/src/{index.js,functions/*.js}) has the worker load: the hook and every function.
  const functions = readdirSync(resolve(ROOT, 'dist/src/functions')).filter((f) => f.endsWith('.js'));
  const mainFiles = ['dist/src/index.js', ...functions.map((f) => `dist/src/functions/${f}`)];
  const entry = loadTime(
    mainFiles.map((f) => pathToFileURL(resolve(ROOT, f)).href),
    ROOT,
  );
  // `npm run bench` builds the bundle first; run directly after `npm run compile`, there may be none.
  const bundleFile = resolve(ROOT, 'dist-bundle/index.js');
  const bundle = existsSync(bundleFile) ? loadTime(pathToFileURL(bundleFile).href, ROOT) : undefined;
  const sdk = loadTime(
    pathToFileURL(resolve(ROOT, 'packages/functions-keyvault/dist/keyVault/secretClient.js')).href,
    ROOT,
  );
  const line = (label: string, ms: number) =>
    console.log(`   ${label.padEnd(52)} ${ms.toFixed(1).padStart(7)} ms   ${(ms / bare).toFixed(2)}x bare`);
  line("bare require('@azure/functions')", bare);
  line('app entry, unbundled (main: dist/src/{index,functions/*})', entry);
  if (bundle !== undefined) line('app entry, esbuild bundle (dist-bundle/index.js)', bundle);
  else console.log(`   ${'app entry, esbuild bundle'.padEnd(52)} not built (npm run build writes dist-bundle/)`);
  line('for scale: the lazily loaded SDK (secretClient.js)', sdk);
  const measured = (label: string, ms: number) =>
    `${label} ${ratio(ms / bare).toFixed(2)}x, ${verdict(ratio(ms / bare) <= 1.25)}`;
  console.log(
    '   target: entry load <= 1.25x a bare @azure/functions load: ' +
      [
        bundle !== undefined ? measured('the bundle (what Azure runs)', bundle) : 'the bundle not measured',
        measured('unbundled dist/', entry),
      ].join('; '),
  );
}

/** Runs one part and says how long it took (the whole bench is several minutes; the fleet part is most of it). */
async function part(run: () => unknown): Promise<void> {
  const started = performance.now();
  await run();
  console.log(`   (this part took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

const fleet = process.env.BENCH_FLEET !== 'false';
console.log(
  `npm run bench on Node ${process.versions.node}, ${os.availableParallelism()} CPUs, load average ` +
    `${os.loadavg()[0]!.toFixed(2)}: handler reads and module load (under a minute), then ` +
    (fleet
      ? 'the fleet simulation (one to a few minutes on a 2-core machine; BENCH_FLEET=false skips it).'
      : 'no fleet (BENCH_FLEET=false).'),
);
await part(cacheBench);
await part(loadBench);
if (fleet) await part(fleetBench);
