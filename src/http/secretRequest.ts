/**
 * The HTTP secret function's input rules: name and version validation, the deny-by-default allow-list, and
 * whether the caller asks for a fresh value. Pure functions: no I/O, no SDK.
 */
import { isValidSecretName, isValidSecretVersion } from 'functions-keyvault';

/** Why a requested name/version is rejected, or undefined when both are well formed. */
export function secretRequestError(name: string | undefined, version: string | undefined): string | undefined {
  if (name === undefined || !isValidSecretName(name)) {
    return 'The secret name must be 1-127 characters of letters, digits and dashes (^[0-9A-Za-z-]{1,127}$).';
  }
  if (version !== undefined && !isValidSecretVersion(version)) {
    return 'The version query parameter must be 32 hexadecimal characters, e.g. ?version=0123456789abcdef0123456789abcdef.';
  }
  return undefined;
}

/**
 * Query parameters the secret function accepts: `version` (at most once) and `code` (the function key, which the
 * host also accepts in the query). Anything else — `?Version=`, `?VERSION=`, `version[]`, a repeated `version` — is a
 * mistake the caller should hear about, not something to ignore and answer with the latest version.
 */
export function queryError(query: URLSearchParams): string | undefined {
  const seen = new Set<string>();
  for (const key of query.keys()) {
    if (key !== 'version' && key !== 'code') {
      return `Unknown query parameter "${key.slice(0, 40)}": the only one accepted is "version" (lower case).`;
    }
    if (seen.has(key)) return `The query parameter "${key}" is given more than once.`;
    seen.add(key);
  }
  return undefined;
}

/** The deny-by-default allow-list match (config.ts owns SECRETS_ALLOWED: its entries and how they match). */
export { isSecretAllowed } from 'functions-keyvault';

/** `Cache-Control: no-cache` (or `max-age=0`) from the caller asks for a value fresh from Key Vault. */
export function wantsFreshValue(cacheControl: string | null): boolean {
  if (!cacheControl) return false;
  return cacheControl
    .toLowerCase()
    .split(',')
    .map((d) => d.trim())
    .some((d) => d === 'no-cache' || d === 'max-age=0');
}
