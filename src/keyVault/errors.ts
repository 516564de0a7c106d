/**
 * Classification of failures from Key Vault and the identity endpoint. Pure: works on error shapes
 * (`RestError`, `@azure/identity` errors, Node network errors) without importing the SDK.
 */

export type FailureKind =
  | 'secret-not-found'
  | 'version-not-found'
  | 'access-denied'
  | 'throttled'
  | 'timeout'
  | 'service-error'
  | 'unreachable'
  | 'vault-not-found'
  | 'identity-unavailable'
  | 'identity-refused'
  | 'unexpected';

/** A Key Vault or identity failure, safe to show: its message never carries a secret value or a token. */
export class KeyVaultFailure extends Error {
  override readonly name = 'KeyVaultFailure';
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly statusCode?: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Failures worth serving a last-known-good value through (the secret may well still be valid). */
const TRANSIENT: ReadonlySet<FailureKind> = new Set([
  'throttled',
  'timeout',
  'service-error',
  'unreachable',
  'vault-not-found',
  'identity-unavailable',
]);

export function isTransient(kind: FailureKind): boolean {
  return TRANSIENT.has(kind);
}

/** The words App Service uses for Key Vault reference status, so users can match them with the portal. */
export function referenceStatusWord(kind: FailureKind): string {
  switch (kind) {
    case 'secret-not-found':
      return 'SecretNotFound';
    case 'version-not-found':
      return 'SecretVersionNotFound';
    case 'access-denied':
      return 'AccessToKeyVaultDenied';
    case 'vault-not-found':
      return 'VaultNotFound';
    case 'timeout':
    case 'throttled':
    case 'service-error':
    case 'unreachable':
      return 'FetchTimedOut';
    case 'identity-unavailable':
    case 'identity-refused':
      return 'MSINotEnabled';
    default:
      return 'OtherReasons';
  }
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  cause?: unknown;
  errors?: unknown;
  response?: { headers?: { get?: (name: string) => string | undefined } };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function networkCode(err: ErrorLike | undefined, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  if (typeof err.code === 'string' && (NETWORK_CODES.has(err.code) || err.code === 'ENOTFOUND')) return err.code;
  return networkCode(err.cause as ErrorLike | undefined, depth + 1);
}

/** An HTTP status anywhere in the cause chain (@azure/identity wraps MSAL errors that carry `status`). */
function causeStatus(err: ErrorLike | undefined, depth = 0): number | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const own = (err as { status?: unknown }).status ?? err.statusCode;
  if (typeof own === 'number') return own;
  return causeStatus(err.cause as ErrorLike | undefined, depth + 1);
}

function retryAfter(err: ErrorLike): number | undefined {
  const raw = err.response?.headers?.get?.('retry-after');
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** First line of an SDK message, capped: Key Vault error messages name secrets, never their values. */
function shortMessage(err: ErrorLike): string {
  const text = typeof err.message === 'string' ? err.message : 'Unknown error';
  const firstLine = text.split('\n')[0] ?? '';
  return firstLine.length > 300 ? `${firstLine.slice(0, 297)}...` : firstLine;
}

/**
 * Map any error thrown while reading a secret to a {@link KeyVaultFailure}.
 * `versionRequested` tells a missing version (SecretVersionNotFound) from a missing secret.
 */
export function classifyError(error: unknown, versionRequested = false): KeyVaultFailure {
  if (error instanceof KeyVaultFailure) return error;
  const err = (error && typeof error === 'object' ? error : { message: String(error) }) as ErrorLike;
  const name = typeof err.name === 'string' ? err.name : '';
  const message = shortMessage(err);
  const status = typeof err.statusCode === 'number' ? err.statusCode : undefined;

  if (
    name === 'CredentialUnavailableError' ||
    name === 'AggregateAuthenticationError' ||
    name === 'AuthenticationError' ||
    name === 'AuthenticationRequiredError'
  ) {
    // ManagedIdentityCredential wraps every failure, the HTTP status of the identity endpoint's answer is in the
    // cause chain. A 4xx (e.g. 400 "identity not found": wrong AZURE_CLIENT_ID, identity not enabled) is a
    // configuration problem, not an outage: it must not be retried into a timeout or served stale.
    const identityStatus = causeStatus(err);
    if (
      identityStatus !== undefined &&
      identityStatus >= 400 &&
      identityStatus < 500 &&
      identityStatus !== 408 &&
      identityStatus !== 429
    ) {
      return new KeyVaultFailure(
        'identity-refused',
        `The identity endpoint refused a token: ${message}`,
        identityStatus,
      );
    }
    return new KeyVaultFailure(
      'identity-unavailable',
      `No token from the identity endpoint: ${message}`,
      identityStatus,
    );
  }
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new KeyVaultFailure('timeout', 'The Key Vault request was aborted before it completed.');
  }

  if (status === 404) {
    return versionRequested
      ? new KeyVaultFailure('version-not-found', message, 404)
      : new KeyVaultFailure('secret-not-found', message, 404);
  }
  if (status === 401 || status === 403) return new KeyVaultFailure('access-denied', message, status);
  if (status === 429) return new KeyVaultFailure('throttled', message, 429, retryAfter(err));
  if (status === 408) return new KeyVaultFailure('timeout', message, 408);
  if (status !== undefined && status >= 500)
    return new KeyVaultFailure('service-error', message, status, retryAfter(err));

  const code = networkCode(err);
  if (code === 'ENOTFOUND') return new KeyVaultFailure('vault-not-found', `The vault host does not resolve (${code}).`);
  if (code !== undefined || (typeof err.code === 'string' && err.code === 'REQUEST_SEND_ERROR')) {
    return new KeyVaultFailure('unreachable', `Key Vault could not be reached${code ? ` (${code})` : ''}: ${message}`);
  }
  if (status !== undefined) return new KeyVaultFailure('unexpected', message, status);
  return new KeyVaultFailure('unexpected', message);
}
