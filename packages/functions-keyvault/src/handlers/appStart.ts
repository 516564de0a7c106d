/**
 * What the package needs when the app starts, for `app.hook.appStart(onAppStart)` (or `startKeyVault()` from the
 * app's own hook): configuration problems are logged once (the config check reports them too), the rotation ledger
 * starts when ROTATION_LEDGER_URL is set, and SECRET_PREFETCH names secrets to read into the cache. All of it in the
 * background: start-up never waits for (or fails because of) Key Vault or storage, and a failure only logs a warning.
 */
import type { ConfigProblem } from '../config.js';
import { isValidSecretName, KeyVaultFailure, keyVault, readSecret } from '../keyVault/index.js';
import { ledgerStarting, startRotationLedger } from '../ledger/index.js';

type Log = (message: string) => void;
const warn: Log = (m) => console.warn(m);

/** One warning line per malformed or out-of-range setting. */
export function logConfigProblems(problems: readonly ConfigProblem[], log: Log = warn): void {
  for (const p of problems) log(`Configuration: ${p.message}`);
}

/** Starts the prefetch and returns its promise (resolves to the number of secrets loaded; never rejects). */
export function prefetchSecrets(log: Log = warn): Promise<number> {
  const service = keyVault();
  const names = service.config.prefetch;
  if (service.vaultUrl === undefined || names.length === 0) return Promise.resolve(0);
  return Promise.all(
    names.map(async (name) => {
      if (!isValidSecretName(name)) {
        log(`SECRET_PREFETCH: "${name}" is not a valid secret name; skipped.`);
        return 0;
      }
      try {
        await readSecret(name);
        return 1;
      } catch (error) {
        const why = error instanceof KeyVaultFailure ? error.message : 'unexpected error';
        log(`SECRET_PREFETCH: could not prefetch "${name}": ${why}`);
        return 0;
      }
    }),
  ).then((loaded) => loaded.reduce<number>((a, b) => a + b, 0));
}

/**
 * Starts the rotation ledger when ROTATION_LEDGER_URL is set; never throws (without it the cache refreshes on its
 * TTL, as it always did).
 */
export async function startLedger(log: Log = warn): Promise<boolean> {
  const service = keyVault();
  if (service.config.ledger === undefined) return false;
  try {
    return (await startRotationLedger(service)) !== undefined;
  } catch (error) {
    log(`Rotation ledger: could not start (${error instanceof Error ? error.name : 'error'}); TTL refresh only.`);
    return false;
  }
}

/** What {@link startKeyVault} did, once its background work has settled. */
export interface KeyVaultStart {
  /** The rotation ledger runs. */
  ledger: boolean;
  /** Secrets SECRET_PREFETCH read into the cache. */
  prefetched: number;
}

/**
 * The start-up work, begun at once; resolves when the ledger has started and the prefetch has read (never rejects).
 * `after`: work of the app's own to let finish first (the template starts its telemetry export, so the prefetch's
 * reads are measured). An event arriving before the ledger runs waits for it rather than being dropped.
 */
export function startKeyVault(
  options: { after?: Promise<unknown>; log?: (message: string) => void } = {},
): Promise<KeyVaultStart> {
  const log = options.log ?? warn;
  const service = keyVault();
  logConfigProblems(service.config.problems, log);
  if (service.config.ledger !== undefined) ledgerStarting();
  // The ledger before the prefetch, so that it sees the versions those reads return.
  return Promise.resolve(options.after)
    .catch(() => undefined)
    .then(() => startLedger(log))
    .then(async (ledger) => ({ ledger, prefetched: await prefetchSecrets(log) }));
}

/** For `app.hook.appStart(onAppStart)`: {@link startKeyVault}, not awaited (start-up must not wait for it). */
export function onAppStart(): void {
  void startKeyVault();
}
