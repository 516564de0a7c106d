/**
 * The rotation ledger: how a new secret version reaches every instance in seconds instead of one TTL.
 *
 * - Reading: while this instance holds cached secrets, it asks every ROTATION_LEDGER_POLL_SECONDS (jittered) whether
 *   the ledger changed, with a conditional GET (304 when not: no body). For each entry naming another version than
 *   the one this instance got from Key Vault, seen after it (less a clock-skew allowance), it tells the Key Vault
 *   service once per entry version: `secretRotated(vault, name, version)` re-reads that secret if it is held here
 *   (merged and rate-limited there, the last good value kept until the new one is in hand).
 * - Writing: the instance that receives SecretNewVersionCreated records the event's version; an instance whose own
 *   refresh returns another version than it held, or than a ledger entry older than the skew allowance, records
 *   that. Writes are merged into one pending batch and made with If-Match (If-None-Match: * to create), re-read and
 *   retried on a conflict: no lost update, no lock.
 *   A write that finishes resolves the `recordEvent` promises of the entries it carried, and entries recorded
 *   while it was in flight are written next (an instance that holds no secret never polls, so nothing else would).
 * - Health: healthy means the ledger does its job, reads and writes. A ledger answering (200, 304, or no blob yet)
 *   whose writes are not refused is healthy, and then the cache uses the backstop TTL. No good answer for max(3
 *   polls, 30 s), a read that cannot succeed by retrying (malformed or oversized blob, denied, no container, a refused
 *   token), or a write refused for a reason other than another writer (403, a lease or an immutability policy, a
 *   refused token), and the cache goes back to SECRET_CACHE_TTL_SECONDS, exactly as without a ledger, until it
 *   works again. A refused write is retried on the poll backoff below, not on every poll.
 * - Refusal or conflict: a conditional write that fails (412/409) while a re-read shows the document unchanged was
 *   not beaten by another writer: the blob is leased or immutable (`locked`), and retrying cannot help.
 * - Backoff: after consecutive failed polls (no answer, or a malformed blob) the interval doubles, jittered, up to
 *   MAX_BACKOFF_MS (or the poll interval, if longer), so a fleet does not hammer a storage account that is down; but
 *   while still within the grace period the next poll falls by its end, so an outage is noticed on time. One good
 *   answer (200, 304, no blob) and the interval is the poll interval again. Hand-written: a few lines on the
 *   injected clock and random source, which the simulation and the tests drive (no retry library schedules polls).
 *
 * Never a value: the ledger, logs and telemetry carry vault hosts, names, version ids and times.
 */
import type { Clock, Logger, Revocation, RotationOutcome, VersionCheck } from '../keyVault/index.js';
import type { LedgerRead } from './store.js';
import {
  entryKey,
  type LedgerEntry,
  LEDGER_MAX_ENTRIES,
  UNKNOWN_VERSION,
  mergeEntries,
  parseLedger,
  serializeLedger,
} from './document.js';
import { LedgerFailure, type LedgerStore } from './store.js';

/** What the ledger needs from the Key Vault service. */
export interface LedgerTarget {
  /** Whether this instance holds any secret value (polls happen only then). */
  holdsSecrets(): boolean;
  /**
   * A newer version of this secret may exist: the Key Vault service's one entry point for that. It re-reads the
   * secret if held here (merged and rate-limited, the last good value kept until the new one is in hand).
   */
  secretRotated(vaultUrl: string, name: string, version?: string): RotationOutcome;
  /** Use the backstop TTL (ledger healthy) or the normal TTL. */
  useBackstopTtl(on: boolean): void;
  /** The ledger says Key Vault called this secret disabled or deleted (stop serving it), or no longer does (null). */
  secretRevoked?(vaultUrl: string, name: string, why: Revocation | null): boolean;
  /** The secrets the ledger lists (the fleet's names: their first reads get warm-up turns). */
  noteFleetSecrets?(secrets: Iterable<{ vaultUrl: string; name: string }>): void;
}

/** What happened to one poll: a word for telemetry and tests. */
export type PollOutcome = 'idle' | 'not-modified' | 'changed' | 'absent' | 'invalid' | `failed:${string}`;

export interface LedgerEvents {
  poll?(outcome: PollOutcome): void;
  write?(outcome: 'written' | 'conflict' | 'unchanged' | `failed:${string}`): void;
  /** Seconds from an entry's `seenAt` to this instance acting on it. */
  lag?(seconds: number): void;
}

export interface RotationLedgerOptions {
  store: LedgerStore;
  target: LedgerTarget;
  pollMs: number;
  /** Bound on each storage request. */
  timeoutMs: number;
  /** Monotonic milliseconds (health and scheduling). */
  clock?: Clock;
  /** Wall-clock milliseconds since 1970 (the `seenAt` written and compared across instances). */
  wallClock?: () => number;
  random?: () => number;
  /** Runs `run` after `ms`; returns a cancel function. Default: an unref'd setTimeout (tests pass virtual timers). */
  schedule?: (run: () => void, ms: number) => () => void;
  log?: Logger;
  events?: LedgerEvents;
}

/** What the config check shows of the ledger: words and counts, never a URL, a token, a name or a value. */
export interface LedgerStatus {
  /** The cache uses the backstop TTL while true. */
  healthy: boolean;
  /** Seconds since the last good answer (200, 304, no blob yet); null before the first one. */
  lastGoodPollSecondsAgo: number | null;
  /** The last failed poll's kind (`unreachable`, `denied`, `timeout`, `invalid`, …); null when none yet. */
  lastFailure: string | null;
  /** Failed polls since the last good answer (what the backoff doubles on). */
  consecutiveFailures: number;
  /** Seconds until the next poll as things stand (the backoff included). */
  pollIntervalSeconds: number;
  /** Entries in the ledger as this instance last read it (at most LEDGER_MAX_ENTRIES). */
  entries: number;
  /** Entries waiting to be written (at most LEDGER_MAX_ENTRIES). */
  pendingWrites: number;
  /** Why writes are refused (`denied`, `locked`, `too-large`, `token-refused`, …); null while they work. */
  writeFailure: string | null;
}

/** Clocks of two instances may differ by this much; a sighting this close to an entry is not proof either way. */
export const CLOCK_SKEW_MS = 60_000;
/** Attempts of one batch of writes (each a read and a conditional write) before it waits for the next poll. */
const WRITE_ATTEMPTS = 5;
/** The longest wait between polls after consecutive failures (unless the poll interval itself is longer). */
export const MAX_BACKOFF_MS = 60_000;
/** How long a `recordEvent` waits for its write, in storage timeouts: one in flight ahead of it, a read, a write. */
const EVENT_WAIT_TIMEOUTS = 3;
/** Read failures retrying cannot cure: unhealthy at once, not after the grace period. */
const PERSISTENT_READ: ReadonlySet<string> = new Set([
  'invalid',
  'failed:too-large',
  'failed:denied',
  'failed:container-missing',
  'failed:token-refused',
]);
/** Write failures retrying cannot cure (as `failed` with a 4xx status): unhealthy, and writes back off. */
const PERSISTENT_WRITE: ReadonlySet<string> = new Set([
  'denied',
  'container-missing',
  'too-large',
  'locked',
  'token-refused',
]);
/** Versions remembered per secret this instance read (bounded like the ledger itself). */
const MAX_SEEN = 10 * LEDGER_MAX_ENTRIES;

export class RotationLedger {
  private etag: string | undefined;
  private entries = new Map<string, LedgerEntry>();
  /** The latest version Key Vault returned here per secret, and when (wall clock). */
  private readonly seen = new Map<string, { version: string; at: number }>();
  /** Ledger versions already acted on, per secret: each costs at most one re-read. */
  private readonly acted = new Map<string, string>();
  private readonly pending = new Map<string, LedgerEntry>();
  /** Secrets this instance stopped serving because the ledger says disabled or deleted, and which. */
  private readonly revoked = new Map<string, Revocation>();
  private flushing: Promise<void> | undefined;
  /** When polls began to fail (undefined while they succeed). */
  private failingSince: number | undefined;
  private healthy = true;
  /** Whether the reads are healthy (the writes are when `writeFailure` is undefined). */
  private readHealthy = true;
  private writeFailure: string | undefined;
  private writeFailures = 0;
  /** Before this (monotonic ms), polls and sightings do not retry a refused write (events do). */
  private writeRetryAt = -Infinity;
  /** `recordEvent` callers waiting for their entry's write, per secret. */
  private readonly waiters = new Map<string, Array<(failure?: LedgerFailure) => void>>();
  private readonly schedule: (run: () => void, ms: number) => () => void;
  private failureLogged = false;
  /** Failed polls since the last good answer, and the last one's kind. */
  private failures = 0;
  private lastFailure: string | undefined;
  private lastGoodAt: number | undefined;
  private cancelTimer: (() => void) | undefined;
  private readonly clock: Clock;
  private readonly wallClock: () => number;
  private readonly random: () => number;
  private readonly graceMs: number;

  constructor(private readonly options: RotationLedgerOptions) {
    this.clock = options.clock ?? performance;
    this.wallClock = options.wallClock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.graceMs = Math.max(3 * options.pollMs, 30_000);
    this.schedule = options.schedule ?? unrefTimeout;
    // Optimistic until the first poll says otherwise: secrets read at start-up get the backstop TTL, and a ledger
    // that turns out unreachable lowers it again within the grace period.
    options.target.useBackstopTtl(true);
  }

  /** Whether the ledger answered recently (the cache then uses the backstop TTL). */
  isHealthy(): boolean {
    return this.healthy;
  }

  /** What the config check shows: words and counts only. */
  status(): LedgerStatus {
    return {
      healthy: this.healthy,
      lastGoodPollSecondsAgo:
        this.lastGoodAt === undefined ? null : Math.round((this.clock.now() - this.lastGoodAt) / 1000),
      lastFailure: this.lastFailure ?? null,
      consecutiveFailures: this.failures,
      pollIntervalSeconds: Math.round(this.delayMs(1) / 100) / 10,
      entries: this.entries.size,
      pendingWrites: this.pending.size,
      writeFailure: this.writeFailure ?? null,
    };
  }

  /**
   * How long to wait before the next poll: the poll interval ±20%; after consecutive failures, that doubled per
   * failure up to MAX_BACKOFF_MS (or the interval, if longer), but by the end of the grace period while still healthy.
   */
  nextPollDelayMs(): number {
    return this.delayMs(0.8 + 0.4 * this.random());
  }

  private delayMs(jitter: number): number {
    const { pollMs } = this.options;
    if (this.failures === 0) return pollMs * jitter;
    const delay = Math.min(Math.max(MAX_BACKOFF_MS, pollMs), pollMs * 2 ** this.failures * jitter);
    if (!this.healthy || this.failingSince === undefined) return delay;
    const untilVerdict = this.failingSince + this.graceMs - this.clock.now();
    return Math.min(delay, Math.max(untilVerdict, 0.8 * pollMs));
  }

  /** Poll on a timer (jittered, backing off while failing), unref'd so it never keeps the process alive. */
  start(): void {
    if (this.cancelTimer !== undefined) return;
    const schedule = this.schedule;
    const next = () => {
      if (this.cancelTimer === undefined) return; // stopped while a poll was in flight
      this.cancelTimer = schedule(() => void this.poll().finally(next), this.nextPollDelayMs());
    };
    this.cancelTimer = () => undefined;
    next();
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** One poll: a conditional GET when this instance holds secrets, nothing otherwise. Never throws. */
  async poll(): Promise<PollOutcome> {
    if (!this.options.target.holdsSecrets()) return this.report('idle');
    let outcome: PollOutcome;
    try {
      outcome = await this.refresh();
    } catch (error) {
      outcome = `failed:${error instanceof LedgerFailure ? error.kind : 'unexpected'}`;
    }
    const now = this.clock.now();
    if (outcome === 'not-modified' || outcome === 'changed' || outcome === 'absent') {
      this.failingSince = undefined;
      this.failures = 0;
      this.lastGoodAt = now;
      this.readHealthy = true;
      this.setHealthy(this.writeFailure === undefined, `writes refused: ${this.writeFailure}`);
      if (this.pending.size > 0 && now >= this.writeRetryAt) void this.flush();
    } else {
      this.failingSince ??= now;
      this.failures += 1;
      this.lastFailure = outcome.replace(/^failed:/, '');
      if (PERSISTENT_READ.has(outcome) || now - this.failingSince >= this.graceMs) {
        this.readHealthy = false;
        this.setHealthy(false, `no good answer: ${this.lastFailure}`);
      }
    }
    return this.report(outcome);
  }

  /** Key Vault returned `version` as the latest of a secret (a read or a refresh on this instance). */
  versionSeen(vaultUrl: string, name: string, version: string): void {
    const key = entryKey({ vaultUrl, name });
    const at = this.wallClock();
    const before = this.seen.get(key);
    const entry = this.entries.get(key);
    this.seen.delete(key);
    this.seen.set(key, { version, at });
    if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.keys().next().value!);
    if (entry?.version === version) return; // the ledger says so already
    const changedHere = before !== undefined && before.version !== version;
    const ledgerBehind = entry !== undefined && entry.version !== version && entry.seenAt < at - CLOCK_SKEW_MS;
    if (changedHere || ledgerBehind) this.record({ vaultUrl, name, version, seenAt: at });
  }

  /** A SecretNewVersionCreated event named this version: record it for the other instances (not waiting). */
  rotationEvent(vaultUrl: string, name: string, version: string): void {
    void this.recordEvent(vaultUrl, name, version);
  }

  /**
   * As `rotationEvent`, and resolves when the ledger holds it (written now, or already there); rejects (a
   * LedgerFailure) when the write failed or took longer than EVENT_WAIT_TIMEOUTS storage timeouts, so that the event
   * function can fail and Event Grid deliver the event again.
   */
  recordEvent(vaultUrl: string, name: string, version: string): Promise<void> {
    const key = entryKey({ vaultUrl, name });
    this.acted.set(key, version);
    const written = new Promise<void>((resolve, reject) => {
      let cancel = () => undefined as void;
      const done = (failure?: LedgerFailure) => {
        cancel();
        const list = this.waiters.get(key)?.filter((w) => w !== done) ?? [];
        if (list.length > 0) this.waiters.set(key, list);
        else this.waiters.delete(key);
        if (failure) reject(failure);
        else resolve();
      };
      this.waiters.set(key, [...(this.waiters.get(key) ?? []), done]);
      cancel = this.schedule(() => done(new LedgerFailure('timeout')), EVENT_WAIT_TIMEOUTS * this.options.timeoutMs);
      if (!this.record({ vaultUrl, name, version, seenAt: this.wallClock() }, true)) done(new LedgerFailure('busy'));
    });
    written.catch(() => undefined); // a caller that does not wait (`rotationEvent`) leaves no unhandled rejection
    return written;
  }

  /** Resolves when the writes pending now are made (or have failed and wait for the next poll). For tests. */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Queue an entry; written now unless refused writes are backing off (an event's entry is written now anyway). */
  private record(entry: LedgerEntry, now = false): boolean {
    const key = entryKey(entry);
    if (!this.pending.has(key) && this.pending.size >= LEDGER_MAX_ENTRIES) return false;
    this.pending.set(key, entry);
    if (now || this.clock.now() >= this.writeRetryAt) void this.flush();
    return true;
  }

  /** Tell the `recordEvent` callers waiting on these entries' secrets (when each is no longer pending). */
  private release(batch: readonly LedgerEntry[], failure?: LedgerFailure): void {
    for (const entry of batch) {
      const key = entryKey(entry);
      if (failure === undefined && this.pending.has(key)) continue; // a newer entry of that secret waits still
      for (const waiter of this.waiters.get(key) ?? []) waiter(failure);
    }
  }

  /** A batch's write failed: its callers are told; a failure retrying cannot cure makes the ledger unhealthy. */
  private writeFailed(batch: readonly LedgerEntry[], failure: LedgerFailure | undefined): void {
    const kind = failure?.kind ?? 'unexpected';
    this.options.events?.write?.(`failed:${kind}`);
    this.release(batch, failure ?? new LedgerFailure('failed'));
    const persistent =
      PERSISTENT_WRITE.has(kind) ||
      (kind === 'failed' && failure?.statusCode !== undefined && failure.statusCode < 500);
    if (!persistent) return;
    this.writeFailure = kind;
    this.writeFailures += 1;
    const { pollMs } = this.options;
    const backoff = Math.min(Math.max(MAX_BACKOFF_MS, pollMs), pollMs * 2 ** this.writeFailures);
    this.writeRetryAt = this.clock.now() + backoff * (0.8 + 0.4 * this.random());
    this.setHealthy(false, `writes refused: ${kind}`);
  }

  private writeSucceeded(): void {
    if (this.writeFailure === undefined) return;
    this.writeFailure = undefined;
    this.writeFailures = 0;
    this.writeRetryAt = -Infinity;
    this.setHealthy(this.readHealthy);
  }

  private report(outcome: PollOutcome): PollOutcome {
    this.options.events?.poll?.(outcome);
    return outcome;
  }

  private setHealthy(healthy: boolean, why?: string): void {
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    this.options.target.useBackstopTtl(healthy);
    if (!healthy && !this.failureLogged) {
      this.failureLogged = true;
      this.options.log?.warn(
        `Rotation ledger unhealthy (${why ?? 'unknown'}); secrets are refreshed every ` +
          'SECRET_CACHE_TTL_SECONDS, as without a ledger, until it reads and writes again (the config check says what to do).',
      );
    } else if (healthy && this.failureLogged) {
      this.failureLogged = false;
      this.options.log?.info('Rotation ledger: reading and writing again; the cache TTL is the backstop TTL again.');
    }
  }

  /** A bounded conditional read; applies a changed document. */
  private async refresh(): Promise<PollOutcome> {
    const controller = new AbortController();
    const cancel = this.schedule(() => controller.abort(), this.options.timeoutMs);
    try {
      const read = await bounded(this.options.store.read(this.etag, controller.signal), controller.signal);
      if (read.kind === 'not-modified') return 'not-modified';
      if (read.kind === 'absent') {
        this.etag = undefined;
        this.entries = new Map();
        return 'absent';
      }
      const parsed = parseLedger(read.text, this.wallClock());
      if (!parsed.ok) return 'invalid';
      this.etag = read.etag;
      this.apply(parsed.entries);
      return 'changed';
    } finally {
      cancel();
    }
  }

  private apply(entries: LedgerEntry[]): void {
    const now = this.wallClock();
    const next = new Map<string, LedgerEntry>();
    for (const entry of entries) {
      next.set(entryKey(entry), entry);
      this.act(entry, now);
    }
    // A revoked secret whose entry left the ledger (pruned, or the blob replaced) is served again as usual.
    for (const [key, why] of this.revoked) {
      if (next.has(key)) continue;
      this.revoked.delete(key);
      const [vaultUrl, name] = splitKey(key);
      if (why) this.options.target.secretRevoked?.(vaultUrl, name, null);
    }
    this.entries = next;
    this.options.target.noteFleetSecrets?.(next.values());
  }

  /** What one entry asks of this instance: stop serving a revoked secret, serve it again, or re-read a new version. */
  private act(entry: LedgerEntry, now: number): void {
    const key = entryKey(entry);
    if (entry.state !== undefined) {
      if (this.revoked.get(key) === entry.state) return;
      this.revoked.set(key, entry.state);
      this.options.target.secretRevoked?.(entry.vaultUrl, entry.name, entry.state);
      return;
    }
    if (this.revoked.delete(key)) this.options.target.secretRevoked?.(entry.vaultUrl, entry.name, null);
    const held = this.seen.get(key);
    if (held === undefined || held.version === entry.version || this.acted.get(key) === entry.version) return;
    if (entry.seenAt < held.at - CLOCK_SKEW_MS) {
      // This instance read a version after that entry was written: the ledger is behind, correct it.
      this.record({ vaultUrl: entry.vaultUrl, name: entry.name, version: held.version, seenAt: held.at });
      return;
    }
    this.acted.set(key, entry.version);
    if (this.acted.size > MAX_SEEN) this.acted.delete(this.acted.keys().next().value!);
    const outcome = this.options.target.secretRotated(entry.vaultUrl, entry.name, entry.version);
    if (outcome === 'refreshing' || outcome === 'deferred') {
      this.options.events?.lag?.(Math.max(0, (now - entry.seenAt) / 1000));
    }
  }

  /** The secrets the ledger lists, as this instance last read it. */
  listed(): LedgerEntry[] {
    return [...this.entries.values()];
  }

  /**
   * The lease holder's check found these versions and states in Key Vault: record what differs from the ledger (a
   * lost rotation, a secret disabled or deleted, or enabled again), and act on it here too (this instance's own write
   * comes back as 304 and would not be acted on). Returns how many entries were recorded.
   */
  recordCheck(results: readonly VersionCheck[]): number {
    const now = this.wallClock();
    let recorded = 0;
    for (const r of results) {
      if (r.state === 'unknown') continue;
      const known = this.entries.get(entryKey(r));
      let entry: LedgerEntry;
      if (r.state === 'enabled') {
        if (r.version === null || (known?.version === r.version && known.state === undefined)) continue;
        entry = { vaultUrl: r.vaultUrl, name: r.name, version: r.version, seenAt: now };
      } else {
        if (known?.state === r.state) continue;
        entry = { vaultUrl: r.vaultUrl, name: r.name, version: known?.version ?? UNKNOWN_VERSION, seenAt: now };
        entry.state = r.state;
      }
      this.record(entry);
      this.act(entry, now);
      recorded += 1;
    }
    return recorded;
  }

  private flush(): Promise<void> {
    this.flushing ??= this.writePending().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /**
   * Read, merge, write with If-Match; again on a conflict (up to WRITE_ATTEMPTS), and again while entries recorded
   * meanwhile wait. Pending entries stay pending after a failure. A blob too large to read is replaced (If-Match on
   * its ETag): nothing in it could be acted on.
   */
  private async writePending(): Promise<void> {
    let conflicts = 0;
    /** The ETag a conditional write was refused at (undefined: the create), or false after none. */
    let refusedAt: string | undefined | false = false;
    while (this.pending.size > 0) {
      const batch = [...this.pending.values()];
      if (conflicts >= WRITE_ATTEMPTS) return this.writeFailed(batch, new LedgerFailure('conflict'));
      const controller = new AbortController();
      const cancel = this.schedule(() => controller.abort(), this.options.timeoutMs);
      try {
        let read: LedgerRead;
        try {
          read = await bounded(this.options.store.read(this.etag, controller.signal), controller.signal);
        } catch (error) {
          if (!(error instanceof LedgerFailure && error.kind === 'too-large' && error.etag)) throw error;
          read = { kind: 'document', etag: error.etag, text: '' };
        }
        if (read.kind === 'absent') {
          this.etag = undefined;
          this.entries = new Map();
        } else if (read.kind === 'document') {
          const parsed = parseLedger(read.text, this.wallClock());
          // A malformed ledger is replaced by a valid one: what it held could not be acted on anyway.
          this.etag = read.etag;
          if (parsed.ok) this.apply(parsed.entries);
          else this.entries = new Map();
        }
        if (refusedAt !== false && (read.kind === 'absent' ? refusedAt === undefined : this.etag === refusedAt)) {
          throw new LedgerFailure('locked'); // refused, yet nobody wrote: a lease or an immutability policy
        }
        const merged = mergeEntries([...this.entries.values()], batch, this.wallClock());
        if (merged === undefined) {
          for (const entry of batch) {
            if (this.pending.get(entryKey(entry)) === entry) this.pending.delete(entryKey(entry));
          }
          this.options.events?.write?.('unchanged');
          this.release(batch);
          continue;
        }
        const written = await bounded(
          this.options.store.write(serializeLedger(merged), this.etag, controller.signal),
          controller.signal,
        );
        if (written === false) {
          this.options.events?.write?.('conflict');
          conflicts += 1;
          refusedAt = this.etag;
          this.etag = undefined; // read the whole document again
          continue;
        }
        // Our own write: the next poll gets 304 and finds nothing to act on.
        this.etag = written || undefined;
        for (const entry of batch) {
          if (this.pending.get(entryKey(entry)) === entry) this.pending.delete(entryKey(entry));
        }
        this.entries = new Map(merged.map((e) => [entryKey(e), e]));
        this.options.events?.write?.('written');
        this.writeSucceeded();
        this.release(batch);
        conflicts = 0;
        refusedAt = false;
      } catch (error) {
        return this.writeFailed(batch, error instanceof LedgerFailure ? error : undefined);
      } finally {
        cancel();
      }
    }
  }
}

/** `pending`, or a `timeout` failure as soon as `signal` aborts, whether or not whatever `pending` waits on heeds it. */
function bounded<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new LedgerFailure('timeout'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function splitKey(key: string): [string, string] {
  const at = key.lastIndexOf('|');
  return [key.slice(0, at), key.slice(at + 1)];
}

function unrefTimeout(run: () => void, ms: number): () => void {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
