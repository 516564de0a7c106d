/**
 * What happens when the app starts: configuration problems are logged once (the config check reports them too),
 * and SECRET_PREFETCH names secrets to read into the cache, in the background, so start-up is never delayed and
 * a failure only logs a warning.
 */
import { app } from '@azure/functions';
import { appConfig, type ConfigProblem } from './config.js';
import { isValidSecretName, KeyVaultFailure, keyVault, readSecret } from './keyVault/index.js';

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

app.hook.appStart(() => {
  logConfigProblems(appConfig().problems);
  // Not awaited: start-up must not wait for (or fail because of) Key Vault.
  void prefetchSecrets();
});
