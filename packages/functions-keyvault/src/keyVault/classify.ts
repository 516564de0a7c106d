/**
 * Error classification: any error thrown by the SDK, the identity library or the network becomes a
 * {@link KeyVaultFailure}. Called once, at the fetch seam (`secretClient.ts`); everything above it handles only
 * `KeyVaultFailure`.
 *
 * Messages are fixed text. The SDK's own message is never echoed: for a 200 with a malformed body it contains the
 * body, i.e. the secret value. What is kept is what helps a diagnosis and cannot carry a value: the HTTP status,
 * Key Vault's error code (inner code when present), a network error code and the request id, each checked to be
 * a short identifier. Pure: works on error shapes, imports no SDK.
 */
import { type FailureFacts, KeyVaultFailure } from './failure.js';

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  status?: unknown;
  cause?: unknown;
  details?: unknown;
  response?: {
    headers?: { get?: (name: string) => string | undefined };
    parsedBody?: unknown;
  };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Node's codes for a certificate it does not trust (self-signed, unknown issuer, expired, wrong name). */
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const IDENTITY_ERRORS = new Set([
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
  'AuthenticationError',
  'AuthenticationRequiredError',
]);

/** A short identifier, or undefined: server-supplied codes are kept only when they cannot be prose or data. */
export function safeIdentifier(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(value) ? value : undefined;
}

function asErrorLike(error: unknown): ErrorLike {
  return error && typeof error === 'object' ? error : {};
}

/** The first network error code in the cause chain. */
function networkCode(err: ErrorLike | undefined, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  if (typeof err.code === 'string' && NETWORK_CODES.has(err.code)) return err.code;
  return networkCode(err.cause as ErrorLike | undefined, depth + 1);
}

/** The first TLS trust error code in the cause chain. */
function tlsCode(err: ErrorLike | undefined, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  if (typeof err.code === 'string' && TLS_TRUST_CODES.has(err.code)) return err.code;
  return tlsCode(err.cause as ErrorLike | undefined, depth + 1);
}

/** An HTTP status anywhere in the cause chain (@azure/identity wraps MSAL errors that carry `status`). */
function causeStatus(err: ErrorLike | undefined, depth = 0): number | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const own = err.status ?? err.statusCode;
  if (typeof own === 'number') return own;
  return causeStatus(err.cause as ErrorLike | undefined, depth + 1);
}

/** `Retry-After` as whole seconds (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(raw: string | undefined, now = Date.now()): number | undefined {
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (raw.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

interface KeyVaultErrorBody {
  error?: { code?: unknown; innererror?: { code?: unknown }; innerError?: { code?: unknown } };
}

/**
 * Key Vault's error code: the inner code when there is one (e.g. `SecretDisabled` inside `Forbidden`). The SDK
 * puts the deserialised body in `details` (inner code as `innerError`); raw pipeline errors carry `parsedBody`.
 */
function keyVaultErrorCode(err: ErrorLike): string | undefined {
  for (const body of [err.details, err.response?.parsedBody] as Array<KeyVaultErrorBody | undefined>) {
    const inner = body?.error?.innerError?.code ?? body?.error?.innererror?.code;
    const code = safeIdentifier(inner) ?? safeIdentifier(body?.error?.code);
    if (code !== undefined) return code;
  }
  return safeIdentifier(err.code);
}

function facts(err: ErrorLike, statusCode: number | undefined): FailureFacts {
  const header = (name: string) => err.response?.headers?.get?.(name);
  const out: FailureFacts = {};
  if (statusCode !== undefined) out.statusCode = statusCode;
  const errorCode = keyVaultErrorCode(err);
  if (errorCode !== undefined) out.errorCode = errorCode;
  const requestId = safeIdentifier(header('x-ms-request-id'));
  if (requestId !== undefined) out.requestId = requestId;
  const retryAfter = parseRetryAfter(header('retry-after'));
  if (retryAfter !== undefined) out.retryAfterSeconds = retryAfter;
  return out;
}

/**
 * Map any error thrown while reading a secret to a {@link KeyVaultFailure}.
 * `versionRequested` tells a missing version (SecretVersionNotFound) from a missing secret.
 */
export function classifyError(error: unknown, versionRequested = false): KeyVaultFailure {
  if (error instanceof KeyVaultFailure) return error;
  const err = asErrorLike(error);
  const name = typeof err.name === 'string' ? err.name : '';
  const status = typeof err.statusCode === 'number' ? err.statusCode : undefined;

  if (IDENTITY_ERRORS.has(name)) {
    // ManagedIdentityCredential wraps every failure; the HTTP status of the identity endpoint's answer is in the
    // cause chain. A 4xx (e.g. 400 "identity not found": wrong AZURE_CLIENT_ID, identity not enabled) is a
    // configuration problem, not an outage: it must not be retried into a timeout or served stale.
    const identityStatus = causeStatus(err);
    const code = networkCode(err);
    const identityFacts: FailureFacts = {};
    if (identityStatus !== undefined) identityFacts.statusCode = identityStatus;
    if (code !== undefined) identityFacts.errorCode = code;
    if (
      identityStatus !== undefined &&
      identityStatus >= 400 &&
      identityStatus < 500 &&
      ![408, 429].includes(identityStatus)
    ) {
      return new KeyVaultFailure(
        'identity-refused',
        `The identity endpoint refused a token (HTTP ${identityStatus}).`,
        identityFacts,
      );
    }
    const why = identityStatus !== undefined ? ` (HTTP ${identityStatus})` : code !== undefined ? ` (${code})` : '';
    return new KeyVaultFailure('identity-unavailable', `No token from the identity endpoint${why}.`, identityFacts);
  }
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new KeyVaultFailure('timeout', 'The Key Vault request was aborted before it completed.');
  }

  const f = facts(err, status);
  if (status === 404) {
    return versionRequested
      ? new KeyVaultFailure('version-not-found', 'Key Vault has no such secret version (404).', f)
      : new KeyVaultFailure('secret-not-found', 'Key Vault has no such secret (404).', f);
  }
  const codeText = f.errorCode !== undefined ? ` ${f.errorCode}` : '';
  if (status === 403 && f.errorCode === 'SecretDisabled') {
    return new KeyVaultFailure(
      'secret-disabled',
      'Key Vault refused the read: the secret is disabled (403 SecretDisabled).',
      f,
    );
  }
  if (status === 401 || status === 403) {
    return new KeyVaultFailure('access-denied', `Key Vault refused the request (${status}${codeText}).`, f);
  }
  if (status === 429) return new KeyVaultFailure('throttled', 'Key Vault is throttling requests (429).', f);
  if (status === 408) return new KeyVaultFailure('timeout', 'Key Vault timed out (408).', f);
  if (status !== undefined && status >= 500) {
    return new KeyVaultFailure('service-error', `Key Vault failed (${status}${codeText}).`, f);
  }

  const tls = tlsCode(err);
  if (tls !== undefined) {
    return new KeyVaultFailure(
      'tls-untrusted',
      `The vault's TLS certificate is not trusted (${tls}). For an emulator, point NODE_EXTRA_CA_CERTS at its ` +
        'certificate before Node starts (the example local profile and `npm run vault:start` do); never turn TLS ' +
        'checks off.',
      { errorCode: tls },
    );
  }
  const code = networkCode(err);
  if (code === 'ENOTFOUND') {
    return new KeyVaultFailure('vault-not-found', 'The vault host does not resolve (ENOTFOUND).', { errorCode: code });
  }
  if (code !== undefined || err.code === 'REQUEST_SEND_ERROR') {
    const what = code === 'ECONNREFUSED' ? ': the connection was refused' : '';
    return new KeyVaultFailure(
      'unreachable',
      `Key Vault could not be reached${what} (${code ?? 'REQUEST_SEND_ERROR'}).`,
      code !== undefined ? { errorCode: code } : {},
    );
  }
  if (status !== undefined) {
    return new KeyVaultFailure('unexpected', `Key Vault's answer could not be used (${status}${codeText}).`, f);
  }
  const kind = safeIdentifier(name) ?? 'Error';
  return new KeyVaultFailure('unexpected', `Reading Key Vault failed with an unexpected ${kind}.`, f);
}
