import {
  app,
  type HttpFunctionOptions,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { failureResponse } from 'functions-keyvault/handlers';
import { problem, problemResponse } from 'functions-keyvault/handlers';
import { isSecretAllowed, queryError, secretRequestError, wantsFreshValue } from '../http/secretRequest.js';
import { keyVault, KeyVaultFailure, readSecret, secretState } from 'functions-keyvault';

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

/** GET /api/secrets/{name}[?version=<32 hex>]: one allowed secret, read through the shared service. */
export async function getSecret(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const name = request.params.name;
  const version = request.query.get('version') ?? undefined;

  const invalid = queryError(request.query) ?? secretRequestError(name, version);
  if (invalid !== undefined || name === undefined) {
    return problemResponse(
      problem('invalid-request', 'Invalid secret request', 400, invalid ?? 'Missing secret name.'),
    );
  }

  if (!isSecretAllowed(name, keyVault().config.allowedSecrets)) {
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

  try {
    const secret = await readSecret(name, {
      ...(version !== undefined ? { version } : {}),
      forceRefresh: wantsFreshValue(request.headers.get('cache-control')),
    });
    const state = secretState(secret, Date.now(), keyVault().config.expiryWarningMs);
    context.log(
      `Read secret "${secret.name}" version ${secret.version ?? 'latest'} (cache ${secret.cache}` +
        `${state ? `, ${state}` : ''}).`,
    );
    return {
      status: 200,
      // X-Secret-State flags a secret Key Vault still returns but that is past its expiry or before its notBefore.
      headers: { 'Cache-Control': 'no-store', 'X-Cache': secret.cache, ...(state ? { 'X-Secret-State': state } : {}) },
      jsonBody: {
        name: secret.name,
        value: secret.value,
        version: secret.version,
        contentType: secret.contentType,
        enabled: secret.enabled,
        createdOn: iso(secret.createdOn),
        updatedOn: iso(secret.updatedOn),
        expiresOn: iso(secret.expiresOn),
      },
    };
  } catch (error) {
    if (error instanceof KeyVaultFailure) {
      context.warn(
        `Reading secret "${name}" failed: ${error.kind}${error.statusCode ? ` (${error.statusCode})` : ''}.`,
      );
    } else {
      context.error(`Reading secret "${name}" failed unexpectedly.`);
    }
    return failureResponse(error, { name, ...(version !== undefined ? { version } : {}) });
  }
}

export const options = {
  route: 'secrets/{name}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getSecret,
} satisfies HttpFunctionOptions;

app.http('getSecret', options);
