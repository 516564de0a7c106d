/**
 * `npm run vault:start` / `vault:stop` / `vault:status`: a local Key Vault emulator for `npm start`, through the same
 * harness as the tests (scripts/emulators/): Lowkey Vault, or azure-keyvault-emulator + entra-emulator
 * (KEY_VAULT_EMULATOR=lowkey|go to choose). Vault on https://127.0.0.1:8443, identity endpoint on port 8080
 * (VAULT_HTTPS_PORT / VAULT_IDENTITY_PORT to change), its certificate in .emulators/vault/ca.pem.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { appEnvFor, runningEmulator, startEmulator, stopEmulator } from './emulators/index.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const STATE_DIR = join(ROOT, '.emulators', 'vault');
const port = (name, legacy, fallback) => Number(process.env[name] ?? process.env[legacy] ?? fallback);

/** Seed the demo secret that local.settings.json.example allows and references, through the secrets CLI. */
function seedDemoSecret(facts) {
  const build = spawnSync('npm', ['run', '--silent', 'compile'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) return console.error('Build failed; demo secret not seeded.');
  const value = `demo-${randomUUID()}`;
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'scripts', 'secrets.js'), 'set', 'demo-secret', value], {
    cwd: ROOT,
    env: { ...process.env, ...appEnvFor(facts) },
    encoding: 'utf8',
  });
  console.log(r.status === 0 ? `Seeded: ${r.stdout.trim()}` : `Could not seed demo-secret: ${r.stderr.trim()}`);
}

function printSettings(facts) {
  const env = appEnvFor(facts);
  console.log(`${facts.description} is running (pid ${facts.pids.join(', ')}):
  vault              ${facts.vaultUrl}
  identity endpoint  ${facts.identityEndpoint}
  certificate        ${facts.caFile}
  logs               ${facts.logPaths.join(', ')}

Settings for the app (local.settings.json "Values"):`);
  for (const [k, v] of Object.entries(env)) console.log(`  ${k}=${v}`);
  console.log(
    `\nFor a shell (e.g. npm run secrets):\n  export ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
}

const command = process.argv[2] ?? 'start';

if (command === 'start') {
  const existing = runningEmulator(STATE_DIR);
  if (existing) {
    printSettings(existing);
  } else {
    try {
      const facts = await startEmulator({
        dir: STATE_DIR,
        vaultPort: port('VAULT_HTTPS_PORT', 'LOWKEY_HTTPS_PORT', 8443),
        identityPort: port('VAULT_IDENTITY_PORT', 'LOWKEY_TOKEN_PORT', 8080),
        identityHeader: 'local-development',
        detached: true,
        report: (line) => console.error(`[emulator] ${line}`),
      });
      seedDemoSecret(facts);
      printSettings(facts);
      process.exit(0);
    } catch (error) {
      // The [emulator] lines above (one per emulator tried) carry the real causes; this names what to set.
      console.error(
        `Could not start a Key Vault emulator${error.failures ? ' (why: the [emulator] lines above)' : `: ${error.message}`}.\n` +
          'To run one you have built: LOWKEY_VAULT_JAR=<lowkey-vault-app jar>, or KEY_VAULT_EMULATOR_GO_BIN=<azure-keyvault-emulator> ' +
          'with ENTRA_EMULATOR_GO_BIN=<entra-emulator> (docs/testing.md, "The Key Vault emulators").',
      );
      process.exit(1);
    }
  }
} else if (command === 'stop') {
  const pids = stopEmulator(STATE_DIR);
  console.log(pids.length === 0 ? 'No emulator was running.' : `Stopped the emulator (pid ${pids.join(', ')}).`);
} else if (command === 'status') {
  const facts = runningEmulator(STATE_DIR);
  if (facts) printSettings(facts);
  else {
    console.log('No emulator is running (npm run vault:start).');
    process.exit(1);
  }
} else {
  console.error('usage: node scripts/vault.mjs start|stop|status');
  process.exit(2);
}
