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
import { KeyVaultFailure } from './failure.js';
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

/**
 * Key Vault's largest secret value is 25 KB. Its answer (the value JSON-escaped, up to six bytes per character, plus
 * id, attributes and tags) stays well under MAX_RESPONSE_BYTES; a value above MAX_VALUE_BYTES is far above what Key
 * Vault stores. Either is refused as a malformed answer, and the body is never logged or echoed.
 */
export const MAX_RESPONSE_BYTES = 256 * 1024;
export const MAX_VALUE_BYTES = 64 * 1024;

function tooLarge(what: string, limit: number): KeyVaultFailure {
  return new KeyVaultFailure(
    'unexpected',
    `Key Vault's answer was refused as malformed: ${what} exceeds ${limit / 1024} KiB (a Key Vault secret value is ` +
      'at most 25 KB).',
    { statusCode: 200, errorCode: 'ResponseTooLarge' },
  );
}

/**
 * Bounds every answer's body at MAX_RESPONSE_BYTES while it arrives: the HTTP client reports each chunk (its
 * download progress, counted after decompression), and past the bound the request is aborted, so a vault (or
 * something posing as one) answering 60 MB costs this process at most the bound plus one chunk, not 60 MB.
 */
const boundResponseSize = {
  name: 'boundResponseSize',
  async sendRequest(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
    const outer = request.abortSignal;
    const previousProgress = request.onDownloadProgress;
    const controller = new AbortController();
    const forward = () => controller.abort();
    if (outer?.aborted) controller.abort();
    outer?.addEventListener('abort', forward);
    let exceeded = false;
    request.abortSignal = controller.signal;
    request.onDownloadProgress = (progress) => {
      if (progress.loadedBytes > MAX_RESPONSE_BYTES) {
        exceeded = true;
        controller.abort();
        throw tooLarge('the response body', MAX_RESPONSE_BYTES);
      }
      previousProgress?.(progress);
    };
    try {
      return await next(request);
    } catch (error) {
      if (exceeded) throw tooLarge('the response body', MAX_RESPONSE_BYTES);
      throw error;
    } finally {
      request.abortSignal = outer;
      request.onDownloadProgress = previousProgress;
      outer?.removeEventListener('abort', forward);
    }
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
    additionalPolicies: [
      { policy: failFastOnThrottling, position: 'perRetry' },
      { policy: boundResponseSize, position: 'perRetry' },
    ],
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
      if (secret.value !== undefined && Buffer.byteLength(secret.value) > MAX_VALUE_BYTES) {
        throw tooLarge('the secret value', MAX_VALUE_BYTES);
      }
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
