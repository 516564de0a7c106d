/**
 * `npm run vault:start` / `npm run vault:stop` / `npm run vault:status`: a local Lowkey Vault (Key Vault API +
 * managed-identity token endpoint) for `npm start`, on https://127.0.0.1:8443 and http://127.0.0.1:8080 by default
 * (LOWKEY_HTTPS_PORT / LOWKEY_TOKEN_PORT to change). Same implementation as the test set-up (scripts/lowkey.mjs).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { appEnvFor, STATE_DIR, startLowkey, stopLowkey } from './lowkey.mjs';

const ROOT = resolve(import.meta.dirname, '..');

/** Seed the demo secret that local.settings.json.example allows and references, through the secrets CLI. */
function seedDemoSecret(state) {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) return console.error('Build failed; demo secret not seeded.');
  const value = `demo-${randomUUID()}`;
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'scripts', 'secrets.js'), 'set', 'demo-secret', value], {
    cwd: ROOT,
    env: { ...process.env, ...appEnvFor(state) },
    encoding: 'utf8',
  });
  console.log(r.status === 0 ? `Seeded: ${r.stdout.trim()}` : `Could not seed demo-secret: ${r.stderr.trim()}`);
}

const command = process.argv[2] ?? 'start';
const statePath = join(STATE_DIR, 'state.json');

function running() {
  if (!existsSync(statePath)) return undefined;
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  try {
    process.kill(state.pid, 0);
    return state;
  } catch {
    return undefined;
  }
}

function printSettings(state) {
  const env = appEnvFor(state);
  console.log(`Lowkey Vault is running (pid ${state.pid}):
  vault          ${state.vaultUrl}
  token endpoint ${state.tokenUrl}
  certificate    ${state.certPath}
  log            ${state.logPath}

Settings for the app (local.settings.json.example already has them for the default ports):`);
  for (const [k, v] of Object.entries(env)) console.log(`  ${k}=${v}`);
  console.log(
    `\nFor a shell (e.g. npm run secrets):\n  export ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
}

if (command === 'start') {
  const existing = running();
  if (existing) {
    printSettings(existing);
  } else {
    try {
      const state = await startLowkey({
        dir: STATE_DIR,
        httpsPort: Number(process.env.LOWKEY_HTTPS_PORT ?? 8443),
        tokenPort: Number(process.env.LOWKEY_TOKEN_PORT ?? 8080),
        detached: true,
      });
      seedDemoSecret(state);
      printSettings(state);
      process.exit(0);
    } catch (error) {
      console.error(`Could not start Lowkey Vault: ${error.message}`);
      console.error(
        'It needs Java (17+) and Maven to fetch its jar, LOWKEY_VAULT_JAR=<path to the jar>, or a Docker engine.',
      );
      process.exit(1);
    }
  }
} else if (command === 'stop') {
  const pid = stopLowkey({ dir: STATE_DIR });
  console.log(pid === undefined ? 'Lowkey Vault was not running.' : `Stopped Lowkey Vault (pid ${pid}).`);
} else if (command === 'status') {
  const state = running();
  if (state) printSettings(state);
  else {
    console.log('Lowkey Vault is not running (npm run vault:start).');
    process.exit(1);
  }
} else {
  console.error('usage: node scripts/vault.mjs start|stop|status');
  process.exit(2);
}
