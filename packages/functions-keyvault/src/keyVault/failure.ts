/**
 * The failure type of the Key Vault module, the transient policy (which failures may serve a last-known-good
 * value), and the words the platform uses for Key Vault reference status. Pure.
 */

export type FailureKind =
  | 'secret-not-found'
  | 'version-not-found'
  | 'access-denied'
  /** Key Vault refused the read because the secret (version) is disabled (403, inner code SecretDisabled). */
  | 'secret-disabled'
  /** The vault host is not one the app trusts with its token (never contacted). */
  | 'untrusted-vault'
  | 'throttled'
  | 'timeout'
  | 'service-error'
  | 'unreachable'
  | 'vault-not-found'
  | 'identity-unavailable'
  | 'identity-refused'
  /** Locally: no developer credential could get a token (not signed in with az / azd / PowerShell, no env vars). */
  | 'not-signed-in'
  /** The vault's TLS certificate is not trusted (an emulator's certificate missing from NODE_EXTRA_CA_CERTS). */
  | 'tls-untrusted'
  | 'unexpected'
  /** The caller's input was malformed (never reaches Key Vault). */
  | 'invalid-request'
  /** No vault is configured (KEY_VAULT_URL missing or invalid). */
  | 'not-configured';

/** Facts about a failure that are safe to show: the SDK's status and codes, never its message text. */
export interface FailureFacts {
  /** HTTP status of Key Vault's (or the identity endpoint's) answer. */
  statusCode?: number;
  /** Key Vault's error code (e.g. `Forbidden`, `SecretNotFound`), or a network code such as `ECONNREFUSED`. */
  errorCode?: string;
  /** Key Vault's `x-ms-request-id`, for a support ticket. */
  requestId?: string;
  /** Seconds the caller should wait before retrying (transient failures only). */
  retryAfterSeconds?: number;
}

/**
 * A Key Vault or identity failure. Its message is fixed text written by this module (see `classify.ts`): it
 * never echoes SDK or server text, so it can never carry a secret value or a token.
 */
export class KeyVaultFailure extends Error {
  override readonly name = 'KeyVaultFailure';
  readonly statusCode?: number;
  readonly errorCode?: string;
  readonly requestId?: string;
  readonly retryAfterSeconds?: number;

  constructor(
    readonly kind: FailureKind,
    message: string,
    facts: FailureFacts = {},
  ) {
    super(message);
    if (facts.statusCode !== undefined) this.statusCode = facts.statusCode;
    if (facts.errorCode !== undefined) this.errorCode = facts.errorCode;
    if (facts.requestId !== undefined) this.requestId = facts.requestId;
    if (facts.retryAfterSeconds !== undefined) this.retryAfterSeconds = facts.retryAfterSeconds;
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
    case 'secret-disabled':
      return 'SecretDisabled';
    case 'vault-not-found':
      return 'VaultNotFound';
    case 'timeout':
    case 'throttled':
    case 'service-error':
    case 'unreachable':
      return 'FetchTimedOut';
    case 'identity-unavailable':
    case 'identity-refused':
    case 'not-signed-in':
      return 'MSINotEnabled';
    default:
      return 'OtherReasons';
  }
}

/** Whether Key Vault itself answered (refused, throttled or failed), as opposed to never being reached. */
export function vaultAnswered(failure: KeyVaultFailure): boolean {
  return (
    failure.kind === 'access-denied' ||
    failure.kind === 'secret-disabled' ||
    failure.kind === 'throttled' ||
    failure.kind === 'service-error' ||
    failure.kind === 'secret-not-found' ||
    failure.kind === 'version-not-found' ||
    (failure.kind === 'unexpected' && failure.statusCode !== undefined)
  );
}
