/**
 * The fleet's warm-up slots: how a joining instance learns that it may warm fast, and a cold fleet still stays under
 * the vault's limit. A counting semaphore of WARMUP_SLOTS blob leases (SlotStore: `<ledger blob>.warmup-<slot>` in the
 * ledger's container). An instance with first reads to make takes a free slot (a random one; 409 = taken), warms at
 * SLOT_PER_10S (callPolicy.ts) every name the fleet is known to use, and releases the slot when done; an instance
 * without one waits and tries again. So the whole fleet warms at most at WARMUP_SLOTS × SLOT_PER_10S = 3,200 calls per
 * 10 s (80% of Key Vault's 4,000), whatever its size, and a lone joiner finds a slot free and warms in seconds.
 *
 * - Leases last SLOT_LEASE_SECONDS (15 s, Azure Storage's shortest) and are renewed every 5 s while in use: a holder
 *   that dies frees its slot within 15 s. A holder counts itself one only until 15 s after the start of its last
 *   successful acquire or renew, as the check lease does (versionCheck.ts).
 * - Waiting: each round tries up to two slots; rounds 0.5 s apart, doubling to 4 s, jittered ±50%. Storage cost: at
 *   most 2 requests per round per instance waiting (about 500 per second from 1,000 instances in a cold start, for
 *   its 2-3 minutes), and 3 per warm-up (acquire, renew, release) otherwise.
 * - A storage failure makes the slots `unavailable` for UNAVAILABLE_MS: warm-up then falls back to the per-instance
 *   pace (KEY_VAULT_WARMUP_PER_10S), as without a ledger.
 *
 * Hand-written: a few lines on the injected clock and timers (the simulation and the tests drive them); the leases
 * themselves are Azure Storage's (BlobLeaseClient in blobStore.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Clock, Schedule, WarmupGate } from '../keyVault/index.js';
import type { SlotStore } from './store.js';
import { unrefTimeout, withTimeout } from './versionCheck.js';

/** How many instances of the fleet warm fast at once (see SLOT_PER_10S in callPolicy.ts). */
export const WARMUP_SLOTS = 16;
export const SLOT_LEASE_SECONDS = 15;
const RENEW_MS = 5_000;
/** After a storage failure, how long warm-up uses the per-instance pace before trying the slots again. */
export const UNAVAILABLE_MS = 60_000;
const FIRST_ROUND_MS = 500;
const MAX_ROUND_MS = 2_000;
const TRIES_PER_ROUND = 2;

export interface WarmupSlotsOptions {
  store: SlotStore;
  timeoutMs: number;
  clock?: Clock;
  schedule?: Schedule;
  random?: () => number;
  leaseId?: string;
  /** How many slots (default WARMUP_SLOTS; tests use fewer). */
  slots?: number;
}

export class WarmupSlots implements WarmupGate {
  private slot: number | undefined;
  private heldUntil = -Infinity;
  private users = 0;
  private acquiring: Promise<'held' | 'busy' | 'unavailable'> | undefined;
  private unavailableUntil = -Infinity;
  private cancelRenew: (() => void) | undefined;
  private readonly leaseId: string;
  private readonly clock: Clock;
  private readonly schedule: Schedule;
  private readonly random: () => number;
  private readonly count: number;

  constructor(private readonly options: WarmupSlotsOptions) {
    this.leaseId = options.leaseId ?? randomUUID();
    this.clock = options.clock ?? performance;
    this.schedule = options.schedule ?? unrefTimeout;
    this.random = options.random ?? Math.random;
    this.count = options.slots ?? WARMUP_SLOTS;
  }

  /** The slot this instance holds now (within its lease term), or undefined. */
  get held(): number | undefined {
    return this.slot !== undefined && this.clock.now() < this.heldUntil ? this.slot : undefined;
  }

  async enter(maxWaitMs: number): Promise<'held' | 'busy' | 'unavailable'> {
    if (this.held !== undefined) {
      this.users += 1;
      return 'held';
    }
    if (this.clock.now() < this.unavailableUntil) return 'unavailable';
    if (maxWaitMs <= 0) return 'busy';
    this.acquiring ??= this.acquire(this.clock.now() + maxWaitMs).finally(() => (this.acquiring = undefined));
    const result = await this.acquiring;
    if (result !== 'held') return result;
    if (this.held === undefined) return 'busy';
    this.users += 1;
    return 'held';
  }

  leave(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users === 0) void this.release();
  }

  /** Give the slot back (app stop; the ledger restarting). */
  stop(): Promise<void> {
    this.users = 0;
    return this.release();
  }

  private async acquire(deadline: number): Promise<'held' | 'busy' | 'unavailable'> {
    for (let round = 0; ; round++) {
      for (const slot of this.pick()) {
        const startedAt = this.clock.now();
        let taken: boolean;
        try {
          taken = await withTimeout(this.options.timeoutMs, (signal) =>
            this.options.store.acquireSlot(slot, this.leaseId, SLOT_LEASE_SECONDS, signal),
          );
        } catch {
          this.unavailableUntil = this.clock.now() + UNAVAILABLE_MS;
          return 'unavailable';
        }
        if (taken) {
          this.slot = slot;
          this.heldUntil = startedAt + SLOT_LEASE_SECONDS * 1000;
          this.renewLater();
          return 'held';
        }
      }
      const wait = Math.min(MAX_ROUND_MS, FIRST_ROUND_MS * 2 ** round) * (0.5 + this.random());
      if (this.clock.now() + wait > deadline) return 'busy';
      await new Promise<void>((resolve) => this.schedule(resolve, wait));
    }
  }

  /** Up to TRIES_PER_ROUND distinct slots, at random. */
  private pick(): number[] {
    const out: number[] = [];
    while (out.length < Math.min(TRIES_PER_ROUND, this.count)) {
      const slot = Math.floor(this.random() * this.count);
      if (!out.includes(slot)) out.push(slot);
    }
    return out;
  }

  private renewLater(): void {
    this.cancelRenew?.();
    this.cancelRenew = this.schedule(() => void this.renew(), RENEW_MS);
  }

  private async renew(): Promise<void> {
    const slot = this.slot;
    if (slot === undefined) return;
    if (this.users === 0) return this.release();
    const startedAt = this.clock.now();
    let renewed = false;
    try {
      renewed = await withTimeout(this.options.timeoutMs, (signal) =>
        this.options.store.renewSlot(slot, this.leaseId, signal),
      );
    } catch {
      renewed = false;
    }
    if (this.slot !== slot) return;
    if (renewed) {
      this.heldUntil = startedAt + SLOT_LEASE_SECONDS * 1000;
      this.renewLater();
    } else {
      // Lost, or not renewed in time: stop warming fast at once; the next first read waits for a slot again.
      this.slot = undefined;
      this.heldUntil = -Infinity;
    }
  }

  private async release(): Promise<void> {
    const slot = this.slot;
    this.cancelRenew?.();
    this.cancelRenew = undefined;
    if (slot === undefined) return;
    this.slot = undefined;
    this.heldUntil = -Infinity;
    try {
      await withTimeout(this.options.timeoutMs, (signal) => this.options.store.releaseSlot(slot, this.leaseId, signal));
    } catch {
      // It expires on its own within SLOT_LEASE_SECONDS.
    }
  }
}
