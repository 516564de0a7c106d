/**
 * RFC 9457 problem details, and the mapping from Key Vault failures to HTTP problems. Pure.
 */
import type { HttpResponseInit } from '@azure/functions';
import { KeyVaultFailure, referenceStatusWord } from '../keyVault/index.js';

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
/** The longest Retry-After passed on: a vault's (or a buggy proxy's) absurd value is capped. */
export const MAX_RETRY_AFTER_SECONDS = 300;

/** Retry-After for a transient failure: at least what Key Vault asked for (at least 1 s), at most the cap. */
export function retryAfterSeconds(failure: KeyVaultFailure): number {
  const asked = failure.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, asked));
}

export interface FailureContext {
  vaultUrl: string;
  /** The secret asked for, when there is one. */
  name?: string;
  version?: string;
  /** Human description of the identity the app uses, e.g. "the Function App's system-assigned managed identity". */
  identity: string;
  /** A managed identity (Azure) or the developer's own sign-in (local): the advice differs. */
  identityKind?: 'managed-identity' | 'developer';
  /** Running on a developer machine rather than in Azure. */
  local?: boolean;
}

function grantAdvice(vaultUrl: string, identityKind: FailureContext['identityKind']): string {
  const command =
    identityKind === 'developer'
      ? 'az role assignment create --role "Key Vault Secrets User" --assignee-object-id ' +
        '$(az ad signed-in-user show --query id -o tsv) --assignee-principal-type User --scope <vault-resource-id>'
      : 'az role assignment create --role "Key Vault Secrets User" --assignee-object-id <principal-id> ' +
        '--assignee-principal-type ServicePrincipal --scope <vault-resource-id>';
  return (
    `Grant that identity the role "Key Vault Secrets User" on the vault (${command}), or, if ${vaultUrl} uses ` +
    'access policies, an access policy with secret permission "get".'
  );
}

/** Safe facts of a failure for the problem body: the portal word, Key Vault's status, code and request id. */
function failureFacts(failure: KeyVaultFailure): Record<string, unknown> {
  return {
    kind: failure.kind,
    reason: referenceStatusWord(failure.kind),
    ...(failure.errorCode !== undefined ? { errorCode: failure.errorCode } : {}),
    ...(failure.requestId !== undefined ? { requestId: failure.requestId } : {}),
  };
}

/**
 * The HTTP problem for a failed secret read. Never includes a value, token or stack: the failure's message is
 * fixed text (see keyVault/classify.ts). Anything that is not a KeyVaultFailure is a bare 500.
 */
export function problemForFailure(error: unknown, ctx: FailureContext): HttpResponseInit {
  if (!(error instanceof KeyVaultFailure)) {
    return problemResponse(problem('internal-error', 'Internal error', 500, 'The function failed unexpectedly.'));
  }
  const failure = error;
  const what =
    ctx.name === undefined
      ? 'a secret'
      : ctx.version
        ? `version ${ctx.version} of secret "${ctx.name}"`
        : `secret "${ctx.name}"`;
  const extensions = failureFacts(failure);
  const transient = (title: string, detail: string): HttpResponseInit =>
    problemResponse(problem('key-vault-unavailable', title, 503, detail, extensions), {
      'Retry-After': String(retryAfterSeconds(failure)),
    });

  switch (failure.kind) {
    case 'invalid-request':
      return problemResponse(problem('invalid-request', 'Invalid secret request', 400, failure.message));
    case 'not-configured':
      return problemResponse(
        problem(
          'key-vault-not-configured',
          'Key Vault is not configured',
          503,
          'KEY_VAULT_URL is not set, or is not a vault URL the app accepts (the config check, ' +
            'GET /api/config/check, says why): set it to the vault URL, e.g. https://<vault-name>.vault.azure.net/.',
        ),
      );
    case 'not-signed-in':
      // Retrying cannot help until someone signs in: no Retry-After.
      return problemResponse(problem('not-signed-in', 'No developer sign-in', 503, failure.message, extensions));
    case 'tls-untrusted':
      return problemResponse(
        problem('vault-certificate-not-trusted', 'Vault certificate not trusted', 502, failure.message, extensions),
      );
    case 'secret-not-found':
      return problemResponse(
        problem('secret-not-found', 'Secret not found', 404, `The vault ${ctx.vaultUrl} has no ${what}.`, extensions),
      );
    case 'version-not-found':
      return problemResponse(
        problem(
          'secret-version-not-found',
          'Secret version not found',
          404,
          `The vault ${ctx.vaultUrl} has no ${what}.`,
          extensions,
        ),
      );
    case 'access-denied':
      return problemResponse(
        problem(
          'key-vault-access-denied',
          'Key Vault refused the app identity',
          502,
          failure.statusCode === 401
            ? `Key Vault ${ctx.vaultUrl} answered 401 when ${ctx.identity} read ${what}: it rejected the token ` +
                '(issued for another audience, by another issuer or tenant, or expired). The identity must get its ' +
                "token for the resource the vault's challenge names, from the vault's tenant; a role assignment " +
                'does not fix a 401.'
            : `Key Vault ${ctx.vaultUrl} answered ${failure.statusCode ?? 403} when ${ctx.identity} read ${what}. ` +
                grantAdvice(ctx.vaultUrl, ctx.identityKind),
          extensions,
        ),
      );
    case 'secret-disabled':
      return problemResponse(
        problem(
          'secret-disabled',
          'Secret disabled',
          409,
          `Key Vault ${ctx.vaultUrl} refused to return ${what} because it is disabled. Enable it (az keyvault ` +
            'secret set-attributes --enabled true), or read another version.',
          extensions,
        ),
      );
    case 'untrusted-vault':
      return problemResponse(problem('untrusted-vault', 'Vault host not trusted', 502, failure.message, extensions));
    case 'identity-refused':
      return problemResponse(
        problem(
          'managed-identity-refused',
          'The managed identity endpoint refused a token',
          502,
          `The identity endpoint refused a token for ${ctx.identity} (${failure.message}). Enable the managed ` +
            `identity on the Function App, or set AZURE_CLIENT_ID to the client id of a user-assigned identity ` +
            `attached to it.`,
          extensions,
        ),
      );
    case 'throttled':
      return transient(
        'Key Vault is throttling requests',
        failure.errorCode === 'InstanceBudgetSpent'
          ? `Reading ${what} needs a Key Vault call, and ${failure.message} Cached secrets are still served; retry later.`
          : `Key Vault ${ctx.vaultUrl} throttled the read of ${what}; retry after ${retryAfterSeconds(failure)} s.`,
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
      return transient('Key Vault is unreachable', `Reading ${what} from ${ctx.vaultUrl} failed: ${failure.message}`);
    case 'unreachable':
      return transient(
        'Key Vault is unreachable',
        `Reading ${what} from ${ctx.vaultUrl} failed: ${failure.message}` +
          (ctx.local
            ? ' Locally: is the emulator running (`npm run vault:status`)? KEY_VAULT_URL comes from ' +
              'local.settings.json, or from your shell environment.'
            : ''),
      );
    default:
      return problemResponse(
        problem(
          'key-vault-error',
          'Key Vault request failed',
          502,
          `Reading ${what} from ${ctx.vaultUrl} failed: ${failure.message}`,
          extensions,
        ),
      );
  }
}
