/**
 * App settings the app reads (environment variables / Function App "app settings").
 * Pure: every reader takes the environment as an argument so unit tests need no process state.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** Every app setting the app itself reads. The infra drift test checks that Bicep sets the ones it must. */
export const APP_SETTINGS = {
  KEY_VAULT_URL: 'KEY_VAULT_URL',
  KEY_VAULT_URI: 'KEY_VAULT_URI',
  AZURE_CLIENT_ID: 'AZURE_CLIENT_ID',
  SECRETS_ALLOWED: 'SECRETS_ALLOWED',
  CONFIG_CHECK_SETTINGS: 'CONFIG_CHECK_SETTINGS',
  SECRET_CACHE_TTL_SECONDS: 'SECRET_CACHE_TTL_SECONDS',
  SECRET_CACHE_MAX_STALE_SECONDS: 'SECRET_CACHE_MAX_STALE_SECONDS',
  SECRET_CACHE_NEGATIVE_TTL_SECONDS: 'SECRET_CACHE_NEGATIVE_TTL_SECONDS',
  SECRET_CACHE_MAX_ENTRIES: 'SECRET_CACHE_MAX_ENTRIES',
  SECRET_PREFETCH: 'SECRET_PREFETCH',
  KEY_VAULT_TIMEOUT_MS: 'KEY_VAULT_TIMEOUT_MS',
  KEY_VAULT_MAX_CONCURRENCY: 'KEY_VAULT_MAX_CONCURRENCY',
  KEY_VAULT_API_VERSION: 'KEY_VAULT_API_VERSION',
  KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION',
  KEY_VAULT_DNS_SUFFIX: 'KEY_VAULT_DNS_SUFFIX',
} as const;

/** Settings a deployment must set for the app to do its job (the rest have safe defaults). */
export const REQUIRED_DEPLOYMENT_SETTINGS = [
  APP_SETTINGS.KEY_VAULT_URL,
  APP_SETTINGS.SECRETS_ALLOWED,
  APP_SETTINGS.CONFIG_CHECK_SETTINGS,
] as const;

export const KEY_VAULT_API_VERSIONS = ['7.0', '7.1', '7.2', '7.3', '7.4', '7.5', '7.6', '2025-07-01'] as const;
export type KeyVaultApiVersion = (typeof KEY_VAULT_API_VERSIONS)[number];

export interface CachePolicySettings {
  ttlMs: number;
  maxStaleMs: number;
  negativeTtlMs: number;
  maxEntries: number;
  timeoutMs: number;
  maxConcurrency: number;
}

export const CACHE_DEFAULTS: CachePolicySettings = {
  ttlMs: 300_000,
  maxStaleMs: 86_400_000,
  negativeTtlMs: 30_000,
  maxEntries: 1_000,
  timeoutMs: 5_000,
  maxConcurrency: 8,
};

function trimmed(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** The configured vault URL (`KEY_VAULT_URL`, alias `KEY_VAULT_URI`), normalised to `https://host[:port]/`. */
export function vaultUrlFrom(env: Env): string | undefined {
  const raw = trimmed(env, APP_SETTINGS.KEY_VAULT_URL) ?? trimmed(env, APP_SETTINGS.KEY_VAULT_URI);
  return raw === undefined ? undefined : normaliseVaultUrl(raw);
}

/** Normalise a vault URL to its origin with a trailing slash; returns the input unchanged when it is not a URL. */
export function normaliseVaultUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}/`.toLowerCase();
  } catch {
    return raw;
  }
}

/** Comma-separated list setting: trimmed, empty items dropped. */
export function listSetting(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function numberSetting(env: Env, name: string, fallback: number, min: number): number {
  const raw = trimmed(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  return Number.isFinite(value) && value >= min ? value : fallback;
}

export function cachePolicyFrom(env: Env): CachePolicySettings {
  return {
    ttlMs: numberSetting(env, APP_SETTINGS.SECRET_CACHE_TTL_SECONDS, CACHE_DEFAULTS.ttlMs / 1000, 0) * 1000,
    maxStaleMs:
      numberSetting(env, APP_SETTINGS.SECRET_CACHE_MAX_STALE_SECONDS, CACHE_DEFAULTS.maxStaleMs / 1000, 0) * 1000,
    negativeTtlMs:
      numberSetting(env, APP_SETTINGS.SECRET_CACHE_NEGATIVE_TTL_SECONDS, CACHE_DEFAULTS.negativeTtlMs / 1000, 0) * 1000,
    maxEntries: Math.floor(numberSetting(env, APP_SETTINGS.SECRET_CACHE_MAX_ENTRIES, CACHE_DEFAULTS.maxEntries, 1)),
    timeoutMs: numberSetting(env, APP_SETTINGS.KEY_VAULT_TIMEOUT_MS, CACHE_DEFAULTS.timeoutMs, 1),
    maxConcurrency: Math.floor(
      numberSetting(env, APP_SETTINGS.KEY_VAULT_MAX_CONCURRENCY, CACHE_DEFAULTS.maxConcurrency, 1),
    ),
  };
}

export function apiVersionFrom(env: Env): KeyVaultApiVersion | undefined {
  const raw = trimmed(env, APP_SETTINGS.KEY_VAULT_API_VERSION);
  if (raw === undefined) return undefined;
  if ((KEY_VAULT_API_VERSIONS as readonly string[]).includes(raw)) return raw as KeyVaultApiVersion;
  throw new Error(
    `${APP_SETTINGS.KEY_VAULT_API_VERSION}="${raw}" is not a Key Vault API version this SDK supports (${KEY_VAULT_API_VERSIONS.join(', ')}).`,
  );
}

export function disableChallengeResourceVerificationFrom(env: Env): boolean {
  return trimmed(env, APP_SETTINGS.KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION)?.toLowerCase() === 'true';
}
