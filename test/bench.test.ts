/**
 * `npm run bench` (scripts/bench.ts), run small: what it prints, never how fast anything is. The header says what a
 * real vault needs, every target line says met or MISSED, each part says how long it took, and @azure/functions'
 * test-mode WARNING lines do not reach the output.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { ROOT } from './support/projectRoot.js';
import { runNode } from './support/runNode.js';

test('bench output: header, a verdict on every target line, part times, no test-mode warnings', async () => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^KEY_VAULT_|^BENCH_/.test(k)) env[k] = v;
  Object.assign(env, { BENCH_FLEET: 'false', BENCH_READS: '300', BENCH_CONCURRENCY: '20', BENCH_LOAD_RUNS: '1' });
  const r = await runNode([join(ROOT, 'dist', 'scripts', 'bench.js')], { cwd: ROOT, env });
  const output = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, output);

  assert.doesNotMatch(output, /^WARNING:/m, 'the test-mode notices are dropped');
  assert.match(r.stdout, /^npm run bench on Node \S+, \d+ CPUs, load average [\d.]+: /);
  assert.match(r.stdout, /no fleet \(BENCH_FLEET=false\)/);
  assert.match(r.stdout, /BENCH_REAL_VAULT=true and KEY_VAULT_URL for a real vault/);
  const targets = r.stdout.split('\n').filter((line) => /target/.test(line));
  assert.ok(targets.length >= 3, `three target lines (${targets.join(' | ')})`);
  for (const line of targets) assert.match(line, /\b(met|MISSED)\b/, line);
  assert.equal(r.stdout.match(/\(this part took [\d.]+ s\)/g)?.length, 2, 'reads and module load, each timed');
});
