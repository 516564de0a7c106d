/**
 * The Key Vault module's testing entry: what a test of your own function needs to run it on the real service — the
 * real cache, call policy and failure mapping — with the Key Vault call replaced by an in-memory vault and time by a
 * clock you move. No network, no SDK, no credential. The project's own tests use it.
 *
 * ```ts
 * import { configureTestKeyVault, keyVaultError } from '../src/keyVault/testing.js';
 * const { vault, clock } = configureTestKeyVault({ secrets: { 'orders-api-key': 'k' } });
 * // ... call your handler: readSecret('orders-api-key') now answers 'k' from the in-memory vault
 * vault.failWith = keyVaultError(403, 'Forbidden');      // Key Vault refuses from now on
 * clock.advance(301_000);                                // past SECRET_CACHE_TTL_SECONDS (300 s by default)
 * ```
 *
 * Never imported by the app (test/layering.test.ts checks it), so it is not in the deployment bundle.
 * The in-memory vault is a function double at the service's fetch seam (the `SecretFetch` the SDK adapter
 * implements), not a Key Vault emulator: it speaks no protocol. Like the SDK adapter it stands in for, it classifies
 * its errors once, at the seam, with the app's own classifier.
 */
import { type Env, parseConfig } from '../config.js';
import { classifyError } from './classify.js';
import type { Clock, Logger, SecretFetch, SecretRecord } from './contract.js';
import { configureKeyVault } from './index.js';
import type { KeyVaultService } from './service.js';

/** What a secret version holds besides its value; Key Vault's defaults when left out. */
export interface SecretAttributes {
  contentType?: string | null;
  enabled?: boolean;
  expiresOn?: Date | null;
  notBefore?: Date | null;
}

/**
 * A secret as the service's fetch seam returns it (what the SDK adapter builds from Key Vault's answer), with Key
 * Vault's defaults for what is left out: for a `SecretFetch` of your own in a test or a simulation.
 */
export function secretRecord(
  name: string,
  value: string,
  version: string | null,
  attributes: SecretAttributes & { createdOn?: Date | null } = {},
): SecretRecord {
  return {
    name,
    value,
    version,
    contentType: attributes.contentType ?? null,
    enabled: attributes.enabled ?? true,
    createdOn: attributes.createdOn ?? null,
    updatedOn: attributes.createdOn ?? null,
    expiresOn: attributes.expiresOn ?? null,
    notBefore: attributes.notBefore ?? null,
  };
}

/** An in-memory vault behind the service's fetch seam: versions per name, failures and delays on demand. */
export class InMemoryVault {
  /** Calls that reached the vault (each a Key Vault GET in production). */
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** When set, every call fails with this error (after `delayMs`): e.g. `keyVaultError(403, 'Forbidden')`. */
  failWith: Error | undefined;
  /** Wall-clock delay of every call, in ms. */
  delayMs = 0;
  /** When true, calls never settle until aborted (the service aborts them at KEY_VAULT_TIMEOUT_MS). */
  hang = false;
  private readonly versions = new Map<string, SecretRecord[]>();
  private counter = 0;

  /** Adds a new version of a secret (the latest from now on) and returns it. */
  set(name: string, value: string, attributes: SecretAttributes | string | null = {}): SecretRecord {
    const attrs = typeof attributes === 'object' && attributes !== null ? attributes : { contentType: attributes };
    const version = (++this.counter).toString(16).padStart(32, '0');
    const created = new Date(Date.UTC(2026, 0, 1, 0, 0, this.counter));
    const record = secretRecord(name, value, version, { ...attrs, createdOn: created });
    const key = name.toLowerCase();
    this.versions.set(key, [...(this.versions.get(key) ?? []), record]);
    return { ...record };
  }

  /** Removes a secret and all its versions: reads answer 404 from now on. */
  delete(name: string): void {
    this.versions.delete(name.toLowerCase());
  }

  /** The fetch to give the service (`configureKeyVault({ fetchSecret: vault.fetch })`). */
  readonly fetch: SecretFetch = (vaultUrl, name, version, signal) =>
    this.fetchRaw(vaultUrl, name, version, signal).catch((error: unknown) => {
      throw classifyError(error, version !== undefined);
    });

  private readonly fetchRaw: SecretFetch = async (_vaultUrl, name, version, signal) => {
    this.calls += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.hang) {
        await new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))),
        );
      }
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.failWith !== undefined) throw this.failWith;
      const all = this.versions.get(name.toLowerCase());
      const found = version === undefined ? all?.at(-1) : all?.find((r) => r.version === version);
      if (!found) throw keyVaultError(404, `A secret with (name/id) ${name} was not found in this key vault.`);
      return { ...found };
    } finally {
      this.inFlight -= 1;
    }
  };
}

/**
 * An error as the Azure SDK throws it for a Key Vault answer (a RestError with `statusCode` and response headers):
 * 401/403 refused, 404 not found, 429 throttled (give `retry-after`), 5xx unavailable. The service classifies it
 * exactly as it classifies the SDK's.
 */
export function keyVaultError(statusCode: number, message: string, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), {
    name: 'RestError',
    statusCode,
    response: { headers: { get: (n: string) => headers[n.toLowerCase()] } },
  });
}

/** A clock that moves only when told: TTLs, refresh ahead and budgets follow it instead of real time. */
export class ManualClock implements Clock {
  constructor(public t = 1_000_000) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface TestKeyVaultOptions {
  /** App settings as the app would see them. `KEY_VAULT_URL` defaults to {@link TEST_VAULT_URL}. */
  settings?: Env;
  /** Secrets to put in the vault first: name → value. */
  secrets?: Record<string, string>;
  vault?: InMemoryVault;
  clock?: ManualClock;
  /** Where the service's warnings and notices go; by default collected in the returned `logs`. */
  log?: Logger;
}

export interface TestKeyVault {
  service: KeyVaultService;
  vault: InMemoryVault;
  clock: ManualClock;
  /** The service's log lines (`warn: …`, `info: …`) when no `log` was given. */
  logs: string[];
}

export const TEST_VAULT_URL = 'https://test.vault.azure.net/';

/**
 * Replaces the process-wide Key Vault service (what `readSecret`, `resolveSetting`, `keyVault()` and the built-in
 * functions use) with one on an in-memory vault and a manual clock. Call it before each test: every call starts from
 * an empty cache.
 */
export function configureTestKeyVault(options: TestKeyVaultOptions = {}): TestKeyVault {
  const vault = options.vault ?? new InMemoryVault();
  const clock = options.clock ?? new ManualClock();
  const logs: string[] = [];
  for (const [name, value] of Object.entries(options.secrets ?? {})) vault.set(name, value);
  const service = configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: TEST_VAULT_URL, ...options.settings }),
    fetchSecret: vault.fetch,
    clock,
    log: options.log ?? { warn: (m) => void logs.push(`warn: ${m}`), info: (m) => void logs.push(`info: ${m}`) },
  });
  return { service, vault, clock, logs };
}
