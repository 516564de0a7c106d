/**
 * The secret contract: what a secret read returns, how a secret is addressed, the name and version rules, and the
 * fetch function the SDK adapter implements (the seam the cache and call policies are tested through). Pure.
 */

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

/** Where a secret lives: a vault origin with a trailing slash, a name, and optionally a pinned version. */
export interface SecretReference {
  /** Vault origin with a trailing slash, e.g. `https://myvault.vault.azure.net/`. */
  vaultUrl: string;
  name: string;
  version?: string;
}

/** One secret version as Key Vault returned it. */
export interface SecretRecord {
  name: string;
  value: string;
  version: string | null;
  contentType: string | null;
  enabled: boolean | null;
  createdOn: Date | null;
  updatedOn: Date | null;
  expiresOn: Date | null;
  notBefore: Date | null;
}

/**
 * Reads one secret from Key Vault. Must honour `signal`, and must throw only `KeyVaultFailure` (the adapter
 * classifies SDK errors once, here at the seam).
 */
export type SecretFetch = (
  vaultUrl: string,
  name: string,
  version: string | undefined,
  signal: AbortSignal,
) => Promise<SecretRecord>;

/**
 * Where a read's value came from: Key Vault now (`miss`), memory (`hit`), memory while Key Vault fails (`stale`),
 * or memory because a forced refresh came too soon after the last answer from Key Vault (`refresh-limited`).
 */
export type CacheState = 'hit' | 'miss' | 'stale' | 'refresh-limited';

export interface SecretRead {
  record: SecretRecord;
  cache: CacheState;
  /** For `stale`: how long ago Key Vault returned this value. */
  ageMs?: number;
}

export interface Logger {
  warn(message: string): void;
  info(message: string): void;
}

export interface Clock {
  now(): number;
}

/**
 * Runs `run` after `ms` (on the clock the caller uses); returns a cancel function. The default is a real setTimeout;
 * the fleet simulation and the tests pass virtual timers.
 */
export type Schedule = (run: () => void, ms: number) => () => void;

/** A real timer (it keeps the process alive while a caller waits on it, as a pending request does). */
export const realSchedule: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  return () => clearTimeout(timer);
};

/**
 * The fleet's warm-up slots (the rotation ledger's blob leases, src/ledger/warmupSlots.ts): a few instances at a time
 * warm fast, the others wait for a slot. `enter` resolves `held` (this instance holds a slot: call `leave` once per
 * `held` when done), `busy` (none came free within `maxWaitMs`; 0 asks only whether one is held already) or
 * `unavailable` (the slots cannot be used now, storage failing: the per-instance warm-up pace applies).
 */
export interface WarmupGate {
  enter(maxWaitMs: number): Promise<'held' | 'busy' | 'unavailable'>;
  leave(): void;
}

/** The cache key of a reference: Key Vault names and versions are case-insensitive. */
export function cacheKey(ref: SecretReference): string {
  return `${ref.vaultUrl}|${ref.name.toLowerCase()}|${ref.version?.toLowerCase() ?? ''}`;
}

/** A secret's metadata as Key Vault returned it, without its value. */
export interface SecretMetadata {
  vaultUrl: string;
  name: string;
  version: string | null;
  enabled: boolean | null;
  expiresOn: Date | null;
  notBefore: Date | null;
}

/**
 * A state worth flagging in a secret Key Vault still returned: past its `expiresOn`, expiring within `warnMs`,
 * before its `notBefore`, or disabled. Key Vault does not refuse to return an expired or not-yet-valid secret; the
 * app serves it and flags it (`X-Secret-State` on the secret function, `secrets` in the config check).
 */
export type SecretState = 'expired' | 'expires-soon' | 'not-yet-valid' | 'disabled';

export function secretState(
  record: Pick<SecretRecord, 'enabled' | 'expiresOn' | 'notBefore'>,
  nowMs: number,
  warnMs = 0,
): SecretState | undefined {
  if (record.enabled === false) return 'disabled';
  if (record.expiresOn !== null && record.expiresOn.getTime() <= nowMs) return 'expired';
  if (record.notBefore !== null && record.notBefore.getTime() > nowMs) return 'not-yet-valid';
  if (record.expiresOn !== null && record.expiresOn.getTime() - nowMs <= warnMs) return 'expires-soon';
  return undefined;
}
