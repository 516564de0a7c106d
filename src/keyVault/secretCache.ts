/**
 * The cache policy in front of Key Vault: TTL cache with single flight (lru-cache), refresh ahead with jitter,
 * stale-if-error bounded by a maximum staleness, and negative caching of 404. Each Key Vault call goes through the
 * injected `load` (the call policy, `callPolicy.ts`), so this module never touches the network and sees only
 * classified failures.
 *
 * What lru-cache gives us: bounded LRU, TTL, coalesced concurrent fetch() (single flight, shared result and
 * error), forceRefresh, a per-fetch status (hit/miss/inflight/stale) and delete-on-rejection.
 * What we add on top, and why: lru-cache's own allowStaleOnFetchRejection serves stale after *any* rejection
 * and without a staleness bound; the policy here must evict on 403/404 and cap staleness, so the fetchMethod
 * decides per error class and returns a "stale" marker entry instead.
 */
import { LRUCache } from 'lru-cache';
import type { CacheSettings } from '../config.js';
import {
  cacheKey,
  type Clock,
  type Logger,
  type SecretRead,
  type SecretRecord,
  type SecretReference,
} from './contract.js';
import { type FailureKind, isTransient, KeyVaultFailure } from './failure.js';

interface ValueEntry {
  kind: 'value';
  record: SecretRecord;
  /** When Key Vault last returned this value. */
  fetchedAt: number;
  /** After this instant the value must not be served without asking Key Vault again (Infinity: pinned). */
  expiresAt: number;
  /** Set while Key Vault is failing transiently and this last-known-good value is being served. */
  staleBecause?: FailureKind;
}

interface MissingEntry {
  kind: 'missing';
  failure: KeyVaultFailure;
  expiresAt: number;
}

type Entry = ValueEntry | MissingEntry;

interface FetchContext {
  ref: SecretReference;
}

export interface CacheStats {
  entries: number;
  hits: number;
  misses: number;
  staleServes: number;
}

/** Fraction of the TTL after which a read triggers a background refresh: 0.75 plus up to 0.2 of jitter. */
const REFRESH_AHEAD_FROM = 0.75;
const REFRESH_AHEAD_JITTER = 0.2;
/** While serving stale, how long before Key Vault is asked again (one call per key per interval). */
const STALE_RETRY_MS = 5_000;

/** Loads one secret from Key Vault; rejects only with a KeyVaultFailure (the call policy's `call`). */
export type SecretLoad = (ref: SecretReference) => Promise<SecretRecord>;

export class SecretCache {
  private readonly cache: LRUCache<string, Entry, FetchContext>;
  private hits = 0;
  private misses = 0;
  private staleServes = 0;

  constructor(
    private readonly loadSecret: SecretLoad,
    private readonly policy: CacheSettings,
    private readonly log: Logger,
    private readonly clock: Clock = performance,
    private readonly random: () => number = Math.random,
  ) {
    this.cache = new LRUCache<string, Entry, FetchContext>({
      max: policy.maxEntries,
      perf: clock,
      ttlResolution: 0,
      // Entries past their refresh-ahead point are still served while one background fetch refreshes them;
      // `read` makes sure nothing past its hard expiry is served.
      allowStale: true,
      // A read already in flight completes even if its key is evicted meanwhile (a working set larger than
      // SECRET_CACHE_MAX_ENTRIES): its callers get the value, it is just not kept. The timeout still bounds it.
      ignoreFetchAbort: true,
      fetchMethod: (_key, previous, { options, context }) =>
        this.load(context.ref, previous, (ttl) => {
          options.ttl = ttl;
        }),
    });
  }

  /** Read through the cache. `forceRefresh` asks Key Vault now (still single flight, still time-bounded). */
  async read(ref: SecretReference, { forceRefresh = false } = {}): Promise<SecretRead> {
    const key = cacheKey(ref);
    const status: LRUCache.Status<string, Entry, FetchContext> = {};
    let entry = await this.fetchEntry(key, ref, { status, forceRefresh, allowStale: !forceRefresh });
    let fromMemory = status.fetch === 'hit' || status.returnedStale === true;
    if (fromMemory && this.clock.now() >= entry.expiresAt && !this.servableStale(entry)) {
      // Served from memory but past its hard expiry: wait for a fresh one (joins the refresh already in flight,
      // or starts one). A last-known-good value during an outage is the exception: it is returned at once while
      // the background refresh lru-cache just started retries Key Vault.
      entry = await this.fetchEntry(key, ref, { allowStale: false, forceRefresh: true });
      fromMemory = false;
    }
    if (entry.kind === 'value' && entry.staleBecause !== undefined) {
      this.staleServes += 1;
      return { record: entry.record, cache: 'stale' };
    }
    // A remembered 404 counts like any other answer from memory.
    if (fromMemory) this.hits += 1;
    else this.misses += 1;
    if (entry.kind === 'missing') throw entry.failure;
    return { record: entry.record, cache: fromMemory ? 'hit' : 'miss' };
  }

  private async fetchEntry(
    key: string,
    ref: SecretReference,
    options: LRUCache.FetchOptions<string, Entry, FetchContext>,
  ): Promise<Entry> {
    const entry = await this.cache.fetch(key, { ...options, context: { ref } });
    if (entry === undefined) throw new KeyVaultFailure('unexpected', 'The secret could not be loaded.');
    return entry;
  }

  /** A last-known-good value that may still be served while Key Vault fails. */
  private servableStale(entry: Entry): boolean {
    return entry.kind === 'value' && entry.staleBecause !== undefined && this.withinMaxStale(entry);
  }

  stats(): CacheStats {
    return { entries: this.cache.size, hits: this.hits, misses: this.misses, staleServes: this.staleServes };
  }

  clear(): void {
    this.cache.clear();
  }

  private async load(
    ref: SecretReference,
    previous: Entry | undefined,
    setTtl: (ttlMs: number) => void,
  ): Promise<Entry> {
    const what = `secret "${ref.name}"${ref.version ? ` version ${ref.version}` : ''} in ${ref.vaultUrl}`;
    let record: SecretRecord;
    try {
      record = await this.loadSecret(ref);
    } catch (error) {
      const failure =
        error instanceof KeyVaultFailure ? error : new KeyVaultFailure('unexpected', 'The secret could not be loaded.');
      if (failure.kind === 'secret-not-found' || failure.kind === 'version-not-found') {
        // Negative cache: a missing name cannot hammer Key Vault. Replaces (evicts) any cached value.
        setTtl(this.policy.negativeTtlMs);
        return { kind: 'missing', failure, expiresAt: this.clock.now() + this.policy.negativeTtlMs };
      }
      if (isTransient(failure.kind) && previous?.kind === 'value' && this.withinMaxStale(previous)) {
        const now = this.clock.now();
        const retryMs = Math.min(STALE_RETRY_MS, this.policy.ttlMs || STALE_RETRY_MS);
        setTtl(retryMs);
        if (now < previous.expiresAt) {
          // A refresh ahead failed while the value is still within its TTL: keep serving it as it is and retry.
          return { ...previous, staleBecause: undefined };
        }
        if (previous.staleBecause === undefined) {
          this.log.warn(
            `Key Vault read of ${what} failed (${failure.kind}); serving the last good value until Key Vault ` +
              `recovers (at most ${Math.round(this.policy.maxStaleMs / 1000)} s past its TTL).`,
          );
        }
        const staleUntil = previous.fetchedAt + this.policy.ttlMs + this.policy.maxStaleMs;
        return { ...previous, staleBecause: failure.kind, expiresAt: Math.min(now + retryMs, staleUntil) };
      }
      // 401/403 (access revoked), identity refused, or nothing good to fall back on: rejecting makes
      // lru-cache delete the key, so a revoked secret is never served again.
      throw failure;
    }

    if (previous?.kind === 'value' && previous.staleBecause !== undefined) {
      this.log.info(`Key Vault read of ${what} recovered after ${previous.staleBecause}.`);
    }
    const now = this.clock.now();
    if (ref.version !== undefined) {
      // A pinned version is immutable: keep it until LRU eviction.
      setTtl(0);
      return { kind: 'value', record, fetchedAt: now, expiresAt: Number.POSITIVE_INFINITY };
    }
    const ttl = this.policy.ttlMs;
    // Soft TTL (lru-cache's) triggers refresh ahead at a jittered point so instances do not synchronise.
    const refreshAfter = Math.max(1, Math.floor(ttl * (REFRESH_AHEAD_FROM + this.random() * REFRESH_AHEAD_JITTER)));
    setTtl(ttl === 0 ? 1 : refreshAfter);
    return { kind: 'value', record, fetchedAt: now, expiresAt: now + ttl };
  }

  private withinMaxStale(entry: ValueEntry): boolean {
    const softExpiry = entry.fetchedAt + this.policy.ttlMs;
    return this.clock.now() - softExpiry <= this.policy.maxStaleMs;
  }
}
