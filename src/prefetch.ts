/**
 * Optional warm-up: SECRET_PREFETCH names secrets to read into the cache when the app starts, in the background,
 * so start-up is never delayed and a failure only logs a warning.
 */
import { app } from '@azure/functions';
import { keyVaultService } from './keyVault/service.js';
import { APP_SETTINGS, listSetting } from './settings.js';
import { isValidSecretName } from './validation.js';

/** Starts the prefetch and returns its promise (resolves to the number of secrets loaded; never rejects). */
export function prefetchSecrets(log: (message: string) => void = (m) => console.warn(m)): Promise<number> {
  const service = keyVaultService();
  const vaultUrl = service.vaultUrl;
  const names = listSetting(service.env, APP_SETTINGS.SECRET_PREFETCH);
  if (vaultUrl === undefined || names.length === 0) return Promise.resolve(0);
  return Promise.all(
    names.map(async (name) => {
      if (!isValidSecretName(name)) {
        log(`SECRET_PREFETCH: "${name}" is not a valid secret name; skipped.`);
        return 0;
      }
      try {
        await service.readSecret({ vaultUrl, name });
        return 1;
      } catch (error) {
        log(`SECRET_PREFETCH: could not prefetch "${name}": ${(error as Error).message}`);
        return 0;
      }
    }),
  ).then((loaded) => loaded.reduce<number>((a, b) => a + b, 0));
}

app.hook.appStart(() => {
  // Not awaited: start-up must not wait for (or fail because of) Key Vault.
  void prefetchSecrets();
});
