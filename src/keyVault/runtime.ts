/**
 * Heavy half of the Key Vault service: the cache (lru-cache, p-limit) and the SDK clients. Loaded with a dynamic
 * import on first use so module load (cold start) stays at the cost of @azure/functions alone.
 */
import { randomUUID } from 'node:crypto';
import type { SecretReference } from '../references.js';
import { cachePolicyFrom, type Env } from '../settings.js';
import { classifyError, type KeyVaultFailure } from './errors.js';
import type { IdentityChoice } from './identity.js';
import { type Clock, type SecretFetch, SecretStore, type StoreLogger } from './secretStore.js';

export interface RuntimeOptions {
  env: Env;
  identity: IdentityChoice;
  /** Replaces the SDK fetch (unit tests of the policy and handlers). */
  fetchSecret?: SecretFetch;
  clock?: Clock;
  log: StoreLogger;
}

export interface AccessProbe {
  reachable: boolean;
  canReadSecrets: boolean;
  failure?: KeyVaultFailure;
}

export async function createRuntime(
  options: RuntimeOptions,
): Promise<{ store: SecretStore; probeAccess: (vaultUrl: string) => Promise<AccessProbe> }> {
  let fetchSecret = options.fetchSecret;
  if (!fetchSecret) {
    const { SecretClients } = await import('./sdk.js');
    fetchSecret = new SecretClients(options.identity, options.env).fetchSecret;
  }
  const store = new SecretStore(fetchSecret, cachePolicyFrom(options.env), options.log, options.clock);

  /**
   * Proves the identity may read secrets without reading any value: it asks for a secret name that does not
   * exist. 404 means the request was authorised (Key Vault checks access before existence); 401/403 means not.
   */
  async function probeAccess(vaultUrl: string): Promise<AccessProbe> {
    const ref: SecretReference = { vaultUrl, name: `access-probe-${randomUUID()}` };
    try {
      await store.fetchUncached(ref);
      return { reachable: true, canReadSecrets: true };
    } catch (error) {
      const failure = classifyError(error);
      if (failure.kind === 'secret-not-found') return { reachable: true, canReadSecrets: true };
      // Key Vault answered (refused, throttled or failed) as opposed to never answering.
      const reachable =
        failure.kind === 'access-denied' || failure.kind === 'throttled' || failure.kind === 'service-error';
      return { reachable, canReadSecrets: false, failure };
    }
  }

  return { store, probeAccess };
}
