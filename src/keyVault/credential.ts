/**
 * The credential: ManagedIdentityCredential where the platform provides the endpoint, else the developer chain.
 * Imports @azure/identity, so it is loaded lazily together with the SDK client adapter (`secretClient.ts`).
 */
import {
  AzureCliCredential,
  AzureDeveloperCliCredential,
  AzurePowerShellCredential,
  ChainedTokenCredential,
  EnvironmentCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { IdentitySettings } from '../config.js';
import type { IdentityChoice } from './identity.js';

export function createCredential(identity: IdentityChoice, settings: IdentitySettings): TokenCredential {
  if (identity.kind === 'managed-identity') {
    // ManagedIdentityCredential does not read AZURE_CLIENT_ID by itself: pass it for a user-assigned identity.
    // One retry only: its own HTTP client otherwise retries for several seconds (20 s on a 404), past
    // KEY_VAULT_TIMEOUT_MS, while the cache already bounds each call, retries later and serves stale.
    const retryOptions = { maxRetries: 1 };
    return identity.clientId
      ? new ManagedIdentityCredential({ clientId: identity.clientId, retryOptions })
      : new ManagedIdentityCredential({ retryOptions });
  }
  const authorityHost = settings.authorityHost;
  return new ChainedTokenCredential(
    new EnvironmentCredential(authorityHost ? { authorityHost } : {}),
    new AzureCliCredential(),
    new AzureDeveloperCliCredential(),
    new AzurePowerShellCredential(),
  );
}
