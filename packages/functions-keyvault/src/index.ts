import type { AppConfig } from './config.js';
import { keyVault, type KeyVaultService } from './keyVault/index.js';
import { startRotationLedger as startLedger } from './ledger/index.js';

/**
 * functions-keyvault: Key Vault secrets for an Azure Functions app (Node.js v4 model), read with the app's managed
 * identity through one shared cache. The package's main entry: no @azure/functions import, nothing of HTTP.
 *
 * ```ts
 * import { readSecret, resolveSetting } from 'functions-keyvault';
 * const password = (await readSecret('db-password')).value;
 * ```
 */
export {
  configureKeyVault,
  declareSetting,
  isValidSecretName,
  isValidSecretVersion,
  keyVault,
  KeyVaultFailure,
  KeyVaultService,
  readSecret,
  resolveSetting,
  secretState,
  isTransient,
  MAX_EXPIRY_NOTICES,
} from './keyVault/index.js';
export type {
  AccessProbe,
  ConfigureOptions,
  CacheState,
  Clock,
  ExpiryNotice,
  FailureKind,
  IdentityChoice,
  KeyVaultOptions,
  KeyVaultStats,
  Logger,
  ReportedExpiryNotice,
  RotationOutcome,
  Secret,
  SecretFetch,
  SecretMetadata,
  SecretRead,
  SecretRecord,
  SecretReference,
  SecretState,
  SettingResolution,
  VersionSeen,
} from './keyVault/index.js';
export {
  APP_SETTINGS,
  NUMERIC_SETTINGS,
  KEY_VAULT_API_VERSIONS,
  appConfig,
  isSecretAllowed,
  parseConfig,
} from './config.js';
export type {
  AppConfig,
  CacheSettings,
  CallSettings,
  ConfigProblem,
  Env,
  IdentitySettings,
  KeyVaultApiVersion,
  LedgerSettings,
  NumericSetting,
  NumericSettingName,
} from './config.js';
export { KEY_VAULT_SECRET_EVENT_TYPES, parseKeyVaultEvent } from './events/keyVaultEvents.js';
export type { ParseResult, SecretEvent } from './events/keyVaultEvents.js';
export { buildConfigReport, reportLogLine, reportSummary } from './diagnostics/configReport.js';
export type { ConfigReport, ConfigReportResult, SettingReport } from './diagnostics/configReport.js';
export { configureRotationLedger, ledgerStarting, recordRotationEvent } from './ledger/index.js';
export type { LedgerStatus, StorageSdkLoader } from './ledger/index.js';
// The types the functions and classes above mention (the API report, review/*.api.md, lists each one).
export type { LocalProfile } from './config.js';
export type { LedgerStatusSource, RotationLedgerReport, SettingState } from './diagnostics/configReport.js';
export type { EventSchema, IgnoreReason, ParseOptions, SecretEventKind } from './events/keyVaultEvents.js';
export type { Schedule, WarmupGate } from './keyVault/contract.js';
export type { FailureFacts } from './keyVault/failure.js';
export type { VaultStats } from './keyVault/callPolicy.js';
export type { CacheStats, Revocation } from './keyVault/secretCache.js';
export type { VersionCheck } from './keyVault/service.js';

/**
 * Starts the rotation ledger when ROTATION_LEDGER_URL is set (the app's start-up hook calls it; never awaited there):
 * true when it runs, false when ROTATION_LEDGER_URL is not set. It rejects when the ledger cannot start (for example
 * @azure/storage-blob is not installed): log it and carry on, the cache then refreshes on its TTL. The ledger's
 * internals are not part of the API.
 */
export async function startRotationLedger(service?: KeyVaultService, config?: AppConfig): Promise<boolean> {
  return (await startLedger(service ?? keyVault(), config)) !== undefined;
}
