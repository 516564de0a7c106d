/**
 * The HTTP answer to a failed Key Vault read: a KeyVaultFailure mapped to an RFC 9457 problem (problems.ts), with
 * the facts only the Key Vault service knows — the vault URL and the identity it reads with. Lives on the HTTP side
 * so that the Key Vault module knows nothing of HTTP.
 *
 * ```ts
 * import { failureResponse } from '../http/failureResponse.js';
 * // in a handler's catch: return failureResponse(error, { name: 'db-password' });
 * ```
 */
import type { HttpResponseInit } from '@azure/functions';
import { keyVault, type KeyVaultService } from '../keyVault/index.js';
import { problemForFailure } from './problems.js';

/**
 * The problem response the built-in functions return for a failure: status, detail and `Retry-After` (only where
 * retrying can help). Anything that is not a KeyVaultFailure is a 500 without details.
 * @param service the service that failed; the process-wide one by default.
 */
export function failureResponse(
  error: unknown,
  target: { name?: string; version?: string } = {},
  service: KeyVaultService = keyVault(),
): HttpResponseInit {
  return problemForFailure(error, {
    vaultUrl: service.vaultUrl ?? '(no vault configured)',
    name: target.name,
    version: target.version,
    identity: service.identity.description,
    identityKind: service.identity.kind,
    local: !service.config.inAzure,
  });
}
