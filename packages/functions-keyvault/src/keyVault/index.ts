/**
 * The Key Vault module's public face. The built-in functions, the scripts and your own functions import from here
 * and nowhere else in `src/keyVault/`.
 *
 * ```ts
 * import { readSecret, resolveSetting } from '../keyVault/index.js';
 * const password = (await readSecret('db-password')).value;      // configured vault, shared cache
 * const conn = await resolveSetting('DB_CONNECTION');            // plain value, or a Key Vault reference resolved
 * ```
 *
 * The module knows nothing of HTTP: a function turns a failure into a response with `src/http/failureResponse.ts`.
 */
import type { TokenCredential } from '@azure/identity';
import { appConfig, type Env, isDeclaredSetting, parseConfig } from '../config.js';
import { type CacheState, isValidSecretName, isValidSecretVersion, type SecretRecord } from './contract.js';
import { KeyVaultFailure } from './failure.js';
import { KeyVaultService, type KeyVaultOptions } from './service.js';

export type {
  AccessProbe,
  ExpiryNotice,
  KeyVaultOptions,
  KeyVaultStats,
  ReportedExpiryNotice,
  Revocation,
  RotationOutcome,
  SettingResolution,
  VersionCheck,
  VersionSeen,
} from './service.js';
export { MAX_EXPIRY_NOTICES } from './service.js';
export type {
  CacheState,
  Clock,
  Logger,
  Schedule,
  SecretFetch,
  SecretRead,
  SecretRecord,
  SecretReference,
  WarmupGate,
} from './contract.js';
export { realSchedule } from './contract.js';
export {
  isValidSecretName,
  isValidSecretVersion,
  type SecretMetadata,
  type SecretState,
  secretState,
} from './contract.js';
export { type FailureKind, isTransient, KeyVaultFailure, referenceStatusWord } from './failure.js';
export type { IdentityChoice } from './identity.js';
export { KeyVaultService };
/** Declare a setting your code reads with resolveSetting(), next to that code (src/config.ts). */
export { declareSetting } from '../config.js';
export { classifyError } from './classify.js';

let shared: KeyVaultService | undefined;

/** The process-wide service: one credential, one SecretClient per vault, one cache (created on first use). */
export function keyVault(): KeyVaultService {
  shared ??= new KeyVaultService({ config: appConfig() });
  return shared;
}

/**
 * What {@link configureKeyVault} takes: the service's options, and `settings`, the app settings as an object (the
 * same names and values as in the environment, e.g. `{ KEY_VAULT_URL: 'https://my-vault.vault.azure.net/' }`).
 */
export interface ConfigureOptions extends Partial<KeyVaultOptions> {
  /** Configure from these instead of `process.env`: then the package reads no environment variable of its own. */
  settings?: Env;
}

/**
 * Replace the process-wide service: configuration from an options object instead of the app settings (`settings`,
 * or an already parsed `config`), or another fetch, clock or logger (tests). Without `settings` or `config` the
 * settings are read from `process.env`, as {@link keyVault} does. (@azure/identity itself still reads the platform's
 * managed-identity variables, IDENTITY_ENDPOINT and the like: that is the SDK, not one of this package's settings.)
 */
export function configureKeyVault(options: ConfigureOptions = {}): KeyVaultService {
  const { settings, ...rest } = options;
  const config = rest.config ?? (settings !== undefined ? parseConfig(settings) : appConfig());
  shared = new KeyVaultService({ ...rest, config });
  return shared;
}

/** A secret as read: its value and metadata, and where the value came from. */
export interface Secret extends SecretRecord {
  cache: CacheState;
}

/**
 * Read a secret by name from the configured vault (`KEY_VAULT_URL`), through the shared cache. For app code: it
 * is not subject to `SECRETS_ALLOWED`, which guards only the HTTP secret function.
 * @throws {KeyVaultFailure} when the name or version is malformed (`invalid-request`), no vault is configured
 *   (`not-configured`), or Key Vault or the identity fails.
 */
export async function readSecret(
  name: string,
  options: { version?: string; forceRefresh?: boolean } = {},
): Promise<Secret> {
  const service = keyVault();
  if (!isValidSecretName(name) || (options.version !== undefined && !isValidSecretVersion(options.version))) {
    throw new KeyVaultFailure(
      'invalid-request',
      'A secret name is 1-127 letters, digits and dashes; a version is 32 hexadecimal characters.',
    );
  }
  const vaultUrl = service.vaultUrl;
  if (vaultUrl === undefined) {
    throw new KeyVaultFailure('not-configured', 'KEY_VAULT_URL is not set (or is not a valid vault URL).');
  }
  const ref =
    options.version === undefined ? { vaultUrl, name } : { vaultUrl, name, version: options.version.toLowerCase() };
  const { record, cache } = await service.read(ref, { forceRefresh: options.forceRefresh ?? false });
  return { ...record, cache };
}

const undeclaredReported = new Set<string>();

/**
 * An app setting's value. A Key Vault reference (`@Microsoft.KeyVault(...)`) the host left unresolved — always
 * the case under local `func start` — is resolved through the same cache; plain values are returned as they are.
 * Only a declared setting is read (one of APP_SETTINGS, or declared with `declareSetting()` next to the code that
 * reads it): the declaration is what the infra drift test and the config check see.
 * @returns undefined when the setting is not set.
 * @throws {KeyVaultFailure} when the reference is malformed or cannot be read.
 * @throws {Error} when `name` is not declared (and logs that once: a programming error, not a Key Vault one).
 */
export async function resolveSetting(name: string): Promise<string | undefined> {
  if (!isDeclaredSetting(name)) {
    const message =
      `App setting ${name} is read with resolveSetting() but not declared: add ` +
      `declareSetting('${name}', '<what it holds>') next to the code that reads it (docs/your-own-function.md).`;
    if (!undeclaredReported.has(name)) {
      undeclaredReported.add(name);
      console.error(message);
    }
    throw new Error(message);
  }
  const resolution = await keyVault().resolveSetting(name);
  switch (resolution.kind) {
    case 'missing':
      return undefined;
    case 'plain':
      return resolution.value;
    case 'resolved':
      return resolution.read.record.value;
    case 'invalid-reference':
      throw new KeyVaultFailure('invalid-request', `App setting ${name} holds an invalid Key Vault reference.`);
    case 'failed':
      throw resolution.failure;
  }
}

/**
 * The app's identity as a TokenCredential for Azure Storage (the rotation ledger): the credential Key Vault reads
 * use (managed identity in Azure, the developer chain locally), bounded in time, limited to the storage scope.
 * Loads @azure/identity.
 */
export async function storageCredential(config = keyVault().config): Promise<TokenCredential> {
  const [{ createStorageCredential }, { chooseIdentity }] = await Promise.all([
    import('./credential.js'),
    import('./identity.js'),
  ]);
  return createStorageCredential(chooseIdentity(config.identity), config.identity, config.calls.timeoutMs);
}

/**
 * The SDK's SecretClient for the configured vault, with the app's credential and client options: for developer
 * tooling (the secrets CLI's set/list/delete). Loads the SDK. App code reads through {@link readSecret} instead.
 */
export async function sdkSecretClient(config = keyVault().config) {
  if (config.vaultUrl === undefined) {
    throw new KeyVaultFailure('not-configured', 'KEY_VAULT_URL is not set (or is not a valid vault URL).');
  }
  const [{ SecretClients }, { chooseIdentity }] = await Promise.all([
    import('./secretClient.js'),
    import('./identity.js'),
  ]);
  return new SecretClients(chooseIdentity(config.identity), config).client(config.vaultUrl);
}
