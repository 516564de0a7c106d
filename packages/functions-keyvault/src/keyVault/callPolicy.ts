/**
 * The call policy: how one Key Vault call is made. Each call is bounded by KEY_VAULT_TIMEOUT_MS (time spent in the
 * concurrency queue included), by a per-vault concurrency limit (p-limit) and by one of two per-vault allowances,
 * and counted per vault for the config check:
 * - Refreshes, reads of unknown names and background re-reads draw from this instance's budget
 *   (KEY_VAULT_BUDGET_PER_10S, a token bucket). When it is spent the call fails at once as `throttled` with the time
 *   to the next token, without reaching Key Vault: the cache then serves what it has (stale within its bound) and
 *   uncached names get 503 + Retry-After.
 * - Warm-up calls (a first read of a name the fleet is known to use) take turns from the warm-up pacer (KEY_VAULT_WARMUP_PER_10S, {@link WarmupPacer}): a call whose turn is near starts at once,
 *   the others wait for their turn (a bounded queue), and Key Vault's 429 slows the pacer down (AIMD). The lease holder's version check has a pacer of its own
 *   (CHECK_PER_10S).
 * - With the rotation ledger, an instance that holds one of the fleet's warm-up slots (service.ts) makes its warm-up
 *   calls at SLOT_PER_10S instead (`slot`: a pacer of its own, also slowed by 429s).
 * The fetch itself is injected (the SDK adapter, or a test double), so this module never touches the network.
 *
 * The token bucket and the pacer are a few lines written here rather than a library: they must run on the injected
 * clock and timers (the fleet simulation runs 12 hours of virtual time in seconds), which the npm rate limiters do
 * not offer.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { CallSettings } from '../config.js';
import {
  type Clock,
  realSchedule,
  type Schedule,
  type SecretFetch,
  type SecretRecord,
  type SecretReference,
} from './contract.js';
import { type FailureKind, KeyVaultFailure } from './failure.js';
import { traceCall } from './telemetry.js';

export interface VaultStats {
  keyVaultCalls: number;
  /** Calls refused without reaching Key Vault because this instance's budget was spent. */
  budgetRefusals: number;
  /** Warm-up calls that waited for their turn, and those refused because the queue was full. */
  warmupWaits: number;
  warmupRefusals: number;
  /** The warm-up pace now (calls per 10 s): KEY_VAULT_WARMUP_PER_10S, less after 429s. */
  warmupPer10s: number;
  lastError: { kind: FailureKind; message: string; at: string } | null;
}

/**
 * A token bucket refilled with `per10s` tokens evenly over 10 s, on an injected clock. It holds at most
 * max(1, per10s) tokens: a budget below one call per 10 s (a large fleet's share of a vault) still allows one.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly capacity: number;

  constructor(
    private readonly per10s: number,
    private readonly clock: Clock,
  ) {
    this.capacity = Math.max(1, per10s);
    this.tokens = this.capacity;
    this.updatedAt = clock.now();
  }

  /**
   * Takes a token, or returns the milliseconds until one is available. `keep` tokens are left in the bucket: a
   * background call passes half the capacity, so it never spends what reads need.
   */
  take(keep = 0): { ok: true } | { ok: false; waitMs: number } {
    const now = this.clock.now();
    const perMs = this.per10s / 10_000;
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * perMs);
    this.updatedAt = now;
    if (this.tokens >= 1 + keep) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: Math.ceil((1 + keep - this.tokens) / perMs) };
  }

  /**
   * What a background call leaves to reads: half the capacity, but never so much that no background call can ever
   * pass. A large fleet's share (KEY_VAULT_BUDGET_PER_10S = 400 / N, under 2 calls per 10 s from 200 instances on)
   * makes a bucket of one call: a reserve of half of it would refuse every re-read a rotation notice asks for, and
   * the rotation would reach such an instance only with its TTL. There a background call may take the bucket's one
   * call when it is full.
   */
  get reserve(): number {
    return Math.min(this.capacity / 2, this.capacity - 1);
  }
}

/** How far ahead a warm-up call may book its turn, and how many may wait at once per vault (the queue's bounds). */
export const WARMUP_QUEUE_MS = 300_000;
export const WARMUP_QUEUE_MAX = 1_000;
/** Without a 429, the warm-up pace grows back by a tenth of KEY_VAULT_WARMUP_PER_10S per 10 s. */
const WARMUP_REGAIN_MS = 100_000;

/**
 * The warm-up pacer: turns at `ceiling` calls per 10 s, evenly spaced (a virtual schedule, as GCRA does it). A call
 * whose turn is within about one second's worth of turns starts at once; a later one waits for its turn, booked now,
 * so it keeps its place; a turn more than WARMUP_QUEUE_MS away, or a queue of WARMUP_QUEUE_MAX, is refused. The first
 * turn is jittered over one interval, so a fleet that starts together spreads its first calls. Key Vault's answers
 * are the shared signal (AIMD): a 429 halves the pace (never below `floor`, the steady budget) and moves the next turn
 * past its Retry-After; without 429s the pace grows back to `ceiling` by a tenth of it per 10 s. Without `burst` (the
 * warm-up slot's pacer) no call starts ahead of its turn: a slot handed from one instance to the next then adds no
 * second's worth of calls to the fleet's pace.
 */
export class WarmupPacer {
  private rate: number;
  private tat: number;
  private updatedAt: number;
  private waiting = 0;

  constructor(
    private readonly ceiling: number,
    private readonly floor: number,
    private readonly clock: Clock,
    random: () => number = Math.random,
    private readonly burst = true,
  ) {
    this.rate = ceiling;
    const now = clock.now();
    this.updatedAt = now;
    this.tat = now + random() * this.interval();
  }

  /** The pace now, in calls per 10 s. */
  get per10s(): number {
    this.grow(this.clock.now());
    return this.rate;
  }

  /** Milliseconds until this call's turn (0: now), or undefined when the queue is full. */
  book(): number | undefined {
    const now = this.clock.now();
    this.grow(now);
    const interval = this.interval();
    const tolerance = this.burst ? Math.floor(this.rate / 10) * interval : 0;
    const tat = Math.max(this.tat, now);
    const wait = Math.max(0, tat - tolerance - now);
    if (wait > WARMUP_QUEUE_MS || (wait > 0 && this.waiting >= WARMUP_QUEUE_MAX)) return undefined;
    this.tat = tat + interval;
    return wait;
  }

  /** Wait for a turn booked with {@link book}. */
  async wait(ms: number, schedule: Schedule): Promise<void> {
    if (ms <= 0) return;
    this.waiting += 1;
    try {
      await new Promise<void>((resolve) => schedule(resolve, ms));
    } finally {
      this.waiting -= 1;
    }
  }

  /** Key Vault answered 429: halve the pace and wait out its Retry-After. */
  throttled(retryAfterMs: number): void {
    const now = this.clock.now();
    this.grow(now);
    this.rate = Math.max(this.floor, this.rate / 2);
    this.tat = Math.max(this.tat, now + retryAfterMs);
  }

  private interval(): number {
    return 10_000 / this.rate;
  }

  private grow(now: number): void {
    this.rate = Math.min(this.ceiling, this.rate + ((now - this.updatedAt) * this.ceiling) / WARMUP_REGAIN_MS);
    this.updatedAt = now;
  }
}

/**
 * The version check's pace (the lease holder asking for the fleet's secrets): 40 calls per 10 s, 1% of Key Vault's
 * 4,000 per vault, from one instance of the fleet at a time; a 500-name check takes about two minutes.
 */
export const CHECK_PER_10S = 40;

/**
 * The warm-up pace of an instance that holds one of the fleet's warm-up slots (the ledger's WARMUP_SLOTS blob
 * leases): 20 calls per second, so 50 names take 2.5 s, within KEY_VAULT_TIMEOUT_MS's default of 4 s. WARMUP_SLOTS ×
 * SLOT_PER_10S = 16 × 200 = 3,200 per 10 s, 80% of Key Vault's 4,000 per vault, is the whole fleet's warm-up pace
 * whatever its size: an instance without a slot waits for one.
 */
export const SLOT_PER_10S = 200;

/**
 * How a call is paid for: `read` (the budget), `background` (the budget, leaving half to reads), `warmup` (the
 * warm-up pacer), `slot` (the warm-up slot's pacer, SLOT_PER_10S), `check` (the version check's own pacer,
 * CHECK_PER_10S).
 */
export type CallKind = 'read' | 'background' | 'warmup' | 'slot' | 'check';

export class VaultCalls {
  private readonly limiters = new Map<string, LimitFunction>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly pacers = new Map<string, WarmupPacer>();
  private readonly checkPacers = new Map<string, WarmupPacer>();
  private readonly slotPacers = new Map<string, WarmupPacer>();
  private readonly vaults = new Map<string, VaultStats>();

  constructor(
    private readonly fetchSecret: SecretFetch,
    private readonly settings: CallSettings,
    private readonly clock: Clock = performance,
    private readonly schedule: Schedule = realSchedule,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * One Key Vault call. Rejects only with a {@link KeyVaultFailure}. A `background` call (a re-read a rotation
   * notice caused) is refused while less than half the budget is left, so notices never spend what reads need. A
   * `warmup` call waits for its turn at the warm-up pacer (KEY_VAULT_TIMEOUT_MS starts when its turn comes).
   */
  async call(ref: SecretReference, { kind = 'read' }: { kind?: CallKind } = {}): Promise<SecretRecord> {
    const stats = this.stats(ref.vaultUrl);
    if (kind === 'warmup' || kind === 'slot' || kind === 'check') {
      const pacer =
        kind === 'check'
          ? this.checkPacer(ref.vaultUrl)
          : kind === 'slot'
            ? this.slotPacer(ref.vaultUrl)
            : this.pacer(ref.vaultUrl);
      const wait = pacer.book();
      if (wait === undefined) {
        stats.warmupRefusals += 1;
        throw new KeyVaultFailure(
          'throttled',
          `This instance's Key Vault warm-up queue is full (KEY_VAULT_WARMUP_PER_10S=${this.settings.warmupPer10s}).`,
          { retryAfterSeconds: 10, errorCode: 'InstanceBudgetSpent' },
        );
      }
      if (wait > 0) stats.warmupWaits += 1;
      await pacer.wait(wait, this.schedule);
    } else {
      const bucket = this.bucket(ref.vaultUrl);
      const budget = bucket.take(kind === 'background' ? bucket.reserve : 0);
      if (!budget.ok) {
        stats.budgetRefusals += 1;
        throw new KeyVaultFailure(
          'throttled',
          `This instance's Key Vault call budget is spent (KEY_VAULT_BUDGET_PER_10S=${this.settings.budgetPer10s}).`,
          { retryAfterSeconds: Math.max(1, Math.ceil(budget.waitMs / 1000)), errorCode: 'InstanceBudgetSpent' },
        );
      }
    }
    const controller = new AbortController();
    let cancelTimer: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      cancelTimer = this.schedule(() => {
        const failure = new KeyVaultFailure(
          'timeout',
          `No answer from Key Vault within ${this.settings.timeoutMs} ms (KEY_VAULT_TIMEOUT_MS).`,
        );
        controller.abort(failure);
        reject(failure);
      }, this.settings.timeoutMs);
    });
    const task = this.limiter(ref.vaultUrl)(async () => {
      if (controller.signal.aborted) throw controller.signal.reason;
      stats.keyVaultCalls += 1;
      return traceCall(ref, () => this.fetchSecret(ref.vaultUrl, ref.name, ref.version, controller.signal));
    });
    try {
      return await Promise.race([task, timeout]);
    } catch (error) {
      const failure =
        error instanceof KeyVaultFailure
          ? error
          : new KeyVaultFailure('unexpected', 'The secret fetch failed without a classified error.');
      if (failure.kind === 'throttled' && failure.statusCode === 429) {
        // Key Vault's own answer: the whole fleet sees it, so every instance's warm-up slows down.
        this.pacer(ref.vaultUrl).throttled((failure.retryAfterSeconds ?? 1) * 1000);
        this.checkPacer(ref.vaultUrl).throttled((failure.retryAfterSeconds ?? 1) * 1000);
        this.slotPacer(ref.vaultUrl).throttled((failure.retryAfterSeconds ?? 1) * 1000);
      }
      stats.lastError = { kind: failure.kind, message: failure.message, at: new Date().toISOString() };
      throw failure;
    } finally {
      cancelTimer?.();
      task.catch(() => undefined);
    }
  }

  /** Per-vault call counts and last errors (copies; never values). */
  snapshot(): Record<string, VaultStats> {
    const out: Record<string, VaultStats> = {};
    for (const [url, s] of this.vaults) {
      const warmupPer10s = this.pacers.get(url)?.per10s ?? this.settings.warmupPer10s;
      out[url] = { ...s, warmupPer10s, lastError: s.lastError && { ...s.lastError } };
    }
    return out;
  }

  private stats(vaultUrl: string): VaultStats {
    let s = this.vaults.get(vaultUrl);
    if (!s) {
      s = {
        keyVaultCalls: 0,
        budgetRefusals: 0,
        warmupWaits: 0,
        warmupRefusals: 0,
        warmupPer10s: this.settings.warmupPer10s,
        lastError: null,
      };
      this.vaults.set(vaultUrl, s);
    }
    return s;
  }

  private bucket(vaultUrl: string): TokenBucket {
    let bucket = this.buckets.get(vaultUrl);
    if (!bucket) {
      bucket = new TokenBucket(this.settings.budgetPer10s, this.clock);
      this.buckets.set(vaultUrl, bucket);
    }
    return bucket;
  }

  private checkPacer(vaultUrl: string): WarmupPacer {
    return this.ownPacer(this.checkPacers, vaultUrl, CHECK_PER_10S);
  }

  private slotPacer(vaultUrl: string): WarmupPacer {
    return this.ownPacer(this.slotPacers, vaultUrl, SLOT_PER_10S, false);
  }

  private ownPacer(pacers: Map<string, WarmupPacer>, vaultUrl: string, per10s: number, burst = true): WarmupPacer {
    let pacer = pacers.get(vaultUrl);
    if (!pacer) {
      pacer = new WarmupPacer(per10s, 1, this.clock, this.random, burst);
      pacers.set(vaultUrl, pacer);
    }
    return pacer;
  }

  private pacer(vaultUrl: string): WarmupPacer {
    let pacer = this.pacers.get(vaultUrl);
    if (!pacer) {
      const { warmupPer10s, budgetPer10s } = this.settings;
      pacer = new WarmupPacer(warmupPer10s, Math.min(warmupPer10s, budgetPer10s), this.clock, this.random);
      this.pacers.set(vaultUrl, pacer);
    }
    return pacer;
  }

  private limiter(vaultUrl: string): LimitFunction {
    let limit = this.limiters.get(vaultUrl);
    if (!limit) {
      limit = pLimit(this.settings.maxConcurrency);
      this.limiters.set(vaultUrl, limit);
    }
    return limit;
  }
}
