/**
 * The rotation ledger's content: which version of each secret was last seen, and when. Pure: parse, validate, merge,
 * serialise. Never a value: a secret's vault, name, version id and a time.
 *
 * ```json
 * {"v":1,"entries":[{"vault":"https://kv.vault.azure.net/","name":"db-password","version":"<32 hex>","seenAt":"2026-01-01T00:00:00.000Z"}]}
 * ```
 *
 * An entry may also carry `"state":"disabled"` or `"state":"deleted"`: the lease holder's check found Key Vault
 * refusing the secret as disabled (403 SecretDisabled) or not finding it (404). Every instance then stops serving it
 * until a later entry for it carries no state (a check saw it enabled again). Such an entry's `version` is the last
 * version known (all zeros when none was).
 *
 * The blob arrives from outside the process (anyone with write access to its container can change it), so a read is
 * bounded and validated: at most LEDGER_MAX_BYTES, at most LEDGER_MAX_ENTRIES entries, each field checked (a vault
 * origin, a Key Vault secret name, a 32-hex version, an ISO time); invalid entries are dropped and counted, never
 * acted on. A valid but forged entry can only make an instance that holds that secret ask Key Vault once (Key Vault
 * stays the authority for the value).
 */
import { parseVaultUrl } from '../config.js';
import { isValidSecretName, isValidSecretVersion } from '../keyVault/index.js';

/** 500 entries of about 150 bytes: about 75 KB, under the read cap. Oldest entries go first when full. */
export const LEDGER_MAX_ENTRIES = 500;
/** A ledger blob larger than this is not read (and not written). */
export const LEDGER_MAX_BYTES = 128 * 1024;
const FORMAT_VERSION = 1;

export interface LedgerEntry {
  /** Vault origin, `https://host[:port]/`, as the cache keys it. */
  vaultUrl: string;
  name: string;
  /** 32 hexadecimal characters, lower case. */
  version: string;
  /** When a Key Vault read or event showed this version (ms since 1970, the writer's clock). */
  seenAt: number;
  /** Key Vault called the secret disabled, or deleted (the lease holder's check); absent: served as usual. */
  state?: LedgerState;
}

export type LedgerState = 'disabled' | 'deleted';

/** The `version` of a disabled or deleted entry when no version of the secret was known. */
export const UNKNOWN_VERSION = '0'.repeat(32);

export type ParsedLedger = { ok: true; entries: LedgerEntry[]; dropped: number } | { ok: false; reason: string };

/** The key of a secret: its vault and its name (Key Vault names are case-insensitive). */
export function entryKey(entry: { vaultUrl: string; name: string }): string {
  return `${entry.vaultUrl}|${entry.name.toLowerCase()}`;
}

/** An entry dated further ahead than this (a forged or broken clock) is dropped: it would block later updates. */
const MAX_FUTURE_MS = 10 * 60_000;
/** Nothing in a ledger predates this format (2026-01-01). */
const OLDEST_MS = Date.UTC(2026, 0, 1);

function validEntry(raw: unknown, nowMs: number): LedgerEntry | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { vault, name, version, seenAt, state } = raw as Record<string, unknown>;
  if (state !== undefined && state !== 'disabled' && state !== 'deleted') return undefined;
  if (typeof vault !== 'string' || vault.length > 300) return undefined;
  if (typeof name !== 'string' || !isValidSecretName(name)) return undefined;
  if (typeof version !== 'string' || !isValidSecretVersion(version)) return undefined;
  if (typeof seenAt !== 'string' || seenAt.length > 40) return undefined;
  const parsedVault = parseVaultUrl(vault);
  const at = Date.parse(seenAt);
  if (!('url' in parsedVault) || parsedVault.url !== vault) return undefined;
  if (!Number.isFinite(at) || at < OLDEST_MS || at > nowMs + MAX_FUTURE_MS) return undefined;
  const entry: LedgerEntry = { vaultUrl: parsedVault.url, name, version: version.toLowerCase(), seenAt: at };
  if (state !== undefined) entry.state = state;
  return entry;
}

/**
 * Parse a ledger blob's text. Invalid entries (and entries dated more than 10 minutes after `nowMs`) are dropped and
 * counted; only the newest entry per secret is kept.
 */
export function parseLedger(text: string, nowMs: number): ParsedLedger {
  if (text.length > LEDGER_MAX_BYTES) return { ok: false, reason: 'too large' };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, reason: 'not an object' };
  const { v, entries } = doc as Record<string, unknown>;
  if (v !== FORMAT_VERSION) return { ok: false, reason: 'unknown format version' };
  if (!Array.isArray(entries)) return { ok: false, reason: 'no entries array' };
  let dropped = Math.max(0, entries.length - LEDGER_MAX_ENTRIES);
  const byKey = new Map<string, LedgerEntry>();
  for (const raw of entries.slice(0, LEDGER_MAX_ENTRIES)) {
    const entry = validEntry(raw, nowMs);
    if (entry === undefined) {
      dropped += 1;
      continue;
    }
    const key = entryKey(entry);
    const known = byKey.get(key);
    if (known === undefined || entry.seenAt > known.seenAt) byKey.set(key, entry);
  }
  return { ok: true, entries: [...byKey.values()], dropped };
}

/**
 * The ledger with `updates` applied: an update replaces the entry for its secret when it names another version or
 * another state and is newer (a later `seenAt`), or the entry is dated after `nowMs` (the writer's clock): an entry
 * from the future is not evidence of anything later, and must not swallow a real rotation seen now. Oldest entries
 * are dropped beyond LEDGER_MAX_ENTRIES. Returns undefined when nothing changes (no write needed).
 */
export function mergeEntries(
  current: readonly LedgerEntry[],
  updates: readonly LedgerEntry[],
  nowMs = Infinity,
): LedgerEntry[] | undefined {
  const byKey = new Map(current.map((e) => [entryKey(e), e]));
  let changed = false;
  for (const update of updates) {
    const key = entryKey(update);
    const known = byKey.get(key);
    const knownIsLater = known !== undefined && known.seenAt >= update.seenAt && known.seenAt <= nowMs;
    const same = known !== undefined && known.version === update.version && known.state === update.state;
    if (known !== undefined && (knownIsLater || same)) continue;
    byKey.delete(key); // re-inserted last: Map order is the eviction order
    byKey.set(key, update);
    changed = true;
  }
  if (!changed) return undefined;
  const merged = [...byKey.values()].sort((a, b) => a.seenAt - b.seenAt);
  return merged.slice(Math.max(0, merged.length - LEDGER_MAX_ENTRIES));
}

export function serializeLedger(entries: readonly LedgerEntry[]): string {
  return JSON.stringify({
    v: FORMAT_VERSION,
    entries: entries.map((e) => ({
      vault: e.vaultUrl,
      name: e.name,
      version: e.version,
      seenAt: new Date(e.seenAt).toISOString(),
      ...(e.state === undefined ? {} : { state: e.state }),
    })),
  });
}
