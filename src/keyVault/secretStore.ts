/**
 * The cache policy in front of Key Vault: TTL cache with single flight (lru-cache), refresh ahead with jitter,
 * stale-if-error bounded by a maximum staleness, negative caching of 404, per-call timeout and per-vault
 * concurrency bounds (p-limit). The fetch itself is injected, so this module never touches the network.
 *
 * What lru-cache gives us: bounded LRU, TTL, coalesced concurrent fetch() (single flight, shared result and
 * error), forceRefresh, a per-fetch status (hit/miss/inflight/stale) and delete-on-rejection.
 * What we add on top, and why: lru-cache's own allowStaleOnFetchRejection serves stale after *any* rejection
 * and without a staleness bound; the policy here must evict on 403/404 and cap staleness, so the fetchMethod
 * decides per error class and returns a "stale" marker entry instead.
 */
import { LRUCache } from 'lru-cache';
import pLimit, { type LimitFunction } from 'p-limit';
import type { SecretReference } from '../references.js';
import type { CachePolicySettings } from '../settings.js';
import { classifyError, isTransient, KeyVaultFailure, type FailureKind } from './errors.js';

export interface SecretRecord {
  name: string;
  value: string;
  version: string | null;
  contentType: string | null;
  enabled: boolean | null;
  createdOn: Date | null;
  updatedOn: Date | null;
  expiresOn: Date | null;
}

/** Reads one secret from Key Vault. Must honour `signal`. */
export type SecretFetch = (
  vaultUrl: string,
  name: string,
  version: string | undefined,
  signal: AbortSignal,
) => Promise<SecretRecord>;

export type CacheState = 'hit' | 'miss' | 'stale';

export interface SecretRead {
  record: SecretRecord;
  cache: CacheState;
}

export interface StoreLogger {
  warn(message: string): void;
  info(message: string): void;
}

export interface Clock {
  now(): number;
}

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

export interface VaultStats {
  keyVaultCalls: number;
  lastError: { kind: FailureKind; message: string; at: string } | null;
}

export interface StoreStats {
  entries: number;
  hits: number;
  misses: number;
  staleServes: number;
  keyVaultCalls: number;
  vaults: Record<string, VaultStats>;
}

/** Fraction of the TTL after which a read triggers a background refresh: 0.75 plus up to 0.2 of jitter. */
const REFRESH_AHEAD_FROM = 0.75;
const REFRESH_AHEAD_JITTER = 0.2;
/** While serving stale, how long before Key Vault is asked again (one call per key per interval). */
const STALE_RETRY_MS = 5_000;

export function cacheKey(ref: SecretReference): string {
  return `${ref.vaultUrl}|${ref.name.toLowerCase()}|${ref.version?.toLowerCase() ?? ''}`;
}

export class SecretStore {
  private readonly cache: LRUCache<string, Entry, FetchContext>;
  private readonly limiters = new Map<string, LimitFunction>();
  private readonly vaults = new Map<string, VaultStats>();
  private hits = 0;
  private misses = 0;
  private staleServes = 0;

  constructor(
    private readonly fetchSecret: SecretFetch,
    private readonly policy: CachePolicySettings,
    private readonly log: StoreLogger,
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

  /** One bounded Key Vault call that bypasses the cache (used by the access probe). The value is discarded. */
  async fetchUncached(ref: SecretReference): Promise<void> {
    await this.call(ref);
  }

  stats(): StoreStats {
    let keyVaultCalls = 0;
    const vaults: Record<string, VaultStats> = {};
    for (const [url, s] of this.vaults) {
      keyVaultCalls += s.keyVaultCalls;
      vaults[url] = { ...s, lastError: s.lastError && { ...s.lastError } };
    }
    return {
      entries: this.cache.size,
      hits: this.hits,
      misses: this.misses,
      staleServes: this.staleServes,
      keyVaultCalls,
      vaults,
    };
  }

  clear(): void {
    this.cache.clear();
  }

  private vaultStats(vaultUrl: string): VaultStats {
    let s = this.vaults.get(vaultUrl);
    if (!s) {
      s = { keyVaultCalls: 0, lastError: null };
      this.vaults.set(vaultUrl, s);
    }
    return s;
  }

  private limiter(vaultUrl: string): LimitFunction {
    let limit = this.limiters.get(vaultUrl);
    if (!limit) {
      limit = pLimit(this.policy.maxConcurrency);
      this.limiters.set(vaultUrl, limit);
    }
    return limit;
  }

  /** One Key Vault call, bounded by the per-vault limiter and the timeout (queue time included). */
  private async call(ref: SecretReference): Promise<SecretRecord> {
    const stats = this.vaultStats(ref.vaultUrl);
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const failure = new KeyVaultFailure(
          'timeout',
          `No answer from Key Vault within ${this.policy.timeoutMs} ms (KEY_VAULT_TIMEOUT_MS).`,
        );
        controller.abort(failure);
        reject(failure);
      }, this.policy.timeoutMs);
    });
    const task = this.limiter(ref.vaultUrl)(async () => {
      if (controller.signal.aborted) throw controller.signal.reason;
      stats.keyVaultCalls += 1;
      return this.fetchSecret(ref.vaultUrl, ref.name, ref.version, controller.signal);
    });
    try {
      return await Promise.race([task, timeout]);
    } catch (error) {
      const failure = controller.signal.reason instanceof KeyVaultFailure ? controller.signal.reason : error;
      throw classifyError(failure, ref.version !== undefined);
    } finally {
      clearTimeout(timer);
      task.catch(() => undefined);
    }
  }

  private async load(
    ref: SecretReference,
    previous: Entry | undefined,
    setTtl: (ttlMs: number) => void,
  ): Promise<Entry> {
    const what = `secret "${ref.name}"${ref.version ? ` version ${ref.version}` : ''} in ${ref.vaultUrl}`;
    let record: SecretRecord;
    try {
      record = await this.call(ref);
    } catch (error) {
      const failure = classifyError(error, ref.version !== undefined);
      this.vaultStats(ref.vaultUrl).lastError = {
        kind: failure.kind,
        message: failure.message,
        at: new Date().toISOString(),
      };
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
