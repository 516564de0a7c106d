/**
 * The credential: ManagedIdentityCredential where the platform provides the endpoint, else the developer chain,
 * behind a time bound. Imports @azure/identity, so it is loaded lazily with the SDK client adapter (`secretClient.ts`).
 *
 * Why the bound (hand-written, a few lines): the SDK's token cycler makes every request wait for the one token
 * request in flight, and neither it nor ManagedIdentityCredential gives up on an identity endpoint that accepted the
 * connection and never answers. Without the bound, one hung token request turned every later read into a timeout
 * until that connection died (minutes). With it, the wait ends, the stuck credential is replaced by a fresh one, and
 * the next read asks the identity endpoint again.
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
import type { GetTokenOptions, AccessToken } from '@azure/identity';
import type { IdentitySettings } from '../config.js';
import { KeyVaultFailure } from './failure.js';
import { recordToken } from './telemetry.js';
import type { IdentityChoice } from './identity.js';

/**
 * Whether a token scope is one for Key Vault: a resource host of the form `vault.<domain>` (every cloud's Key
 * Vault resource: vault.azure.net, vault.azure.cn, vault.usgovcloudapi.net, Azure Stack Hub's vault.<fqdn>) or a
 * vault host the app trusts (emulators name themselves). With challenge resource verification off, a vault's
 * challenge chooses the scope: this keeps it from obtaining, say, an Azure Resource Manager token.
 */
export function isKeyVaultScope(scope: string, trustedHosts: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(scope);
  } catch {
    return false;
  }
  return url.hostname.startsWith('vault.') || trustedHosts.includes(url.host);
}

/**
 * The one way to a token: only Key Vault scopes, and a getToken that gives up after `timeoutMs`, replacing the
 * inner credential when it does.
 */
export class BoundedCredential implements TokenCredential {
  private inner: TokenCredential;

  constructor(
    private readonly create: () => TokenCredential,
    private readonly timeoutMs: number,
    private readonly endpoint: string,
    private readonly trustedHosts: readonly string[] = [],
    private readonly developer = false,
    /** Which scopes this credential may ask for; by default Key Vault's only. */
    private readonly allowScope: (scope: string) => boolean = (s) => isKeyVaultScope(s, trustedHosts),
  ) {
    this.inner = create();
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const foreign = (Array.isArray(scopes) ? scopes : [scopes]).find((s) => !this.allowScope(s));
    if (foreign !== undefined) {
      throw new KeyVaultFailure(
        'untrusted-vault',
        `The vault asked for a token for ${new URL(foreign).origin}, which is not a Key Vault resource; no token ` +
          'was requested.',
        { errorCode: 'ForeignTokenScope' },
      );
    }
    const inner = this.inner;
    const started = performance.now();
    const pending = inner.getToken(scopes, options);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new KeyVaultFailure(
      'identity-unavailable',
      `The ${this.endpoint} did not answer a token request within ${this.timeoutMs} ms.`,
      { errorCode: 'IdentityTimeout' },
    );
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut), this.timeoutMs);
    });
    try {
      const token = await Promise.race([pending, timeout]);
      recordToken(performance.now() - started);
      return token;
    } catch (error) {
      recordToken(
        performance.now() - started,
        error instanceof KeyVaultFailure ? error : (notSignedIn(error) ?? error),
      );
      // The stuck request is abandoned (its eventual answer is ignored); the next getToken starts afresh.
      if (error === timedOut && this.inner === inner) this.inner = this.create();
      if (this.developer) throw notSignedIn(error) ?? error;
      throw error;
    } finally {
      clearTimeout(timer);
      pending.catch(() => undefined);
    }
  }
}

/** One line of a credential's own reason, short, with anything token-shaped removed. */
function reasonLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = (message.split('\n')[0] ?? '').replace(/[A-Za-z0-9._~+/=-]{40,}/g, '…');
  return first.length > 160 ? `${first.slice(0, 157)}...` : first;
}

/**
 * Locally, "no developer credential could get a token" is not an outage: say which credentials were tried, why each
 * failed (their own one-line reasons, nothing token-shaped), and what to run.
 */
export function notSignedIn(error: unknown): KeyVaultFailure | undefined {
  const err = error as { name?: unknown; errors?: unknown };
  if (err?.name !== 'AggregateAuthenticationError' && err?.name !== 'CredentialUnavailableError') return undefined;
  const reasons = Array.isArray(err.errors) ? err.errors.map(reasonLine) : [reasonLine(error)];
  return new KeyVaultFailure(
    'not-signed-in',
    `No developer credential could get a token. Tried: ${reasons.join(' | ')}. Sign in with \`az login\` or ` +
      '`azd auth login` (or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET), or use the emulator ' +
      'profile (`npm run vault:start`).',
    { errorCode: 'NotSignedIn' },
  );
}

/** How long a token request may take: most of KEY_VAULT_TIMEOUT_MS, so the read can still say why it failed. */
export function tokenTimeoutMs(callTimeoutMs: number): number {
  return Math.max(50, Math.floor(callTimeoutMs * 0.8));
}

export function createBoundedCredential(
  identity: IdentityChoice,
  settings: IdentitySettings,
  callTimeoutMs: number,
  trustedHosts: readonly string[],
  allowScope?: (scope: string) => boolean,
): TokenCredential {
  const endpoint = identity.kind === 'managed-identity' ? 'identity endpoint' : 'developer credential';
  return new BoundedCredential(
    () => createCredential(identity, settings),
    tokenTimeoutMs(callTimeoutMs),
    endpoint,
    trustedHosts,
    identity.kind === 'developer',
    allowScope,
  );
}

/** Azure Storage's token scope in every cloud (the rotation ledger's blob). */
export const STORAGE_SCOPE = 'https://storage.azure.com/.default';

/** The app's identity for Azure Storage: the same credential choice and time bound, the storage scope only. */
export function createStorageCredential(
  identity: IdentityChoice,
  settings: IdentitySettings,
  timeoutMs: number,
): TokenCredential {
  return createBoundedCredential(identity, settings, timeoutMs, [], (scope) => scope === STORAGE_SCOPE);
}

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
