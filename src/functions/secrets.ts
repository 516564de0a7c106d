import {
  app,
  type HttpFunctionOptions,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { problem, problemForFailure, problemResponse } from '../http/problems.js';
import { classifyError } from '../keyVault/errors.js';
import { keyVaultService } from '../keyVault/service.js';
import { isSecretAllowed, secretRequestError } from '../validation.js';

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

/** `Cache-Control: no-cache` (or `max-age=0`) from the caller asks for a value fresh from Key Vault. */
export function wantsFreshValue(cacheControl: string | null): boolean {
  if (!cacheControl) return false;
  return cacheControl
    .toLowerCase()
    .split(',')
    .map((d) => d.trim())
    .some((d) => d === 'no-cache' || d === 'max-age=0');
}

/** GET /api/secrets/{name}[?version=<32 hex>]: one allowed secret, read through the shared service. */
export async function getSecret(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const name = request.params.name;
  const version = request.query.get('version') ?? undefined;

  const invalid = secretRequestError(name, version);
  if (invalid !== undefined || name === undefined) {
    return problemResponse(
      problem('invalid-request', 'Invalid secret request', 400, invalid ?? 'Missing secret name.'),
    );
  }

  const service = keyVaultService();
  if (!isSecretAllowed(name, service.allowedSecrets)) {
    return problemResponse(
      problem(
        'secret-not-allowed',
        'Secret not allowed',
        403,
        `Secret "${name}" is not in SECRETS_ALLOWED. The app returns only secrets listed there (exact names, or ` +
          'prefixes ending in "*"); nothing is allowed by default.',
      ),
    );
  }

  const vaultUrl = service.vaultUrl;
  if (vaultUrl === undefined) {
    return problemResponse(
      problem(
        'key-vault-not-configured',
        'Key Vault is not configured',
        503,
        'Set the app setting KEY_VAULT_URL to the vault URL, e.g. https://<vault-name>.vault.azure.net/.',
      ),
      { 'Retry-After': '60' },
    );
  }

  const ref = version === undefined ? { vaultUrl, name } : { vaultUrl, name, version: version.toLowerCase() };
  try {
    const { record, cache } = await service.readSecret(ref, {
      forceRefresh: wantsFreshValue(request.headers.get('cache-control')),
    });
    context.log(`Read secret "${record.name}" version ${record.version ?? 'latest'} (cache ${cache}).`);
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store', 'X-Cache': cache },
      jsonBody: {
        name: record.name,
        value: record.value,
        version: record.version,
        contentType: record.contentType,
        enabled: record.enabled,
        createdOn: iso(record.createdOn),
        updatedOn: iso(record.updatedOn),
        expiresOn: iso(record.expiresOn),
      },
    };
  } catch (error) {
    const failure = classifyError(error, version !== undefined);
    context.warn(
      `Reading secret "${name}" failed: ${failure.kind}${failure.statusCode ? ` (${failure.statusCode})` : ''}.`,
    );
    return problemForFailure(failure, { vaultUrl, name, version, identity: service.identity.description });
  }
}

export const options = {
  route: 'secrets/{name}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getSecret,
} satisfies HttpFunctionOptions;

app.http('getSecret', options);
