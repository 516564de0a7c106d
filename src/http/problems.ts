/**
 * RFC 9457 problem details and the mapping from Key Vault failures to HTTP problems. Pure.
 */
import type { HttpResponseInit } from '@azure/functions';
import { type KeyVaultFailure, referenceStatusWord } from '../keyVault/errors.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

const TYPE_BASE = 'urn:keyvault-functions:problem:';

export function problem(
  slug: string,
  title: string,
  status: number,
  detail: string,
  extensions: Record<string, unknown> = {},
): Problem {
  return { ...extensions, type: `${TYPE_BASE}${slug}`, title, status, detail };
}

export function problemResponse(p: Problem, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status: p.status,
    jsonBody: p,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
  };
}

/** Retry-After (seconds) for transient failures when Key Vault gave none. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

export interface FailureContext {
  vaultUrl: string;
  name: string;
  version?: string;
  /** Human description of the identity the app uses, e.g. "the Function App's system-assigned managed identity". */
  identity: string;
}

function grantAdvice(vaultUrl: string): string {
  return (
    `Grant that identity the role "Key Vault Secrets User" on the vault ` +
    `(az role assignment create --role "Key Vault Secrets User" --assignee-object-id <principal-id> ` +
    `--assignee-principal-type ServicePrincipal --scope <vault-resource-id>), or, if ${vaultUrl} uses access ` +
    `policies, an access policy with secret permission "get".`
  );
}

/** The HTTP problem for a failed secret read. Never includes a value, token or stack. */
export function problemForFailure(failure: KeyVaultFailure, ctx: FailureContext): HttpResponseInit {
  const what = ctx.version ? `version ${ctx.version} of secret "${ctx.name}"` : `secret "${ctx.name}"`;
  const reason = referenceStatusWord(failure.kind);
  const transient = (title: string, detail: string): HttpResponseInit =>
    problemResponse(problem('key-vault-unavailable', title, 503, detail, { reason }), {
      'Retry-After': String(failure.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS),
    });

  switch (failure.kind) {
    case 'secret-not-found':
      return problemResponse(
        problem('secret-not-found', 'Secret not found', 404, `The vault ${ctx.vaultUrl} has no ${what}.`, { reason }),
      );
    case 'version-not-found':
      return problemResponse(
        problem(
          'secret-version-not-found',
          'Secret version not found',
          404,
          `The vault ${ctx.vaultUrl} has no ${what}.`,
          {
            reason,
          },
        ),
      );
    case 'access-denied':
      return problemResponse(
        problem(
          'key-vault-access-denied',
          'Key Vault refused the app identity',
          502,
          `Key Vault ${ctx.vaultUrl} answered ${failure.statusCode ?? 403} when ${ctx.identity} read ${what}. ` +
            grantAdvice(ctx.vaultUrl),
          { reason },
        ),
      );
    case 'identity-refused':
      return problemResponse(
        problem(
          'managed-identity-refused',
          'The managed identity endpoint refused a token',
          502,
          `The identity endpoint refused a token for ${ctx.identity} (${failure.message}). Enable the managed ` +
            `identity on the Function App, or set AZURE_CLIENT_ID to the client id of a user-assigned identity ` +
            `attached to it.`,
          { reason },
        ),
      );
    case 'throttled':
      return transient(
        'Key Vault is throttling requests',
        `Key Vault ${ctx.vaultUrl} throttled the read of ${what}; retry later.`,
      );
    case 'timeout':
      return transient(
        'Key Vault did not answer in time',
        `Reading ${what} from ${ctx.vaultUrl} timed out (KEY_VAULT_TIMEOUT_MS); retry later.`,
      );
    case 'identity-unavailable':
      return transient(
        'No token from the identity endpoint',
        `Could not get a token for ${ctx.identity}: ${failure.message}`,
      );
    case 'vault-not-found':
      return transient('Key Vault host not found', `${ctx.vaultUrl} does not resolve; check KEY_VAULT_URL.`);
    case 'service-error':
    case 'unreachable':
      return transient('Key Vault is unreachable', `Reading ${what} from ${ctx.vaultUrl} failed: ${failure.message}`);
    default:
      return problemResponse(
        problem(
          'key-vault-error',
          'Key Vault request failed',
          502,
          `Reading ${what} from ${ctx.vaultUrl} failed: ${failure.message}`,
          {
            reason,
          },
        ),
      );
  }
}
