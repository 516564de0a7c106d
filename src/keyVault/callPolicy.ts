/**
 * The call policy: how one Key Vault call is made. Each call is bounded by KEY_VAULT_TIMEOUT_MS (time spent
 * queued included), by a per-vault concurrency limit (p-limit) and by this instance's per-vault budget
 * (KEY_VAULT_BUDGET_PER_10S, a token bucket), and counted per vault for the config check. When the budget is spent
 * the call fails at once as `throttled` with the time to the next token, without reaching Key Vault: the cache then
 * serves what it has (stale within its bound) and uncached names get 503 + Retry-After. The fetch itself is injected
 * (the SDK adapter, or a test double), so this module never touches the network.
 *
 * The token bucket is a few lines written here rather than a library: it must run on the injected clock (the fleet
 * simulation in `npm run bench` runs an hour of virtual time in seconds), which the npm rate limiters do not offer.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { CallSettings } from '../config.js';
import type { Clock, SecretFetch, SecretRecord, SecretReference } from './contract.js';
import { type FailureKind, KeyVaultFailure } from './failure.js';
import { traceCall } from './telemetry.js';

export interface VaultStats {
  keyVaultCalls: number;
  /** Calls refused without reaching Key Vault because this instance's budget was spent. */
  budgetRefusals: number;
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

export class VaultCalls {
  private readonly limiters = new Map<string, LimitFunction>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly vaults = new Map<string, VaultStats>();

  constructor(
    private readonly fetchSecret: SecretFetch,
    private readonly settings: CallSettings,
    private readonly clock: Clock = performance,
  ) {}

  /**
   * One Key Vault call. Rejects only with a {@link KeyVaultFailure}. A `background` call (a re-read a rotation
   * notice caused) is refused while less than half the budget is left, so notices never spend what reads need.
   */
  async call(ref: SecretReference, { background = false }: { background?: boolean } = {}): Promise<SecretRecord> {
    const stats = this.stats(ref.vaultUrl);
    const bucket = this.bucket(ref.vaultUrl);
    const budget = bucket.take(background ? bucket.reserve : 0);
    if (!budget.ok) {
      stats.budgetRefusals += 1;
      throw new KeyVaultFailure(
        'throttled',
        `This instance's Key Vault call budget is spent (KEY_VAULT_BUDGET_PER_10S=${this.settings.budgetPer10s}).`,
        { retryAfterSeconds: Math.max(1, Math.ceil(budget.waitMs / 1000)), errorCode: 'InstanceBudgetSpent' },
      );
    }
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
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
      stats.lastError = { kind: failure.kind, message: failure.message, at: new Date().toISOString() };
      throw failure;
    } finally {
      clearTimeout(timer);
      task.catch(() => undefined);
    }
  }

  /** Per-vault call counts and last errors (copies; never values). */
  snapshot(): Record<string, VaultStats> {
    const out: Record<string, VaultStats> = {};
    for (const [url, s] of this.vaults) out[url] = { ...s, lastError: s.lastError && { ...s.lastError } };
    return out;
  }

  private stats(vaultUrl: string): VaultStats {
    let s = this.vaults.get(vaultUrl);
    if (!s) {
      s = { keyVaultCalls: 0, budgetRefusals: 0, lastError: null };
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

  private limiter(vaultUrl: string): LimitFunction {
    let limit = this.limiters.get(vaultUrl);
    if (!limit) {
      limit = pLimit(this.settings.maxConcurrency);
      this.limiters.set(vaultUrl, limit);
    }
    return limit;
  }
}
