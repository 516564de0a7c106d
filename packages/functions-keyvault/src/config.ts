/**
 * The app's configuration: parsed and validated once from the environment (Function App "app settings", or
 * `local.settings.json` for scripts), frozen, typed, and passed down. This is the one module that reads
 * `process.env`; nothing below it does.
 *
 * Every numeric setting has a documented range. A malformed or out-of-range value never crashes the app or turns
 * into a 1 ms timeout: it becomes a {@link ConfigProblem} (reported by the config check and logged once at start)
 * and the default is used instead. Problems name the setting and the accepted range, never the value.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Every app setting the app's own modules read (parsed below). A setting your function reads is declared next to
 * the code that reads it, with {@link declareSetting}, not here. Both lists are the one declaration the rest reads:
 * `resolveSetting()` refuses an undeclared name, test/infra.test.ts checks Bicep against them (every setting
 * infra/main.bicep sets is declared or a platform setting; every required one is set), test/config.test.ts checks
 * docs/configuration.md's table against this one, and the config check reports a required declared setting that is
 * missing. docs/configuration.md, "Adding a setting".
 */
export const APP_SETTINGS = {
  KEY_VAULT_URL: 'KEY_VAULT_URL',
  KEY_VAULT_URI: 'KEY_VAULT_URI',
  AZURE_CLIENT_ID: 'AZURE_CLIENT_ID',
  SECRETS_ALLOWED: 'SECRETS_ALLOWED',
  CONFIG_CHECK_SETTINGS: 'CONFIG_CHECK_SETTINGS',
  SECRET_CACHE_TTL_SECONDS: 'SECRET_CACHE_TTL_SECONDS',
  SECRET_CACHE_MAX_STALE_SECONDS: 'SECRET_CACHE_MAX_STALE_SECONDS',
  SECRET_CACHE_NEGATIVE_TTL_SECONDS: 'SECRET_CACHE_NEGATIVE_TTL_SECONDS',
  SECRET_CACHE_FAILURE_TTL_SECONDS: 'SECRET_CACHE_FAILURE_TTL_SECONDS',
  SECRET_CACHE_MIN_REFRESH_SECONDS: 'SECRET_CACHE_MIN_REFRESH_SECONDS',
  SECRET_CACHE_MAX_ENTRIES: 'SECRET_CACHE_MAX_ENTRIES',
  SECRET_PREFETCH: 'SECRET_PREFETCH',
  KEY_VAULT_TIMEOUT_MS: 'KEY_VAULT_TIMEOUT_MS',
  KEY_VAULT_MAX_CONCURRENCY: 'KEY_VAULT_MAX_CONCURRENCY',
  KEY_VAULT_BUDGET_PER_10S: 'KEY_VAULT_BUDGET_PER_10S',
  KEY_VAULT_ALLOWED_HOSTS: 'KEY_VAULT_ALLOWED_HOSTS',
  KEY_VAULT_API_VERSION: 'KEY_VAULT_API_VERSION',
  KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION',
  KEY_VAULT_DNS_SUFFIX: 'KEY_VAULT_DNS_SUFFIX',
  SECRET_EXPIRY_WARNING_DAYS: 'SECRET_EXPIRY_WARNING_DAYS',
  ROTATION_LEDGER_URL: 'ROTATION_LEDGER_URL',
  ROTATION_LEDGER_POLL_SECONDS: 'ROTATION_LEDGER_POLL_SECONDS',
  SECRET_CACHE_BACKSTOP_TTL_SECONDS: 'SECRET_CACHE_BACKSTOP_TTL_SECONDS',
  KEY_VAULT_WARMUP_PER_10S: 'KEY_VAULT_WARMUP_PER_10S',
  ROTATION_LEDGER_CHECK_SECONDS: 'ROTATION_LEDGER_CHECK_SECONDS',
} as const;

/** A setting declared by the code that reads it (a function file), with {@link declareSetting}. */
export interface SettingDeclaration {
  readonly name: string;
  /** What it holds, in a few words (the config check shows it; never a value). */
  readonly meaning: string;
  /**
   * A deployment must set it: test/infra.test.ts fails until infra/main.bicep does (its message says where), and
   * the config check reports it missing. Default true.
   */
  readonly required: boolean;
}

const declared = new Map<string, SettingDeclaration>();
/** App setting names: letters, digits, underscores (`__` nests, as in `AzureWebJobsStorage__accountName`). */
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * Declare a setting your code reads, next to that code: `const ORDERS_DB_URL = declareSetting('ORDERS_DB_URL',
 * 'the orders database URL')` at the top of the function file, then `resolveSetting(ORDERS_DB_URL)`. Returns the
 * name. Declaring the same name twice (two functions sharing a setting) is fine; a name the app already declares in
 * APP_SETTINGS, or that is not a setting name, throws.
 */
export function declareSetting(name: string, meaning: string, options: { required?: boolean } = {}): string {
  if (!SETTING_NAME.test(name)) throw new Error(`declareSetting: "${name}" is not an app setting name.`);
  if ((Object.values(APP_SETTINGS) as string[]).includes(name)) {
    throw new Error(
      `declareSetting: ${name} is one of the app's own settings (APP_SETTINGS); read it, do not declare it.`,
    );
  }
  const declaration = Object.freeze({ name, meaning, required: options.required ?? true });
  const earlier = declared.get(name);
  if (earlier !== undefined && earlier.required !== declaration.required) {
    throw new Error(`declareSetting: ${name} is declared twice, once required and once not.`);
  }
  if (earlier === undefined) declared.set(name, declaration);
  return name;
}

/** The settings declared with {@link declareSetting} so far (those of every function module loaded). */
export function declaredSettings(): readonly SettingDeclaration[] {
  return [...declared.values()];
}

/** Whether the app may read `name` with resolveSetting(): one of APP_SETTINGS, or declared with declareSetting. */
export function isDeclaredSetting(name: string): boolean {
  return declared.has(name) || (Object.values(APP_SETTINGS) as string[]).includes(name);
}

export const KEY_VAULT_API_VERSIONS = ['7.0', '7.1', '7.2', '7.3', '7.4', '7.5', '7.6', '2025-07-01'] as const;
export type KeyVaultApiVersion = (typeof KEY_VAULT_API_VERSIONS)[number];

/** The public cloud's Key Vault DNS suffix, used for `VaultName=` references when nothing says otherwise. */
export const DEFAULT_VAULT_DNS_SUFFIX = 'vault.azure.net';

/**
 * Key Vault DNS suffixes of Azure's clouds (public, China, US Government). A `KEY_VAULT_URL` under one of them, under
 * `KEY_VAULT_DNS_SUFFIX`, on loopback, or listed in `KEY_VAULT_ALLOWED_HOSTS` receives the app's token; any other
 * host is a configuration problem (with challenge resource verification off, a host that is not a vault could
 * otherwise ask for, and get, a Key Vault token).
 */
export const CLOUD_VAULT_DNS_SUFFIXES = ['vault.azure.net', 'vault.azure.cn', 'vault.usgovcloudapi.net'] as const;

/** A numeric setting: its range (inclusive), default, and the unit it is written in. */
export interface NumericSetting {
  readonly min: number;
  readonly max: number;
  readonly default: number;
  readonly unit: 'seconds' | 'milliseconds' | 'entries' | 'calls' | 'days';
  readonly integer: boolean;
}

/**
 * The numeric settings and their accepted ranges. The upper bounds keep values inside what Node's timers
 * (2^31-1 ms) and memory can honour; README's Settings table lists the same figures.
 */
export const NUMERIC_SETTINGS = {
  SECRET_CACHE_TTL_SECONDS: { min: 0, max: 86_400, default: 300, unit: 'seconds', integer: false },
  SECRET_CACHE_MAX_STALE_SECONDS: { min: 0, max: 604_800, default: 86_400, unit: 'seconds', integer: false },
  SECRET_CACHE_NEGATIVE_TTL_SECONDS: { min: 0, max: 3_600, default: 30, unit: 'seconds', integer: false },
  SECRET_CACHE_FAILURE_TTL_SECONDS: { min: 0, max: 300, default: 5, unit: 'seconds', integer: false },
  SECRET_CACHE_MIN_REFRESH_SECONDS: { min: 0, max: 3_600, default: 5, unit: 'seconds', integer: false },
  SECRET_CACHE_MAX_ENTRIES: { min: 1, max: 100_000, default: 1_000, unit: 'entries', integer: true },
  KEY_VAULT_TIMEOUT_MS: { min: 100, max: 120_000, default: 5_000, unit: 'milliseconds', integer: false },
  KEY_VAULT_MAX_CONCURRENCY: { min: 1, max: 256, default: 8, unit: 'calls', integer: true },
  KEY_VAULT_BUDGET_PER_10S: { min: 0.1, max: 4_000, default: 40, unit: 'calls', integer: false },
  SECRET_EXPIRY_WARNING_DAYS: { min: 0, max: 365, default: 30, unit: 'days', integer: false },
  ROTATION_LEDGER_POLL_SECONDS: { min: 1, max: 300, default: 5, unit: 'seconds', integer: false },
  SECRET_CACHE_BACKSTOP_TTL_SECONDS: { min: 0, max: 604_800, default: 43_200, unit: 'seconds', integer: false },
  KEY_VAULT_WARMUP_PER_10S: { min: 0.1, max: 4_000, default: 320, unit: 'calls', integer: false },
  ROTATION_LEDGER_CHECK_SECONDS: { min: 30, max: 86_400, default: 300, unit: 'seconds', integer: false },
} as const satisfies Record<string, NumericSetting>;

export type NumericSettingName = keyof typeof NUMERIC_SETTINGS;

/** Something wrong with one setting. `message` names the setting and what is accepted; never its value. */
export interface ConfigProblem {
  readonly setting: string;
  readonly message: string;
}

export interface CacheSettings {
  readonly ttlMs: number;
  readonly maxStaleMs: number;
  /** How long a 404 is remembered. */
  readonly negativeTtlMs: number;
  /** How long a refusal (401/403, disabled secret, identity refused) and the access probe's result are remembered. */
  readonly failureTtlMs: number;
  /** A forced refresh (Cache-Control: no-cache) of a name Key Vault answered less than this ago is not made. */
  readonly minRefreshMs: number;
  readonly maxEntries: number;
}

/**
 * The rotation ledger (`src/ledger/`): one blob in the app's storage account, read with the app's identity, that
 * carries "secret X has a new version" to every instance. Undefined when ROTATION_LEDGER_URL is not set.
 */
export interface LedgerSettings {
  /** The blob: `https://<account>.blob.<suffix>/<container>/<blob>` (or path-style on an emulator). */
  readonly blobUrl: string;
  /** The storage account's origin; the token scope's audience is Azure Storage whatever the host. */
  readonly accountUrl: string;
  readonly containerName: string;
  readonly blobName: string;
  /** How often an instance that holds cached secrets asks whether the ledger changed (a conditional GET). */
  readonly pollMs: number;
  /**
   * The cache TTL while the ledger is healthy (SECRET_CACHE_BACKSTOP_TTL_SECONDS, never below
   * SECRET_CACHE_TTL_SECONDS): rotations then arrive through the ledger, and the TTL is only the backstop for a lost
   * event. While the ledger is unreachable the cache uses SECRET_CACHE_TTL_SECONDS, as without a ledger.
   */
  readonly backstopTtlMs: number;
  /**
   * How often the lease holder (one instance of the fleet) checks the current version and state of the fleet's
   * secrets against Key Vault and records what changed (ROTATION_LEDGER_CHECK_SECONDS).
   */
  readonly checkMs: number;
}

export interface CallSettings {
  readonly timeoutMs: number;
  readonly maxConcurrency: number;
  /** This instance's budget of Key Vault calls per vault per 10 s (a token bucket of that size, refilled evenly). */
  readonly budgetPer10s: number;
  /**
   * The warm-up allowance: first reads of a name the fleet is known to use draw from this, paced evenly per vault
   * (KEY_VAULT_WARMUP_PER_10S), halved on each 429 from Key Vault and regained over about 100 s.
   */
  readonly warmupPer10s: number;
}

/** What the environment says about the identity; `keyVault/identity.ts` turns it into a credential choice. */
export interface IdentitySettings {
  /** The platform provides a managed-identity endpoint (both IDENTITY_ENDPOINT and IDENTITY_HEADER are set). */
  readonly managedIdentityEndpoint: boolean;
  /** AZURE_CLIENT_ID: a user-assigned managed identity, or the app registration for EnvironmentCredential. */
  readonly clientId: string | undefined;
  /** AZURE_AUTHORITY_HOST for the developer chain (sovereign clouds, test token issuers). */
  readonly authorityHost: string | undefined;
}

/** Which local profile `local.settings.json` was copied from (LOCAL_PROFILE); undefined in Azure or when unset. */
export type LocalProfile = 'emulator' | 'azure';

export interface AppConfig {
  /**
   * Whether the app runs in Azure (App Service sets WEBSITE_INSTANCE_ID on every instance). Locally, the host never
   * resolves Key Vault references: the app resolves them itself, and the config check says so.
   */
  readonly inAzure: boolean;
  /** `LOCAL_PROFILE` from local.settings.json: `emulator` or `azure` (real vault, your own sign-in). */
  readonly localProfile: LocalProfile | undefined;
  /** The configured vault (`KEY_VAULT_URL`, alias `KEY_VAULT_URI`) as `https://host[:port]/`, or undefined. */
  readonly vaultUrl: string | undefined;
  /** `SECRETS_ALLOWED`: exact names or prefixes ending in `*`; guards the HTTP secret function only. */
  readonly allowedSecrets: readonly string[];
  /** `CONFIG_CHECK_SETTINGS`: the app settings the config check reports on. */
  readonly configCheckSettings: readonly string[];
  /** `SECRET_PREFETCH`: secrets read into the cache at start-up. */
  readonly prefetch: readonly string[];
  /** DNS suffix for `VaultName=` references (`KEY_VAULT_DNS_SUFFIX`, else the configured vault's, else public). */
  readonly vaultDnsSuffix: string;
  /**
   * Hosts the app may send a token to: the `KEY_VAULT_URL` host and `KEY_VAULT_ALLOWED_HOSTS` (lower case, with
   * port when not 443). With challenge resource verification on, hosts under `vaultDnsSuffix` are trusted too.
   */
  readonly trustedVaultHosts: readonly string[];
  /** `KEY_VAULT_API_VERSION`, or undefined for the SDK's default. */
  readonly apiVersion: KeyVaultApiVersion | undefined;
  readonly disableChallengeResourceVerification: boolean;
  readonly identity: IdentitySettings;
  readonly cache: CacheSettings;
  readonly calls: CallSettings;
  /** ROTATION_LEDGER_URL and its poll interval, or undefined (no ledger: the TTL alone refreshes secrets). */
  readonly ledger: LedgerSettings | undefined;
  /** Warn this long before a secret's expiresOn (SECRET_EXPIRY_WARNING_DAYS). */
  readonly expiryWarningMs: number;
  /** Settings that were malformed or out of range (their defaults are in use). */
  readonly problems: readonly ConfigProblem[];
  /** The raw value of any app setting (for Key Vault references and the config check), or undefined. */
  setting(name: string): string | undefined;
  /** The names of all app settings (environment variables) the configuration was parsed from. */
  settingNames(): readonly string[];
}

function trimmed(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** Comma-separated list: trimmed, empty items dropped. */
export function parseList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** Longest URL-ish setting value looked at (a vault origin is far shorter); anything longer is refused unparsed. */
const MAX_URL_LENGTH = 2_048;

/** A DNS host name (labels of letters, digits and dashes, at most 63 each, 253 in all) or an IP literal. */
function isHostName(hostname: string): boolean {
  if (/^\[[0-9a-f:.]+\]$/i.test(hostname)) return true; // IPv6 literal (URL puts it in brackets)
  if (hostname.length > 253) return false;
  return hostname
    .split('.')
    .every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(label) || /^xn--[a-z0-9-]{1,59}$/i.test(label));
}

/** An https URL without user information (a token is sent to its host), or the reason it is not one. */
function httpsUrl(raw: string, expected: string): URL | { error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: `is not a URL; expected ${expected}` };
  }
  if (url.protocol !== 'https:') return { error: 'must use https' };
  if (url.username !== '' || url.password !== '') return { error: 'must not contain user information (user@host)' };
  return url;
}

/**
 * A vault URL as its origin with a trailing slash (`https://host[:port]/`), or the reason it is not one.
 * Only https, no user info, no path beyond `/`, a real host name: the managed identity's token is sent to this host.
 */
export function parseVaultUrl(raw: string): { url: string } | { error: string } {
  if (raw.length > MAX_URL_LENGTH) return { error: `is longer than ${MAX_URL_LENGTH} characters` };
  const url = httpsUrl(raw, 'https://<vault-name>.vault.azure.net/');
  if ('error' in url) return url;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return { error: 'must be the vault origin only, e.g. https://<vault-name>.vault.azure.net/' };
  }
  // `https://.vault.azure.net/`: what a template filled with an empty vault name gives; WHATWG URL accepts it.
  if (url.hostname.startsWith('.') || url.hostname.includes('..')) {
    return { error: 'has no vault name; expected https://<vault-name>.vault.azure.net/' };
  }
  if (!isHostName(url.hostname)) {
    return { error: 'must name a host (letters, digits, dashes and dots; at most 253 characters; no wildcards)' };
  }
  return { url: `https://${url.host.toLowerCase()}/` };
}

/** Loopback: `localhost`, 127.0.0.0/8, ::1 (emulators and test fixtures). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || /^127(?:\.\d{1,3}){3}$/.test(hostname) || hostname === '[::1]';
}

/**
 * A Key Vault DNS suffix: `vault.` and at least two more labels (`vault.azure.net`, `vault.azure.cn`,
 * `vault.usgovcloudapi.net`, Azure Stack Hub's `vault.<region>.<fqdn>`). Anything wider (`net`, `azure.net`) would
 * make every host under it a vault the app trusts with its token.
 */
function isVaultDnsSuffix(suffix: string): boolean {
  return /^vault\.[^.]+\.[^.]/.test(suffix) && suffix.length <= 253 && isHostName(suffix);
}

/** Blob endpoints of the public and sovereign clouds: the storage token is sent only there (or to loopback). */
const BLOB_HOST = /^[a-z0-9]{3,24}\.blob\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/;
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
const BLOB_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The rotation ledger's blob URL split into account, container and blob, or the reason it is not usable. https
 * only, no query (a SAS token would be a credential in a setting: the ledger is read with the app's identity), a
 * host under a cloud's blob endpoint (`<account>.blob.core.windows.net`, China, US Gov) or loopback (an emulator,
 * path-style: `https://127.0.0.1:10000/<account>/<container>/<blob>`), one container and one blob name.
 */
export function parseLedgerUrl(
  raw: string,
): { blobUrl: string; accountUrl: string; containerName: string; blobName: string } | { error: string } {
  const url = httpsUrl(raw, 'https://<account>.blob.core.windows.net/<container>/<blob>');
  if ('error' in url) return url;
  if (url.search !== '' || url.hash !== '') {
    return { error: 'must not carry a query (no SAS token: the ledger is read with the app identity)' };
  }
  const loopback = isLoopbackHost(url.hostname);
  if (!loopback && !BLOB_HOST.test(url.hostname)) {
    return { error: "must be a storage account's blob endpoint (<account>.blob.core.windows.net) or loopback" };
  }
  const parts = url.pathname.split('/').slice(1);
  const [account, container, blob] = loopback ? parts : [undefined, ...parts];
  if (parts.length !== (loopback ? 3 : 2) || !CONTAINER_NAME.test(container ?? '') || !BLOB_NAME.test(blob ?? '')) {
    return {
      error: 'must name one container and one blob: https://<account>.blob.core.windows.net/<container>/<blob>',
    };
  }
  if (loopback && !/^[a-z0-9]{3,24}$/.test(account ?? '')) return { error: 'must name the emulator account first' };
  const accountUrl = `https://${url.host}/${loopback ? `${account}/` : ''}`;
  return { blobUrl: `${accountUrl}${container}/${blob}`, accountUrl, containerName: container!, blobName: blob! };
}

/** The DNS suffix implied by a vault URL's host (`myvault.vault.azure.cn` → `vault.azure.cn`), if it is one. */
function suffixOf(vaultUrl: string | undefined): string | undefined {
  if (vaultUrl === undefined) return undefined;
  const host = new URL(vaultUrl).hostname;
  const dot = host.indexOf('.');
  const suffix = dot > 0 ? host.slice(dot + 1) : undefined;
  return suffix !== undefined && isVaultDnsSuffix(suffix) ? suffix : undefined;
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

/**
 * Why an `SECRETS_ALLOWED` entry can never do what it says, or undefined for a valid one. Valid: a secret name
 * (letters, digits, dashes; 1-127) or such a prefix followed by one `*`. A lone `*` (every secret in the vault,
 * including secrets of other apps that share it) is refused: list names, or a prefix such as `app-*`.
 */
export function allowListEntryError(entry: string): string | undefined {
  if (entry === '*') {
    return 'a lone "*" (every secret in the vault) is refused: list the names, or a prefix such as app-*';
  }
  if (/^[0-9A-Za-z-]{1,127}$/.test(entry) || /^[0-9A-Za-z-]{1,126}\*$/.test(entry)) return undefined;
  return (
    'an entry can never match a secret name: entries are names (letters, digits and dashes) or a name prefix ' +
    'ending in one "*"'
  );
}

function numeric(env: Env, name: NumericSettingName, problems: ConfigProblem[]): number {
  const spec: NumericSetting = NUMERIC_SETTINGS[name];
  const raw = trimmed(env, name);
  if (raw === undefined) return spec.default;
  const value = Number(raw);
  const ok =
    /^[+]?\d+(\.\d+)?$/.test(raw) &&
    Number.isFinite(value) &&
    value >= spec.min &&
    value <= spec.max &&
    (!spec.integer || Number.isInteger(value));
  if (ok) return value;
  problems.push({
    setting: name,
    message:
      `${name} must be ${spec.integer ? 'a whole number' : 'a number'} from ${spec.min} to ${spec.max} ` +
      `(${spec.unit}); the default ${spec.default} is in use.`,
  });
  return spec.default;
}

/** Parse and validate the configuration. Pure: pass any environment; nothing is read from the process. */
export function parseConfig(env: Env): AppConfig {
  const problems: ConfigProblem[] = [];

  let vaultUrl: string | undefined;
  const urlSetting = trimmed(env, APP_SETTINGS.KEY_VAULT_URL) ? APP_SETTINGS.KEY_VAULT_URL : APP_SETTINGS.KEY_VAULT_URI;
  const rawUrl = trimmed(env, urlSetting);
  if (rawUrl !== undefined) {
    const parsed = parseVaultUrl(rawUrl);
    if ('url' in parsed) vaultUrl = parsed.url;
    else problems.push({ setting: urlSetting, message: `${urlSetting} ${parsed.error}.` });
  }

  let apiVersion: KeyVaultApiVersion | undefined;
  const rawVersion = trimmed(env, APP_SETTINGS.KEY_VAULT_API_VERSION);
  if (rawVersion !== undefined) {
    if ((KEY_VAULT_API_VERSIONS as readonly string[]).includes(rawVersion)) {
      apiVersion = rawVersion as KeyVaultApiVersion;
    } else {
      problems.push({
        setting: APP_SETTINGS.KEY_VAULT_API_VERSION,
        message:
          `${APP_SETTINGS.KEY_VAULT_API_VERSION} must be one of ${KEY_VAULT_API_VERSIONS.join(', ')}; ` +
          "the SDK's default is in use.",
      });
    }
  }

  let explicitSuffix = trimmed(env, APP_SETTINGS.KEY_VAULT_DNS_SUFFIX)?.replace(/^\./, '').toLowerCase();
  if (explicitSuffix !== undefined && !isVaultDnsSuffix(explicitSuffix)) {
    explicitSuffix = undefined;
    problems.push({
      setting: APP_SETTINGS.KEY_VAULT_DNS_SUFFIX,
      message:
        `${APP_SETTINGS.KEY_VAULT_DNS_SUFFIX} must be a Key Vault DNS suffix: "vault." and at least two more labels ` +
        '(vault.azure.net, vault.azure.cn, vault.usgovcloudapi.net, vault.<region>.<fqdn> on Azure Stack Hub); it is ' +
        'ignored.',
    });
  }
  const cache: CacheSettings = {
    ttlMs: numeric(env, 'SECRET_CACHE_TTL_SECONDS', problems) * 1000,
    maxStaleMs: numeric(env, 'SECRET_CACHE_MAX_STALE_SECONDS', problems) * 1000,
    negativeTtlMs: numeric(env, 'SECRET_CACHE_NEGATIVE_TTL_SECONDS', problems) * 1000,
    failureTtlMs: numeric(env, 'SECRET_CACHE_FAILURE_TTL_SECONDS', problems) * 1000,
    minRefreshMs: numeric(env, 'SECRET_CACHE_MIN_REFRESH_SECONDS', problems) * 1000,
    maxEntries: numeric(env, 'SECRET_CACHE_MAX_ENTRIES', problems),
  };
  const calls: CallSettings = {
    timeoutMs: numeric(env, 'KEY_VAULT_TIMEOUT_MS', problems),
    maxConcurrency: numeric(env, 'KEY_VAULT_MAX_CONCURRENCY', problems),
    budgetPer10s: numeric(env, 'KEY_VAULT_BUDGET_PER_10S', problems),
    warmupPer10s: numeric(env, 'KEY_VAULT_WARMUP_PER_10S', problems),
  };
  const allowedHosts: string[] = [];
  for (const entry of parseList(env[APP_SETTINGS.KEY_VAULT_ALLOWED_HOSTS])) {
    const parsed = entry.includes('*')
      ? { error: 'wildcard' }
      : parseVaultUrl(entry.includes('://') ? entry : `https://${entry}/`);
    if ('url' in parsed) allowedHosts.push(new URL(parsed.url).host);
    else {
      problems.push({
        setting: APP_SETTINGS.KEY_VAULT_ALLOWED_HOSTS,
        message:
          `${APP_SETTINGS.KEY_VAULT_ALLOWED_HOSTS} holds an entry that is not a host name (host or host:port, ` +
          'exact: wildcards are not supported); it is ignored.',
      });
    }
  }
  if (vaultUrl !== undefined) {
    const { host, hostname } = new URL(vaultUrl);
    const suffixes = explicitSuffix === undefined ? CLOUD_VAULT_DNS_SUFFIXES : [explicitSuffix];
    const isVault = suffixes.some((suffix) => hostname.endsWith(`.${suffix}`));
    if (!isVault && !isLoopbackHost(hostname) && !allowedHosts.includes(host)) {
      vaultUrl = undefined;
      problems.push({
        setting: urlSetting,
        message:
          `${urlSetting} names a host that is not under a Key Vault DNS suffix ` +
          `(${explicitSuffix ?? CLOUD_VAULT_DNS_SUFFIXES.join(', ')}) nor loopback, so the app does not send it its ` +
          `token. If it is your vault (Azure Stack Hub, an emulator on another host), add the host to ` +
          `${APP_SETTINGS.KEY_VAULT_ALLOWED_HOSTS} or set ${APP_SETTINGS.KEY_VAULT_DNS_SUFFIX}.`,
      });
    }
  }
  const trustedVaultHosts: string[] = vaultUrl === undefined ? [] : [new URL(vaultUrl).host];
  for (const host of allowedHosts) if (!trustedVaultHosts.includes(host)) trustedVaultHosts.push(host);

  const allowedSecrets: string[] = [];
  const allowProblems = new Set<string>();
  for (const entry of parseList(env[APP_SETTINGS.SECRETS_ALLOWED])) {
    const error = allowListEntryError(entry);
    if (error === undefined) allowedSecrets.push(entry);
    else allowProblems.add(error);
  }
  for (const error of allowProblems) {
    problems.push({
      setting: APP_SETTINGS.SECRETS_ALLOWED,
      message: `${APP_SETTINGS.SECRETS_ALLOWED}: ${error}; it is ignored.`,
    });
  }
  let ledger: LedgerSettings | undefined;
  const rawLedger = trimmed(env, APP_SETTINGS.ROTATION_LEDGER_URL);
  if (rawLedger !== undefined) {
    const parsed = rawLedger.length > 2_048 ? { error: 'is longer than 2048 characters' } : parseLedgerUrl(rawLedger);
    if ('error' in parsed) {
      problems.push({
        setting: APP_SETTINGS.ROTATION_LEDGER_URL,
        message: `${APP_SETTINGS.ROTATION_LEDGER_URL} ${parsed.error}; the rotation ledger is off.`,
      });
    } else {
      ledger = Object.freeze({
        ...parsed,
        pollMs: numeric(env, 'ROTATION_LEDGER_POLL_SECONDS', problems) * 1000,
        backstopTtlMs: Math.max(cache.ttlMs, numeric(env, 'SECRET_CACHE_BACKSTOP_TTL_SECONDS', problems) * 1000),
        checkMs: numeric(env, 'ROTATION_LEDGER_CHECK_SECONDS', problems) * 1000,
      });
    }
  }

  const snapshot: Env = Object.freeze({ ...env });

  const rawProfile = trimmed(env, 'LOCAL_PROFILE');
  let localProfile: LocalProfile | undefined;
  if (rawProfile === 'emulator' || rawProfile === 'azure') localProfile = rawProfile;
  else if (rawProfile !== undefined) {
    problems.push({ setting: 'LOCAL_PROFILE', message: 'LOCAL_PROFILE must be "emulator" or "azure".' });
  }

  return Object.freeze({
    inAzure: trimmed(env, 'WEBSITE_INSTANCE_ID') !== undefined,
    localProfile,
    vaultUrl,
    allowedSecrets: Object.freeze(allowedSecrets),
    configCheckSettings: Object.freeze(parseList(env[APP_SETTINGS.CONFIG_CHECK_SETTINGS])),
    prefetch: Object.freeze(parseList(env[APP_SETTINGS.SECRET_PREFETCH])),
    vaultDnsSuffix: explicitSuffix || suffixOf(vaultUrl) || DEFAULT_VAULT_DNS_SUFFIX,
    trustedVaultHosts: Object.freeze(trustedVaultHosts),
    apiVersion,
    disableChallengeResourceVerification:
      trimmed(env, APP_SETTINGS.KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION)?.toLowerCase() === 'true',
    identity: Object.freeze({
      managedIdentityEndpoint: Boolean(trimmed(env, 'IDENTITY_ENDPOINT') && trimmed(env, 'IDENTITY_HEADER')),
      clientId: trimmed(env, APP_SETTINGS.AZURE_CLIENT_ID),
      authorityHost: trimmed(env, 'AZURE_AUTHORITY_HOST'),
    }),
    cache: Object.freeze(cache),
    calls: Object.freeze(calls),
    ledger,
    expiryWarningMs: numeric(env, 'SECRET_EXPIRY_WARNING_DAYS', problems) * 86_400_000,
    problems: Object.freeze(problems.map((p) => Object.freeze(p))),
    setting: (name: string) => snapshot[name],
    settingNames: () => Object.keys(snapshot),
  });
}

let fromProcess: AppConfig | undefined;

/** The process's configuration, parsed from `process.env` once (app settings change only with a restart). */
export function appConfig(): AppConfig {
  fromProcess ??= parseConfig(process.env);
  return fromProcess;
}
