/**
 * One harness, two Key Vault emulators, one small interface. Used by `npm test` (scripts/run-tests.mjs) and
 * `npm run vault:start|stop|status` (scripts/vault.mjs).
 *
 * startEmulator() tries, in order, Lowkey Vault (lowkey.mjs) and the Go pair azure-keyvault-emulator +
 * entra-emulator (goPair.mjs); KEY_VAULT_EMULATOR=lowkey|go picks one. Lowkey comes first because it is the one
 * that needs the least (one jar); the Go pair is stricter (it validates tokens) and is the fallback. Each emulator
 * that cannot start is reported in exactly one line saying the real cause (LOWKEY_VAULT_JAR missing, the artifact not
 * found, a module proxy's 403, the emulator exiting with its own reason) and the next one is tried. The result:
 *
 *   { kind, description, vaultUrl, identityEndpoint, identityHeader, tokenAuthority, caFile, apiVersion,
 *     validatesTokens, principalId?, vaultControlUrl?, identityAdminUrl?, pids, logPaths, stop() }
 *
 * Everything listens on 127.0.0.1 except Lowkey's token port (see lowkey.mjs). The emulator's certificate is copied
 * to <dir>/ca.pem whichever one runs. stop() ends the emulator's processes by PID; the facts minus stop() are saved
 * to <dir>/state.json so another process (npm run vault:stop) can stop them.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, pidAlive, stopPids } from './common.mjs';
import { startGoPair } from './goPair.mjs';
import { startLowkey } from './lowkey.mjs';

const ADAPTERS = { lowkey: startLowkey, go: startGoPair };
export const EMULATOR_NAMES = Object.keys(ADAPTERS);

export class EmulatorUnavailable extends Error {
  constructor(failures) {
    super(failures.map((f) => `${f.name}: ${f.reason}`).join('; '));
    this.failures = failures;
  }
}

function order() {
  const wanted = process.env.KEY_VAULT_EMULATOR?.trim();
  if (!wanted) return EMULATOR_NAMES;
  if (!ADAPTERS[wanted]) throw new Error(`KEY_VAULT_EMULATOR=${wanted}: use one of ${EMULATOR_NAMES.join(', ')}`);
  return [wanted];
}

/**
 * Start the first emulator that can run. `dir` holds logs, certificates and state (wiped first when `fresh`);
 * ports default to free ones; `report(line)` receives one line per emulator that could not start.
 */
export async function startEmulator({
  dir,
  fresh = false,
  vaultPort,
  identityPort,
  identityHeader = 'local-development',
  detached = false,
  report = () => {},
}) {
  if (fresh) rmSync(dir, { recursive: true, force: true });
  const failures = [];
  for (const name of order()) {
    const emuDir = join(dir, name);
    mkdirSync(emuDir, { recursive: true });
    try {
      const facts = await ADAPTERS[name]({
        dir: emuDir,
        vaultPort: vaultPort ?? (await freePort()),
        identityPort: identityPort ?? (await freePort()),
        identityHeader,
        detached,
      });
      // One certificate path whichever emulator runs, so local.settings.json can name it.
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, readFileSync(facts.caFile));
      const saved = { ...facts, caFile };
      writeFileSync(join(dir, 'state.json'), JSON.stringify(saved, null, 2));
      return { ...saved, stop: () => stopEmulator(dir, saved) };
    } catch (error) {
      const reason = String(error.message).replace(/\s+/g, ' ').trim();
      failures.push({ name, reason });
      report(`${name}: ${reason}`);
    }
  }
  throw new EmulatorUnavailable(failures);
}

/** The saved facts of a running emulator in `dir`, or undefined (none saved, or its processes are gone). */
export function runningEmulator(dir) {
  const statePath = join(dir, 'state.json');
  if (!existsSync(statePath)) return undefined;
  const facts = JSON.parse(readFileSync(statePath, 'utf8'));
  return facts.pids?.length && facts.pids.every(pidAlive) ? facts : undefined;
}

/** Stop the emulator whose facts are given (or saved in `dir`) by PID; returns the PIDs signalled. */
export function stopEmulator(dir, facts) {
  const statePath = join(dir, 'state.json');
  const saved = facts ?? (existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : undefined);
  const stopped = stopPids(saved?.pids);
  rmSync(statePath, { force: true });
  return stopped;
}

/**
 * The app settings that point the app (and @azure/identity) at the emulator: the emulator profile
 * (local.settings.json.example names the same settings), the vault, its managed-identity endpoint and every
 * other identity endpoint on loopback. NODE_EXTRA_CA_CERTS only when the file exists (Node warns
 * "Ignoring extra certs" otherwise).
 */
export function appEnvFor(facts) {
  return {
    LOCAL_PROFILE: 'emulator',
    KEY_VAULT_URL: facts.vaultUrl,
    KEY_VAULT_API_VERSION: facts.apiVersion,
    KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    IDENTITY_ENDPOINT: facts.identityEndpoint,
    IDENTITY_HEADER: facts.identityHeader,
    IMDS_ENDPOINT: facts.tokenAuthority,
    AZURE_POD_IDENTITY_AUTHORITY_HOST: facts.tokenAuthority,
    ...(existsSync(facts.caFile) ? { NODE_EXTRA_CA_CERTS: facts.caFile } : {}),
  };
}
