/**
 * The SDK client adapter: the only module that imports `@azure/keyvault-secrets`. One credential and one
 * SecretClient per vault per process, created on first use. Its `fetchSecret` meets the secret contract
 * (`contract.ts`) and is where SDK errors are classified, once. Loaded lazily on the first Key Vault call.
 */
import type { TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import type { AppConfig } from '../config.js';
import { classifyError } from './classify.js';
import type { SecretFetch } from './contract.js';
import { createBoundedCredential } from './credential.js';
import type { IdentityChoice } from './identity.js';

/**
 * A 429 ends the call at once, as a throttling failure carrying the vault's Retry-After. Without this the SDK's
 * throttling retry sleeps for the vault's Retry-After inside the call (7 s, or 99999999999 s), past the app's own
 * deadline, and the caller sees "timed out" instead of "throttled". Thrown inside the retry loop as a non-system
 * error, it is not retried.
 */
const failFastOnThrottling = {
  name: 'failFastOnThrottling',
  async sendRequest(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
    const response = await next(request);
    if (response.status === 429) {
      // Not named RestError: the retry policy rethrows anything else at once instead of running its strategies.
      throw Object.assign(new Error('Key Vault throttled the request (429).'), {
        name: 'ThrottledError',
        statusCode: 429,
        response,
      });
    }
    return response;
  },
};

type SendRequest = (request: PipelineRequest) => Promise<PipelineResponse>;
type PipelinePolicies = NonNullable<SecretClientOptions['additionalPolicies']>;
type PipelineRequest = Parameters<PipelinePolicies[number]['policy']['sendRequest']>[0];
type PipelineResponse = Awaited<ReturnType<PipelinePolicies[number]['policy']['sendRequest']>>;

export function clientOptions(config: AppConfig): SecretClientOptions {
  return {
    ...(config.apiVersion ? { serviceVersion: config.apiVersion } : {}),
    disableChallengeResourceVerification: config.disableChallengeResourceVerification,
    // The call policy bounds each call with KEY_VAULT_TIMEOUT_MS; keep SDK retries short enough to fit inside it.
    retryOptions: { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 },
    additionalPolicies: [{ policy: failFastOnThrottling, position: 'perRetry' }],
  };
}

export class SecretClients {
  private credential: TokenCredential | undefined;
  private readonly clients = new Map<string, SecretClient>();

  constructor(
    private readonly identity: IdentityChoice,
    private readonly config: AppConfig,
  ) {}

  /** The SecretClient for a vault (also used by the developer CLI for set/list/delete). */
  client(vaultUrl: string): SecretClient {
    let client = this.clients.get(vaultUrl);
    if (!client) {
      this.credential ??= createBoundedCredential(
        this.identity,
        this.config.identity,
        this.config.calls.timeoutMs,
        this.config.trustedVaultHosts,
      );
      client = new SecretClient(vaultUrl, this.credential, clientOptions(this.config));
      this.clients.set(vaultUrl, client);
    }
    return client;
  }

  readonly fetchSecret: SecretFetch = async (vaultUrl, name, version, signal) => {
    try {
      const secret = await this.client(vaultUrl).getSecret(name, { version, abortSignal: signal });
      const p = secret.properties;
      return {
        name: secret.name,
        value: secret.value ?? '',
        version: p.version ?? null,
        contentType: p.contentType ?? null,
        enabled: p.enabled ?? null,
        createdOn: p.createdOn ?? null,
        updatedOn: p.updatedOn ?? null,
        expiresOn: p.expiresOn ?? null,
        notBefore: p.notBefore ?? null,
      };
    } catch (error) {
      throw classifyError(
        signal.aborted && signal.reason instanceof Error ? signal.reason : error,
        version !== undefined,
      );
    }
  };
}
