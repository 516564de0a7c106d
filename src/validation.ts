/** Input validation and the secret allow-list. Pure functions: no I/O, no SDK. */

/** Key Vault secret names: 1-127 characters, letters, digits and dashes. */
export const SECRET_NAME_PATTERN = /^[0-9A-Za-z-]{1,127}$/;
/** Key Vault secret versions are 32 hexadecimal characters. */
export const SECRET_VERSION_PATTERN = /^[0-9A-Fa-f]{32}$/;

export function isValidSecretName(name: string): boolean {
  return SECRET_NAME_PATTERN.test(name);
}

export function isValidSecretVersion(version: string): boolean {
  return SECRET_VERSION_PATTERN.test(version);
}

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
 * Deny-by-default allow-list. Entries are exact names or prefixes ending in `*`.
 * Key Vault secret names are case-insensitive, so matching is too.
 */
export function isSecretAllowed(name: string, allowList: readonly string[]): boolean {
  const wanted = name.toLowerCase();
  return allowList.some((entry) => {
    const pattern = entry.toLowerCase();
    return pattern.endsWith('*') ? wanted.startsWith(pattern.slice(0, -1)) : wanted === pattern;
  });
}
