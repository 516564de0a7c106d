/**
 * What happens when the app starts: configuration problems are logged once (the config check reports them too),
 * and SECRET_PREFETCH names secrets to read into the cache, in the background, so start-up is never delayed and
 * a failure only logs a warning.
 */
import { app } from '@azure/functions';
import { parseMonitoring } from './appSettings.js';
import { appConfig, type ConfigProblem } from 'functions-keyvault';
import { isValidSecretName, KeyVaultFailure, keyVault, readSecret } from 'functions-keyvault';
import { configureRotationLedger, ledgerStarting, startRotationLedger } from 'functions-keyvault';

// The deployment bundle carries no node_modules: hand the package the Storage SDK (an optional peer it loads only
// when ROTATION_LEDGER_URL is set) with a literal import, so esbuild puts it in a chunk of its own.
configureRotationLedger({ loadStorageSdk: () => import('@azure/storage-blob') });

/** One warning line per malformed or out-of-range setting. */
export function logConfigProblems(
  problems: readonly ConfigProblem[],
  log: (message: string) => void = (m) => console.warn(m),
): void {
  for (const p of problems) log(`Configuration: ${p.message}`);
}

/** Starts the prefetch and returns its promise (resolves to the number of secrets loaded; never rejects). */
export function prefetchSecrets(log: (message: string) => void = (m) => console.warn(m)): Promise<number> {
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

/** Starts the export to Application Insights when it is configured; never throws (telemetry must not stop the app). */
export async function startTelemetry(log: (message: string) => void = (m) => console.warn(m)): Promise<boolean> {
  const monitoring = parseMonitoring(process.env);
  if (monitoring === undefined) return false;
  try {
    const { startAzureMonitor } = await import('./monitoring.js');
    startAzureMonitor(monitoring);
    return true;
  } catch (error) {
    log(`Telemetry: Application Insights export could not start (${error instanceof Error ? error.name : 'error'}).`);
    return false;
  }
}

/**
 * Starts the rotation ledger when ROTATION_LEDGER_URL is set; never throws (without it the cache refreshes on its
 * TTL, as it always did).
 */
export async function startLedger(log: (message: string) => void = (m) => console.warn(m)): Promise<boolean> {
  if (appConfig().ledger === undefined) return false;
  try {
    return await startRotationLedger(keyVault());
  } catch (error) {
    log(`Rotation ledger: could not start (${error instanceof Error ? error.name : 'error'}); TTL refresh only.`);
    return false;
  }
}

app.hook.appStart(() => {
  logConfigProblems(appConfig().problems);
  // None is awaited: start-up must not wait for the telemetry distro (about 0.2 s to load from the bundle) nor
  // for (or fail because of) Key Vault or storage. Telemetry first, so the prefetch's reads are measured; the ledger
  // before the prefetch, so it sees the versions those reads return. An event arriving before the ledger runs waits
  // for it (ledgerStarting) rather than being dropped.
  if (appConfig().ledger !== undefined) ledgerStarting();
  void startTelemetry()
    .then(() => startLedger())
    .then(() => prefetchSecrets());
});
