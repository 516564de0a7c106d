/**
 * The cache policy in front of Key Vault: TTL cache with single flight (lru-cache), refresh ahead with jitter,
 * stale-if-error bounded by a maximum staleness, short memory of answers that say "no" (404, refusals), and a
 * floor on how often a caller may force a refresh. Each Key Vault call goes through the injected `load` (the call
 * policy, `callPolicy.ts`), so this module never touches the network and sees only classified failures.
 *
 * Two lru-caches, so that names that do not resolve to a value can never evict ones that do:
 * - `values` holds secrets Key Vault returned (bounded by SECRET_CACHE_MAX_ENTRIES); refreshes of a known name go
 *   through it.
 * - `cold` holds the first read of a name not in `values` (its single flight) and remembered failures: 404s for
 *   SECRET_CACHE_NEGATIVE_TTL_SECONDS, refusals (401/403, disabled secret, identity refused) for
 *   SECRET_CACHE_FAILURE_TTL_SECONDS. A read that finds a value moves it into `values`. Random names under an
 *   allowed prefix churn only this cache; the hot names stay.
 *
 * What lru-cache gives us: bounded LRU, TTL, coalesced concurrent fetch() (single flight, shared result and
 * error), forceRefresh, a per-fetch status and delete-on-rejection. What we add on top, and why: lru-cache's own
 * allowStaleOnFetchRejection serves stale after *any* rejection and without a staleness bound; the policy here must
 * evict on 403/404 and cap staleness, so the fetchMethod decides per error class and returns a "stale" marker entry.
 */
import { LRUCache } from 'lru-cache';
import type { CacheSettings } from '../config.js';
import {
  cacheKey,
  type Clock,
  type Logger,
  type SecretRead,
  type SecretRecord,
  type SecretMetadata,
  type SecretReference,
  type Schedule,
  realSchedule,
} from './contract.js';
import { type FailureKind, isTransient, KeyVaultFailure } from './failure.js';

interface ValueEntry {
  kind: 'value';
  ref: SecretReference;
  record: SecretRecord;
  /** When Key Vault last returned this value. */
  fetchedAt: number;
  /** After this instant the value must not be served without asking Key Vault again. */
  expiresAt: number;
  /** lru-cache TTL of this entry: the jittered refresh-ahead point (or the stale retry interval). */
  softTtlMs: number;
  /** The TTL this value was given (the cache's TTL when Key Vault returned it). */
  ttlMs: number;
  /** Set while Key Vault is failing transiently and this last-known-good value is being served. */
  staleBecause?: FailureKind;
}

/** A remembered "no": the name is missing, or the vault or identity refused it. */
interface FailureEntry {
  kind: 'failure';
  failure: KeyVaultFailure;
  at: number;
}

type ColdEntry = ValueEntry | FailureEntry;

interface FetchContext {
  ref: SecretReference;
  /** This refresh was asked for by a rotation notice: the value in memory is known to be superseded. */
  rotation?: boolean;
}

/** Per name: the last re-read a rotation notice caused, and whether another notice arrived since. */
interface RotationState {
  attemptedAt: number;
  /** A notice arrived inside the rate-limit window (or the last re-read failed): re-read when the window ends. */
  pending: boolean;
  /** The newest version a notice named, when it named one. */
  version?: string;
  /** Key Vault answers since a notice named `version` that were not it (bounded by MAX_ROTATION_REREADS). */
  attempts?: number;
}

/**
 * What a rotation notice led to: `not-cached` (this instance holds no value for the name: nothing to do),
 * `current` (the value held already is the version named), `refreshing` (a re-read started, or one in flight was
 * joined), `deferred` (Key Vault answered for this name less than SECRET_CACHE_MIN_REFRESH_SECONDS ago: the re-read
 * is made by the first read or notice after that window).
 */
export type RotationOutcome = 'not-cached' | 'current' | 'refreshing' | 'deferred';

/**
 * How a load is made: `background` loads (re-reads a rotation notice caused) leave half the call budget to reads;
 * `first` loads are the first read of a name here (the service lets those of names the fleet is known to use wait
 * for a warm-up turn instead of spending the budget).
 */
export interface LoadOptions {
  background?: boolean;
  first?: boolean;
}

/** How long a reader waits for a first read that is waiting for its turn, and the timers it waits on. */
export interface FirstReadWait {
  /**
   * KEY_VAULT_TIMEOUT_MS: past this (and 0.1 s, so a call already at Key Vault reports its own timeout) the reader gets
   * `throttled` (503 + Retry-After); the load keeps its place.
   */
  ms: number;
  schedule: Schedule;
}

/** Why the ledger says a secret must not be served: Key Vault said it is disabled, or it is deleted. */
export type Revocation = 'disabled' | 'deleted';

export interface CacheStats {
  entries: number;
  /** Remembered failures and first reads in flight (the `cold` cache). */
  rememberedFailures: number;
  hits: number;
  misses: number;
  staleServes: number;
  /** Forced refreshes refused because the name was read from Key Vault moments ago. */
  refreshesLimited: number;
  /** Rotation notices merged into a re-read already made or due (not a Key Vault call each). */
  rotationsMerged: number;
}

/** Fraction of the TTL after which a read triggers a background refresh: 0.75 plus up to 0.2 of jitter. */
const REFRESH_AHEAD_FROM = 0.75;
const REFRESH_AHEAD_JITTER = 0.2;
/**
 * Under a TTL longer than SECRET_CACHE_TTL_SECONDS (the backstop TTL while the rotation ledger is healthy, hours),
 * the first refresh of a value read anew (a first read) falls anywhere from 0.25 to 0.95 of it: a fleet that started
 * together (a deployment) then spreads its refreshes over most of the TTL instead of its last fifth, and stays under
 * its share of the vault's limit. A value that was itself a refresh is spread already: its next refresh falls at
 * 0.85 to 0.95 of the TTL (BACKSTOP_REFRESH_AGAIN_*), so the second wave does not pile onto the first one's tail
 * (the 12-h fleet simulation's late peak) and the steady cost is about 1 / 0.9 refreshes per TTL, not 1 / 0.6.
 */
const BACKSTOP_REFRESH_FROM = 0.25;
const BACKSTOP_REFRESH_JITTER = 0.7;
const BACKSTOP_REFRESH_AGAIN_FROM = 0.85;
const BACKSTOP_REFRESH_AGAIN_JITTER = 0.1;
/**
 * Key Vault answers without the version a notice named before that notice is given up on: the re-read it caused, and
 * one more after SECRET_CACHE_MIN_REFRESH_SECONDS (that re-read may have joined one started before the version
 * existed). A version that never appears (an old event delivered again, a wrong or forged ledger entry) costs that.
 */
export const MAX_ROTATION_REREADS = 2;
/** How much longer than KEY_VAULT_TIMEOUT_MS a reader waits for a first read that may be waiting for its turn. */
const FIRST_READ_MARGIN_MS = 100;
/** While serving stale, how long before Key Vault is asked again (one call per key per interval). */
const STALE_RETRY_MS = 5_000;

const REFUSALS: ReadonlySet<FailureKind> = new Set(['access-denied', 'identity-refused', 'secret-disabled']);

/** Loads one secret from Key Vault; rejects only with a KeyVaultFailure (the call policy's `call`). */
export type SecretLoad = (ref: SecretReference, options?: LoadOptions) => Promise<SecretRecord>;

/** The key of a secret's name in a vault (every version of it). */
function nameKey(ref: SecretReference): string {
  return `${ref.vaultUrl}|${ref.name.toLowerCase()}`;
}

function asFailure(error: unknown): KeyVaultFailure {
  return error instanceof KeyVaultFailure
    ? error
    : new KeyVaultFailure('unexpected', 'The secret could not be loaded.');
}

export class SecretCache {
  private readonly values: LRUCache<string, ValueEntry, FetchContext>;
  private readonly cold: LRUCache<string, ColdEntry, FetchContext>;
  private hits = 0;
  private misses = 0;
  private staleServes = 0;
  private refreshesLimited = 0;
  private rotationsMerged = 0;
  /** Rotation state of names held in `values` (bounded like it). */
  private readonly rotations: LRUCache<string, RotationState>;
  /** The TTL given to values from now on: SECRET_CACHE_TTL_SECONDS, or the backstop TTL while the ledger is healthy. */
  private ttlMs: number;
  /** Keys whose refresh is at Key Vault right now (left alone by `setTtl`). */
  private readonly refreshing = new Set<string>();
  /** Names the rotation ledger says are disabled or deleted: never served, not asked for, until the ledger clears it. */
  private readonly revoked: LRUCache<string, KeyVaultFailure>;
  private readonly firstReadWait: FirstReadWait;

  constructor(
    private readonly loadSecret: SecretLoad,
    private readonly policy: CacheSettings,
    private readonly log: Logger,
    private readonly clock: Clock = performance,
    private readonly random: () => number = Math.random,
    firstReadWait: Partial<FirstReadWait> = {},
  ) {
    this.ttlMs = policy.ttlMs;
    this.firstReadWait = { ms: firstReadWait.ms ?? Infinity, schedule: firstReadWait.schedule ?? realSchedule };
    this.revoked = new LRUCache<string, KeyVaultFailure>({ max: policy.maxEntries });
    const common = {
      max: policy.maxEntries,
      perf: clock,
      ttlResolution: 0,
      // A read already in flight completes even if its key is evicted meanwhile: its callers get the answer, it
      // is just not kept. The call policy's timeout still bounds it.
      ignoreFetchAbort: true,
    };
    this.values = new LRUCache<string, ValueEntry, FetchContext>({
      ...common,
      // Entries past their refresh-ahead point are still served while one background fetch refreshes them;
      // `read` makes sure nothing past its hard expiry is served.
      allowStale: true,
      fetchMethod: (key, previous, { options, context }) =>
        this.refresh(key, context, previous, (ttl) => {
          options.ttl = ttl;
        }),
    });
    this.rotations = new LRUCache<string, RotationState>({ max: policy.maxEntries });
    this.cold = new LRUCache<string, ColdEntry, FetchContext>({
      ...common,
      fetchMethod: (_key, _previous, { options, context }) =>
        this.firstRead(context.ref, (ttl) => {
          options.ttl = ttl;
        }),
    });
  }

  /**
   * Read through the cache. `forceRefresh` asks Key Vault now (still single flight, still time-bounded), unless
   * this name was answered by Key Vault less than SECRET_CACHE_MIN_REFRESH_SECONDS ago: then the answer in memory
   * is returned as `refresh-limited`.
   */
  async read(ref: SecretReference, { forceRefresh = false } = {}): Promise<SecretRead> {
    const key = cacheKey(ref);
    const revoked = this.revoked.size === 0 ? undefined : this.revoked.get(nameKey(ref));
    if (revoked !== undefined) {
      this.hits += 1;
      throw revoked;
    }
    const startedAt = this.clock.now();
    let refreshLimited = false;
    if (forceRefresh && this.answeredWithin(key, this.policy.minRefreshMs)) {
      forceRefresh = false;
      refreshLimited = true;
      this.refreshesLimited += 1;
    }

    let entry: ColdEntry | undefined;
    let fromMemory: boolean;
    // Within its refresh-ahead point (most reads): a plain hit, answered below without lru-cache's fetch().
    const fresh = !forceRefresh && this.values.getRemainingTTL(key) > 0;
    if (fresh || this.values.peek(key, { allowStale: true }) !== undefined) {
      // A rotation notice deferred by the rate limit is acted on by the first read after the window.
      const rotation = !forceRefresh && this.rotationDue(key);
      if (rotation) forceRefresh = true;
      try {
        const status: LRUCache.Status<string, ValueEntry, FetchContext> = {};
        if (fresh && !forceRefresh) {
          entry = this.values.get(key);
          status.fetch = 'hit';
        } else {
          entry = await this.values.fetch(key, {
            status,
            forceRefresh,
            allowStale: !forceRefresh,
            context: { ref, rotation },
          });
        }
        fromMemory = status.fetch === 'hit' || status.returnedStale === true;
        if (entry !== undefined && fromMemory && this.clock.now() >= entry.expiresAt && !this.servableStale(entry)) {
          // Served from memory but past its hard expiry: wait for a fresh one (joins the refresh already in
          // flight, or starts one). A last-known-good value during an outage is the exception: it is returned at
          // once while the background refresh lru-cache just started retries Key Vault.
          entry = await this.values.fetch(key, { allowStale: false, forceRefresh: true, context: { ref } });
          fromMemory = false;
        }
      } catch (error) {
        // A refresh that ended in a 404 or a refusal dropped the value and remembered the failure in `cold`.
        const remembered = this.cold.get(key);
        if (remembered?.kind !== 'failure') throw error;
        entry = remembered;
        fromMemory = false;
      }
    } else {
      const status: LRUCache.Status<string, ColdEntry, FetchContext> = {};
      const load = this.cold.fetch(key, { status, forceRefresh, context: { ref } });
      // The load keeps its place even when this reader stops waiting: the next read finds the value.
      const promoted = load.then((loaded) => {
        if (loaded?.kind === 'value' && this.cold.peek(key) === loaded) this.promote(key, loaded);
        return loaded;
      });
      entry = status.fetch === 'hit' ? await promoted : await this.boundedWait(promoted);
      fromMemory = status.fetch === 'hit';
    }
    if (entry === undefined) throw new KeyVaultFailure('unexpected', 'The secret could not be loaded.');

    if (entry.kind === 'value' && (entry.staleBecause !== undefined || (!fromMemory && entry.fetchedAt < startedAt))) {
      // A last-known-good value: Key Vault failed (past the TTL, or on this very refresh).
      this.staleServes += 1;
      return { record: entry.record, cache: 'stale', ageMs: this.clock.now() - entry.fetchedAt };
    }
    // A remembered 404 or refusal counts like any other answer from memory.
    if (fromMemory) this.hits += 1;
    else this.misses += 1;
    if (entry.kind === 'failure') throw entry.failure;
    return { record: entry.record, cache: refreshLimited ? 'refresh-limited' : fromMemory ? 'hit' : 'miss' };
  }

  /** Wait for a first read at most KEY_VAULT_TIMEOUT_MS (it may be waiting for a warm-up turn). */
  private boundedWait<T>(load: Promise<T>): Promise<T> {
    if (!Number.isFinite(this.firstReadWait.ms)) return load;
    let cancel: (() => void) | undefined;
    const bound = new Promise<never>((_, reject) => {
      cancel = this.firstReadWait.schedule(
        () =>
          reject(
            new KeyVaultFailure(
              'throttled',
              'The first read of this secret waited for its turn at Key Vault (warm-up) longer than ' +
                'KEY_VAULT_TIMEOUT_MS; it keeps its place, and a later read finds the value.',
              { retryAfterSeconds: 1, errorCode: 'WarmupWaiting' },
            ),
          ),
        // A margin past KEY_VAULT_TIMEOUT_MS: a call whose turn came at once reports its own timeout first.
        this.firstReadWait.ms + FIRST_READ_MARGIN_MS,
      );
    });
    load.catch(() => undefined);
    return Promise.race([load, bound]).finally(() => cancel?.());
  }

  /**
   * The rotation ledger says Key Vault called this secret disabled or deleted (the lease holder's check): drop every
   * value held of it (the latest and pinned versions) and answer reads with that refusal, without asking Key Vault,
   * until {@link restore}. Returns whether anything changed.
   */
  revoke(ref: SecretReference, why: Revocation): boolean {
    const name = nameKey(ref);
    if (this.revoked.get(name)?.kind === (why === 'disabled' ? 'secret-disabled' : 'secret-not-found')) return false;
    const failure =
      why === 'disabled'
        ? new KeyVaultFailure('secret-disabled', `Secret "${ref.name}" is disabled in Key Vault (rotation ledger).`, {
            statusCode: 403,
            errorCode: 'SecretDisabled',
          })
        : new KeyVaultFailure(
            'secret-not-found',
            `Secret "${ref.name}" was deleted from Key Vault (rotation ledger).`,
            {
              statusCode: 404,
              errorCode: 'SecretNotFound',
            },
          );
    this.revoked.set(name, failure);
    for (const cache of [this.values, this.cold] as const) {
      for (const key of [...cache.keys()]) if (key.startsWith(`${name}|`)) cache.delete(key);
    }
    return true;
  }

  /** The ledger no longer says this secret is disabled or deleted: the next read asks Key Vault. */
  restore(ref: SecretReference): boolean {
    return this.revoked.delete(nameKey(ref));
  }

  stats(): CacheStats {
    return {
      entries: this.values.size,
      rememberedFailures: this.cold.size,
      hits: this.hits,
      misses: this.misses,
      staleServes: this.staleServes,
      refreshesLimited: this.refreshesLimited,
      rotationsMerged: this.rotationsMerged,
    };
  }

  /**
   * A newer version of this secret may exist (a rotation notice). Never drops the value held: it is replaced only
   * when Key Vault returns the new one, and served (as stale once known superseded) while Key Vault fails, within
   * SECRET_CACHE_MAX_STALE_SECONDS. Notices are merged and rate-limited: at most one re-read per name per
   * SECRET_CACHE_MIN_REFRESH_SECONDS (counted from the last answer or re-read), the re-read joins one already in
   * flight, and it runs as a background load (leaving half the call budget to reads). Names not held here, and a
   * held value that already is `version`, cost nothing.
   */
  rotated(ref: SecretReference, version?: string): RotationOutcome {
    const key = cacheKey({ vaultUrl: ref.vaultUrl, name: ref.name });
    const held = this.values.peek(key, { allowStale: true });
    if (held === undefined) return 'not-cached';
    const wanted = version?.toLowerCase();
    const state = this.rotations.get(key);
    if (wanted !== undefined && held.record.version?.toLowerCase() === wanted) {
      // The version named is held: any notice still waiting (for another version) is settled by this one.
      if (state !== undefined) this.rotations.set(key, { attemptedAt: state.attemptedAt, pending: false });
      return 'current';
    }
    const now = this.clock.now();
    // A repeated notice for a version still awaited keeps its count (one given up on costs at most the bound again).
    const attempts = wanted !== undefined && state?.version === wanted ? state.attempts : undefined;
    if (!this.rotationWindowOpen(held, state, now)) {
      this.rotationsMerged += 1;
      this.rotations.set(key, {
        attemptedAt: state?.attemptedAt ?? -Infinity,
        pending: true,
        version: wanted,
        attempts,
      });
      return 'deferred';
    }
    this.rotations.set(key, { attemptedAt: now, pending: false, version: wanted, attempts });
    // A re-read already in flight is joined (lru-cache single flight); reads meanwhile get the value held.
    void this.values
      .fetch(key, {
        forceRefresh: true,
        allowStale: false,
        context: { ref: { vaultUrl: ref.vaultUrl, name: ref.name }, rotation: true },
      })
      .catch(() => undefined);
    return 'refreshing';
  }

  /** What Key Vault said about every secret held here: references and metadata, never values. */
  metadata(): SecretMetadata[] {
    const out: SecretMetadata[] = [];
    for (const entry of this.values.values()) {
      const { name, version, enabled, expiresOn, notBefore } = entry.record;
      out.push({ vaultUrl: entry.ref.vaultUrl, name, version, enabled, expiresOn, notBefore });
    }
    return out;
  }

  /** Whether this instance holds a value of this secret (its latest version; fresh or stale). */
  holds(ref: SecretReference): boolean {
    return this.values.peek(cacheKey({ vaultUrl: ref.vaultUrl, name: ref.name }), { allowStale: true }) !== undefined;
  }

  clear(): void {
    this.revoked.clear();
    this.values.clear();
    this.cold.clear();
    this.rotations.clear();
  }

  /**
   * Whether a rotation re-read may be made now: SECRET_CACHE_MIN_REFRESH_SECONDS have passed since Key Vault's
   * answer for the value held and since the last re-read a notice caused.
   */
  private rotationWindowOpen(held: ValueEntry, state: RotationState | undefined, now: number): boolean {
    return now - Math.max(held.fetchedAt, state?.attemptedAt ?? -Infinity) >= this.policy.minRefreshMs;
  }

  /** Whether a deferred rotation notice for this name is due now (it is then marked as attempted). */
  private rotationDue(key: string): boolean {
    if (this.rotations.size === 0) return false;
    const state = this.rotations.get(key);
    if (state === undefined || !state.pending) return false;
    const held = this.values.peek(key, { allowStale: true });
    const now = this.clock.now();
    if (held === undefined || !this.rotationWindowOpen(held, state, now)) return false;
    this.rotations.set(key, { ...state, attemptedAt: now, pending: false });
    return true;
  }

  /**
   * Change the TTL given to values from now on. Lowering it also brings every value held under a longer TTL into
   * line, as if Key Vault had returned it now: its refresh ahead falls at the usual jittered point of the new TTL
   * from now, and it expires at most that TTL from now. So when the rotation ledger is lost, the fleet refreshes as
   * it would without one, spread over the normal TTL instead of all at once.
   */
  setTtl(ttlMs: number): void {
    const lowered = ttlMs < this.ttlMs;
    this.ttlMs = ttlMs;
    if (!lowered) return;
    const now = this.clock.now();
    for (const [key, entry] of [...this.values.entries()]) {
      if (this.refreshing.has(key) || entry.ttlMs <= ttlMs || entry.staleBecause !== undefined) continue;
      const softTtlMs = this.refreshAfter(ttlMs);
      this.values.set(
        key,
        { ...entry, ttlMs, softTtlMs, expiresAt: Math.min(entry.expiresAt, now + ttlMs) },
        { ttl: softTtlMs },
      );
    }
  }

  /** Whether Key Vault answered for this name (a value or a remembered failure) less than `ms` ago. */
  private answeredWithin(key: string, ms: number): boolean {
    const known = this.values.peek(key, { allowStale: true }) ?? this.cold.peek(key);
    if (known === undefined) return false;
    const at = known.kind === 'value' ? known.fetchedAt : known.at;
    return this.clock.now() - at < ms;
  }

  private promote(key: string, entry: ValueEntry): void {
    this.values.set(key, entry, { ttl: entry.softTtlMs });
    this.cold.delete(key);
  }

  /** A last-known-good value that may still be served while Key Vault fails. */
  private servableStale(entry: ColdEntry): boolean {
    return entry.kind === 'value' && entry.staleBecause !== undefined && this.withinMaxStale(entry);
  }

  /** The first read of a name: a value (moved to `values` by `read`), or a remembered 404 or refusal. */
  private async firstRead(ref: SecretReference, setTtl: (ttlMs: number) => void): Promise<ColdEntry> {
    try {
      const entry = this.fresh(ref, await this.load(ref, { first: true }));
      setTtl(entry.softTtlMs);
      return entry;
    } catch (error) {
      const remembered = this.remember(asFailure(error), setTtl);
      if (remembered) return remembered;
      throw asFailure(error);
    }
  }

  /** One load; a record Key Vault marks disabled is never served (a refusal, like 403 SecretDisabled). */
  private async load(ref: SecretReference, options: LoadOptions): Promise<SecretRecord> {
    const record = await this.loadSecret(ref, options);
    if (record.enabled === false) {
      throw new KeyVaultFailure('secret-disabled', `Secret "${ref.name}" is disabled in Key Vault.`, {
        statusCode: 403,
        errorCode: 'SecretDisabled',
      });
    }
    return record;
  }

  /** How long a failure is remembered: 404s for the negative TTL, refusals for the failure TTL, others not (0). */
  private rememberFor(failure: KeyVaultFailure): number {
    if (failure.kind === 'secret-not-found' || failure.kind === 'version-not-found') return this.policy.negativeTtlMs;
    return REFUSALS.has(failure.kind) ? this.policy.failureTtlMs : 0;
  }

  /** A 404 or a refusal, remembered for its (short) TTL; undefined for failures that are not remembered. */
  private remember(failure: KeyVaultFailure, setTtl: (ttlMs: number) => void): FailureEntry | undefined {
    const ttl = this.rememberFor(failure);
    if (ttl <= 0) return undefined;
    setTtl(ttl);
    return { kind: 'failure', failure, at: this.clock.now() };
  }

  /** Refresh of a name already in `values` (refresh ahead, expiry, forced refresh). */
  private async refresh(
    key: string,
    { ref, rotation = false }: FetchContext,
    previous: ValueEntry | undefined,
    setTtl: (ttlMs: number) => void,
  ): Promise<ValueEntry> {
    const what = `secret "${ref.name}"${ref.version ? ` version ${ref.version}` : ''} in ${ref.vaultUrl}`;
    let record: SecretRecord;
    this.refreshing.add(key);
    try {
      record = await this.load(ref, rotation ? { background: true } : {});
    } catch (error) {
      const failure = asFailure(error);
      let ttl = 0;
      const remembered = this.remember(failure, (ms) => (ttl = ms));
      if (remembered) {
        // 404 (deleted), 401/403 (access revoked), disabled, identity refused: the value is dropped (a rejected
        // fetch deletes the key) and the failure remembered briefly in `cold`, so a revoked secret is never served
        // again and the refusal does not turn into one Key Vault call per request.
        this.cold.set(key, remembered, { ttl });
        throw failure;
      }
      if (isTransient(failure.kind) && previous !== undefined && this.withinMaxStale(previous)) {
        const now = this.clock.now();
        const retryMs = Math.min(STALE_RETRY_MS, previous.ttlMs || STALE_RETRY_MS);
        setTtl(retryMs);
        const rotationState = this.rotations.get(key);
        if (rotation && rotationState !== undefined) rotationState.pending = true; // try again after the window
        if (now < previous.expiresAt && !rotation && previous.staleBecause === undefined) {
          // A refresh ahead failed while the value is still within its TTL: keep serving it and retry.
          return { ...previous, softTtlMs: retryMs };
        }
        if (now < previous.expiresAt) {
          // Known superseded (a rotation notice) or already stale, still within its TTL: serve it as stale.
          if (previous.staleBecause === undefined) {
            this.log.warn(
              `Key Vault re-read of ${what} after a rotation notice failed (${failure.kind}); serving the last good ` +
                `value until Key Vault answers (at most ${Math.round(this.policy.maxStaleMs / 1000)} s past its TTL).`,
            );
          }
          return { ...previous, staleBecause: previous.staleBecause ?? failure.kind, softTtlMs: retryMs };
        }
        if (previous.staleBecause === undefined) {
          this.log.warn(
            `Key Vault read of ${what} failed (${failure.kind}); serving the last good value until Key Vault ` +
              `recovers (at most ${Math.round(this.policy.maxStaleMs / 1000)} s past its TTL).`,
          );
        }
        const staleUntil = previous.fetchedAt + previous.ttlMs + this.policy.maxStaleMs;
        return {
          ...previous,
          staleBecause: failure.kind,
          softTtlMs: retryMs,
          expiresAt: Math.min(now + retryMs, staleUntil),
        };
      }
      // Nothing good to fall back on: rejecting makes lru-cache delete the key.
      throw failure;
    } finally {
      this.refreshing.delete(key);
    }

    if (previous?.staleBecause !== undefined) {
      this.log.info(`Key Vault read of ${what} recovered after ${previous.staleBecause}.`);
    }
    const rotationState = this.rotations.get(key);
    if (rotationState?.version !== undefined) {
      // The version a notice named is in hand (nothing more to do), or not yet (this read may have started before
      // it was created): then one more re-read after the window, up to MAX_ROTATION_REREADS answers in all.
      const settled = record.version?.toLowerCase() === rotationState.version;
      rotationState.attempts = settled ? 0 : (rotationState.attempts ?? 0) + 1;
      rotationState.pending = !settled && rotationState.attempts < MAX_ROTATION_REREADS;
      if (!settled && !rotationState.pending) {
        this.log.info(
          `Key Vault returned another version of ${what} than the rotation notice named (${rotationState.version}) ` +
            `${rotationState.attempts} time(s); keeping the version Key Vault returns and not asking again for that one.`,
        );
        rotationState.version = undefined;
      }
    }
    const entry = this.fresh(ref, record, true);
    setTtl(entry.softTtlMs);
    return entry;
  }

  /**
   * A value just returned by Key Vault. Pinned versions too get the normal TTL: the value is immutable, but access
   * to it is not, so it is revalidated (one GET of that version) at the same pace as the latest.
   */
  private fresh(ref: SecretReference, record: SecretRecord, refreshed = false): ValueEntry {
    const now = this.clock.now();
    // A pinned version keeps the normal TTL even under the backstop TTL: the rotation ledger carries no word of a
    // revoked version, so this revalidation is what bounds how long one is served.
    const ttl = ref.version === undefined ? this.ttlMs : Math.min(this.ttlMs, this.policy.ttlMs);
    return {
      kind: 'value',
      ref,
      record,
      fetchedAt: now,
      expiresAt: now + ttl,
      softTtlMs: this.refreshAfter(ttl, refreshed),
      ttlMs: ttl,
    };
  }

  /**
   * Soft TTL (lru-cache's): refresh ahead at a jittered point of the TTL, so instances do not synchronise; under the
   * backstop TTL, narrower for a value that was itself a refresh (`refreshed`).
   */
  private refreshAfter(ttl: number, refreshed = false): number {
    if (ttl === 0) return 1;
    const [from, jitter] =
      ttl <= this.policy.ttlMs
        ? [REFRESH_AHEAD_FROM, REFRESH_AHEAD_JITTER]
        : refreshed
          ? [BACKSTOP_REFRESH_AGAIN_FROM, BACKSTOP_REFRESH_AGAIN_JITTER]
          : [BACKSTOP_REFRESH_FROM, BACKSTOP_REFRESH_JITTER];
    return Math.max(1, Math.floor(ttl * (from + this.random() * jitter)));
  }

  private withinMaxStale(entry: ValueEntry): boolean {
    const softExpiry = entry.fetchedAt + entry.ttlMs;
    return this.clock.now() - softExpiry <= this.policy.maxStaleMs;
  }
}
