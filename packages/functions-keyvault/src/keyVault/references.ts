/**
 * Key Vault reference parsing (`@Microsoft.KeyVault(...)` app-setting values). Pure: no I/O.
 *
 * Written by hand rather than with the SDK's `parseKeyVaultSecretIdentifier` on purpose: that helper lives in
 * `@azure/keyvault-secrets`/`@azure/keyvault-common`, whose import pulls in the whole HTTP pipeline (~25-80 ms
 * measured with `node -e "import('@azure/keyvault-common')"`). The config check parses references on every call,
 * and module load must stay cheap for cold start; the parsing itself is a URL split.
 */
import { DEFAULT_VAULT_DNS_SUFFIX } from '../config.js';
import { isValidSecretName, isValidSecretVersion, type SecretReference } from './contract.js';

export type ReferenceParse =
  { kind: 'not-reference' } | { kind: 'invalid'; reason: string } | { kind: 'reference'; reference: SecretReference };

const REFERENCE_PATTERN = /^@Microsoft\.KeyVault\((.*)\)$/is;

export function looksLikeReference(value: string): boolean {
  return /^@Microsoft\.KeyVault\(/i.test(value.trim());
}

/**
 * Parse an app-setting value. `vaultDnsSuffix` turns `VaultName=x` into `https://x.<suffix>/`
 * (e.g. `vault.azure.cn`, `vault.usgovcloudapi.net`, or an Azure Stack Hub suffix).
 */
export function parseKeyVaultReference(value: string, vaultDnsSuffix = DEFAULT_VAULT_DNS_SUFFIX): ReferenceParse {
  const trimmed = value.trim();
  if (!looksLikeReference(trimmed)) return { kind: 'not-reference' };
  const match = REFERENCE_PATTERN.exec(trimmed);
  if (!match) return { kind: 'invalid', reason: 'InvalidSyntax: the reference must end with ")".' };

  const fields = new Map<string, string>();
  for (const part of (match[1] ?? '').split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return { kind: 'invalid', reason: `InvalidSyntax: "${part.trim()}" is not a Key=Value pair.` };
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }

  const secretUri = fields.get('secreturi');
  if (secretUri !== undefined) return parseSecretUri(secretUri);

  const vaultName = fields.get('vaultname');
  const name = fields.get('secretname');
  if (vaultName === undefined || name === undefined) {
    return {
      kind: 'invalid',
      reason:
        'InvalidSyntax: expected SecretUri=<uri> or VaultName=<vault>;SecretName=<name>[;SecretVersion=<version>].',
    };
  }
  if (!/^[0-9A-Za-z-]{3,24}$/.test(vaultName)) {
    return { kind: 'invalid', reason: `InvalidSyntax: "${vaultName}" is not a valid vault name.` };
  }
  const version = fields.get('secretversion') || undefined;
  return checked(`https://${vaultName.toLowerCase()}.${vaultDnsSuffix}/`, name, version);
}

function parseSecretUri(secretUri: string): ReferenceParse {
  let url: URL;
  try {
    url = new URL(secretUri);
  } catch {
    return { kind: 'invalid', reason: 'InvalidSyntax: SecretUri is not a URL.' };
  }
  if (url.protocol !== 'https:') return { kind: 'invalid', reason: 'InvalidSyntax: SecretUri must use https.' };
  if (url.username !== '' || url.password !== '') {
    // https://vault.azure.net@evil.example/... names the host evil.example: never send a token there.
    return { kind: 'invalid', reason: 'InvalidSyntax: SecretUri must not contain user information (user@host).' };
  }
  const segments = url.pathname.split('/').filter((s) => s !== '');
  if (segments.length < 2 || segments.length > 3 || segments[0]?.toLowerCase() !== 'secrets') {
    return {
      kind: 'invalid',
      reason: 'InvalidSyntax: SecretUri must look like https://<vault-host>/secrets/<name>[/<version>].',
    };
  }
  return checked(`https://${url.host.toLowerCase()}/`, segments[1] ?? '', segments[2]);
}

function checked(vaultUrl: string, name: string, version: string | undefined): ReferenceParse {
  if (!isValidSecretName(name)) {
    return { kind: 'invalid', reason: `InvalidSyntax: "${name}" is not a valid secret name.` };
  }
  if (version !== undefined && !isValidSecretVersion(version)) {
    return { kind: 'invalid', reason: 'InvalidSyntax: the secret version must be 32 hexadecimal characters.' };
  }
  return { kind: 'reference', reference: version === undefined ? { vaultUrl, name } : { vaultUrl, name, version } };
}
