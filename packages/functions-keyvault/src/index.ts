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
  MonitoringSettings,
  NumericSetting,
  NumericSettingName,
} from './config.js';
export { KEY_VAULT_SECRET_EVENT_TYPES, parseKeyVaultEvent } from './events/keyVaultEvents.js';
export type { ParseResult, SecretEvent } from './events/keyVaultEvents.js';
export { buildConfigReport, reportLogLine, reportSummary } from './diagnostics/configReport.js';
export type { ConfigReport, ConfigReportResult, SettingReport } from './diagnostics/configReport.js';
export {
  configureRotationLedger,
  ledgerStarting,
  recordRotationEvent,
  rotationLedger,
  startRotationLedger,
} from './ledger/index.js';
export type { LedgerStatus, StorageSdkLoader } from './ledger/index.js';
