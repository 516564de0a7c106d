/**
 * The shared Key Vault service: the one place the app goes through to read Key Vault.
 *
 * This module is light on purpose (no SDK or cache import at load time). The first call loads `runtime.ts`
 * (cache + SDK) once per process; every caller then shares one credential, one SecretClient per vault and one
 * cache.
 */
import { parseKeyVaultReference, vaultDnsSuffixFrom } from '../references.js';
import type { SecretReference } from '../references.js';
import { APP_SETTINGS, type Env, listSetting, vaultUrlFrom } from '../settings.js';
import { chooseIdentity, type IdentityChoice } from './identity.js';
import type { AccessProbe } from './runtime.js';
import type { Clock, SecretFetch, SecretRead, SecretStore, StoreLogger, StoreStats } from './secretStore.js';

export type { AccessProbe } from './runtime.js';
export type { CacheState, SecretRecord, SecretRead, StoreStats } from './secretStore.js';

export interface ServiceOptions {
  /** Settings source; defaults to process.env read at first use. */
  env?: Env;
  /** Test seam: replaces the SDK call with another fetch function. */
  fetchSecret?: SecretFetch;
  clock?: Clock;
  log?: StoreLogger;
}

export class KeyVaultService {
  readonly env: Env;
  readonly identity: IdentityChoice;
  private runtime: Promise<{ store: SecretStore; probeAccess: (vaultUrl: string) => Promise<AccessProbe> }> | undefined;
  private loadedStore: SecretStore | undefined;

  /** The configured vault (`KEY_VAULT_URL` / `KEY_VAULT_URI`), or undefined. */
  readonly vaultUrl: string | undefined;
  /** `SECRETS_ALLOWED`, parsed once: app settings only change with a restart, and this is on every read. */
  readonly allowedSecrets: readonly string[];

  constructor(private readonly options: ServiceOptions = {}) {
    this.env = options.env ?? process.env;
    this.identity = chooseIdentity(this.env);
    this.vaultUrl = vaultUrlFrom(this.env);
    this.allowedSecrets = listSetting(this.env, APP_SETTINGS.SECRETS_ALLOWED);
  }

  private load() {
    this.runtime ??= import('./runtime.js').then(async ({ createRuntime }) => {
      const runtime = await createRuntime({
        env: this.env,
        identity: this.identity,
        fetchSecret: this.options.fetchSecret,
        clock: this.options.clock,
        log: this.options.log ?? { warn: (m) => console.warn(m), info: (m) => console.info(m) },
      });
      this.loadedStore = runtime.store;
      return runtime;
    });
    return this.runtime;
  }

  /** Read a secret through the cache. */
  async readSecret(ref: SecretReference, options: { forceRefresh?: boolean } = {}): Promise<SecretRead> {
    const { store } = await this.load();
    return store.read(ref, options);
  }

  /** Whether the vault answers and lets this identity read secrets, proven without reading any value. */
  async probeAccess(vaultUrl: string): Promise<AccessProbe> {
    const { probeAccess } = await this.load();
    return probeAccess(vaultUrl);
  }

  /** Cache statistics (all zero before the first Key Vault call). Never contains values. */
  stats(): StoreStats {
    return (
      this.loadedStore?.stats() ?? { entries: 0, hits: 0, misses: 0, staleServes: 0, keyVaultCalls: 0, vaults: {} }
    );
  }

  /** DNS suffix for `VaultName=` references in this environment. */
  vaultDnsSuffix(): string {
    return vaultDnsSuffixFrom(this.env[APP_SETTINGS.KEY_VAULT_DNS_SUFFIX], this.vaultUrl);
  }

  /**
   * An app setting's value, resolving a Key Vault reference the host left unresolved (local `func start`, or
   * platform resolution failing) through the same cache. Plain values are returned as they are.
   */
  async getSetting(name: string): Promise<string | undefined> {
    const raw = this.env[name];
    if (raw === undefined) return undefined;
    const parsed = parseKeyVaultReference(raw, this.vaultDnsSuffix());
    if (parsed.kind === 'not-reference') return raw;
    if (parsed.kind === 'invalid')
      throw new Error(`App setting ${name} holds an invalid Key Vault reference: ${parsed.reason}`);
    return (await this.readSecret(parsed.reference)).record.value;
  }
}

let shared: KeyVaultService | undefined;

/** The process-wide service (created on first use). */
export function keyVaultService(): KeyVaultService {
  shared ??= new KeyVaultService();
  return shared;
}

/** Replace the process-wide service (tests, or an app that wants other options). Returns the new one. */
export function configureKeyVaultService(options: ServiceOptions = {}): KeyVaultService {
  shared = new KeyVaultService(options);
  return shared;
}

/** Convenience for app code: `await getSetting('DB_PASSWORD')`. */
export function getSetting(name: string): Promise<string | undefined> {
  return keyVaultService().getSetting(name);
}
