/**
 * What the azd hooks (postdeploy.mjs, key-vault-events.mjs) share: running the Azure CLI without printing its output
 * (it may hold a function key), and reading a positive number of seconds from the environment.
 */
import { spawnSync } from 'node:child_process';

/**
 * Runs az and returns its stdout, never printed. On Windows az is az.cmd, so it runs through the shell, with any
 * argument that is not a plain word quoted.
 */
export function az(args, { timeoutMs = 120_000 } = {}) {
  const windows = process.platform === 'win32';
  const run = spawnSync('az', windows ? args.map((a) => (/^[\w.,:/@=?-]+$/.test(a) ? a : `"${a}"`)) : args, {
    encoding: 'utf8',
    shell: windows,
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (run.error) throw new Error(`az could not run (${run.error.code ?? run.error.message}); install the Azure CLI`);
  if (run.status !== 0) {
    const reason = (run.stderr || '').trim().split('\n').pop() || `exit ${run.status}`;
    throw new Error(`az ${args.slice(0, 3).join(' ')} failed: ${reason}`);
  }
  return run.stdout;
}

/** A positive number of seconds from the environment variable `name`, else `fallback`. */
export function seconds(env, name, fallback) {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of seconds`);
  return value;
}
