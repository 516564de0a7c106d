/**
 * The template's own settings, which the package does not read: Application Insights (the Azure Monitor distro is
 * this app's choice, src/monitoring.ts) and the settings infra/main.bicep must set for this app. The package's
 * settings are its APP_SETTINGS (and the ones declared with declareSetting); test/infra.test.ts reads both.
 */
import { APP_SETTINGS, type Env } from 'functions-keyvault';

/** Settings a deployment must set for the app to do its job (the rest have safe defaults). */
export const REQUIRED_DEPLOYMENT_SETTINGS = [
  APP_SETTINGS.KEY_VAULT_URL,
  APP_SETTINGS.SECRETS_ALLOWED,
  APP_SETTINGS.CONFIG_CHECK_SETTINGS,
] as const;

/** Application Insights, when APPLICATIONINSIGHTS_CONNECTION_STRING is set (the string is never logged or shown). */
export interface MonitoringSettings {
  readonly connectionString: string;
  /** APPLICATIONINSIGHTS_AUTHENTICATION_STRING says `Authorization=AAD`: send with the app's Entra identity. */
  readonly entraAuth: boolean;
  /** `ClientId=` of that string: a user-assigned identity. */
  readonly clientId: string | undefined;
}

/** Telemetry to Application Insights from these settings, or undefined (telemetry stays a no-op). */
export function parseMonitoring(env: Env): MonitoringSettings | undefined {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim() || undefined;
  if (connectionString === undefined) return undefined;
  const authentication = env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING?.trim() ?? '';
  return Object.freeze({
    connectionString,
    entraAuth: /(^|;)\s*Authorization\s*=\s*AAD\s*(;|$)/i.test(authentication),
    clientId: /(^|;)\s*ClientId\s*=\s*([^;\s]+)/i.exec(authentication)?.[2],
  });
}
