/**
 * The only module that imports the Azure SDK. It is loaded lazily (dynamic import) on the first Key Vault call,
 * so functions that never touch Key Vault (ping) do not pay for loading it.
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
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { apiVersionFrom, disableChallengeResourceVerificationFrom, type Env } from '../settings.js';
import type { IdentityChoice } from './identity.js';
import type { SecretFetch, SecretRecord } from './secretStore.js';

export function createCredential(identity: IdentityChoice, env: Env): TokenCredential {
  if (identity.kind === 'managed-identity') {
    // ManagedIdentityCredential does not read AZURE_CLIENT_ID by itself: pass it for a user-assigned identity.
    // One retry only: its own HTTP client otherwise retries for several seconds (20 s on a 404), past
    // KEY_VAULT_TIMEOUT_MS, while the store already bounds each call, retries later and serves stale.
    const retryOptions = { maxRetries: 1 };
    return identity.clientId
      ? new ManagedIdentityCredential({ clientId: identity.clientId, retryOptions })
      : new ManagedIdentityCredential({ retryOptions });
  }
  const authorityHost = env.AZURE_AUTHORITY_HOST?.trim() || undefined;
  return new ChainedTokenCredential(
    new EnvironmentCredential(authorityHost ? { authorityHost } : {}),
    new AzureCliCredential(),
    new AzureDeveloperCliCredential(),
    new AzurePowerShellCredential(),
  );
}

export function clientOptions(env: Env): SecretClientOptions {
  const serviceVersion = apiVersionFrom(env);
  return {
    ...(serviceVersion ? { serviceVersion } : {}),
    disableChallengeResourceVerification: disableChallengeResourceVerificationFrom(env),
    // The store bounds each call with KEY_VAULT_TIMEOUT_MS; keep SDK retries short enough to fit inside it.
    retryOptions: { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 },
  };
}

/** One credential and one SecretClient per vault per process, created on first use. */
export class SecretClients {
  private credential: TokenCredential | undefined;
  private readonly clients = new Map<string, SecretClient>();

  constructor(
    private readonly identity: IdentityChoice,
    private readonly env: Env,
  ) {}

  client(vaultUrl: string): SecretClient {
    let client = this.clients.get(vaultUrl);
    if (!client) {
      this.credential ??= createCredential(this.identity, this.env);
      client = new SecretClient(vaultUrl, this.credential, clientOptions(this.env));
      this.clients.set(vaultUrl, client);
    }
    return client;
  }

  readonly fetchSecret: SecretFetch = async (vaultUrl, name, version, signal) => {
    const secret = await this.client(vaultUrl).getSecret(name, { version, abortSignal: signal });
    const p = secret.properties;
    const record: SecretRecord = {
      name: secret.name,
      value: secret.value ?? '',
      version: p.version ?? null,
      contentType: p.contentType ?? null,
      enabled: p.enabled ?? null,
      createdOn: p.createdOn ?? null,
      updatedOn: p.updatedOn ?? null,
      expiresOn: p.expiresOn ?? null,
    };
    return record;
  };
}
