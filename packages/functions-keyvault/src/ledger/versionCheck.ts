/**
 * The fleet's version check: how a rotation whose event was lost, and a secret disabled or deleted in Key Vault (for
 * which Key Vault sends no event), reach every instance in minutes instead of one backstop TTL.
 *
 * - The lease: every instance with the ledger competes for a blob lease on a blob of its own in the ledger's
 *   container (LeaseStore). The holder renews it every LEASE_SECONDS / 3; it counts itself the holder only until
 *   LEASE_SECONDS after the start of its last successful acquire or renew, so a holder whose renewal failed or hangs
 *   stops acting at once, before Azure Storage could give the lease to another instance. A holder that dies is
 *   replaced when its lease expires: the others try to take it every ROTATION_LEDGER_CHECK_SECONDS (jittered), so a
 *   takeover takes at most that plus LEASE_SECONDS.
 * - The check: every ROTATION_LEDGER_CHECK_SECONDS the holder asks Key Vault, through the Key Vault module's public
 *   face (`checkVersions`, warm-up turns), for the latest version of each secret the fleet is known to hold: the
 *   names in the ledger, the names it holds itself, and the exact names of SECRETS_ALLOWED and SECRET_PREFETCH (at
 *   most LEDGER_MAX_ENTRIES). It records in the ledger what differs: a new version (a lost rotation), `disabled`
 *   (403 SecretDisabled, or enabled=false) or `deleted` (404), or enabled again. Every other instance acts on it at
 *   its next poll: it re-reads the new version, or drops the value and refuses reads until the ledger clears it.
 * - Cost: about M Key Vault calls per check for the whole fleet (M secrets), not per instance; the lease costs one
 *   storage request per renewal from the holder and N / ROTATION_LEDGER_CHECK_SECONDS attempts per second from the
 *   others.
 *
 * Hand-written: a few lines on the injected clock and timers, which the simulation and the tests drive; the lease
 * itself is Azure Storage's (BlobLeaseClient in blobStore.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Clock, Logger, SecretReference, VersionCheck } from '../keyVault/index.js';
import { LEDGER_MAX_ENTRIES } from './document.js';
import type { RotationLedger } from './rotationLedger.js';
import type { LeaseStore } from './store.js';

/** The lease's duration (Azure Storage allows 15-60 s) and how often the holder renews it. */
export const LEASE_SECONDS = 30;
const RENEW_MS = (LEASE_SECONDS * 1000) / 3;

/** What the check needs from the Key Vault service (its public face). */
export interface CheckTarget {
  holdsSecrets(): boolean;
  secretsHeld(): Array<{ vaultUrl: string; name: string; version: string | null }>;
  checkVersions(refs: readonly SecretReference[], go?: () => boolean): Promise<VersionCheck[]>;
  readonly config: {
    readonly vaultUrl: string | undefined;
    readonly allowedSecrets: readonly string[];
    readonly prefetch: readonly string[];
  };
}

export interface VersionCheckerOptions {
  lease: LeaseStore;
  ledger: Pick<RotationLedger, 'listed' | 'recordCheck'>;
  target: CheckTarget;
  checkMs: number;
  timeoutMs: number;
  clock?: Clock;
  random?: () => number;
  /** Runs `run` after `ms`; returns a cancel function (virtual timers in the simulation and tests). */
  schedule?: (run: () => void, ms: number) => () => void;
  log?: Logger;
  /** A check finished: how many secrets were asked about and how many entries recorded (tests, simulation). */
  onCheck?: (asked: number, recorded: number) => void;
  leaseId?: string;
}

export class VersionChecker {
  private readonly leaseId: string;
  private holding = false;
  /** This instance counts itself the holder until then (monotonic ms). */
  private heldUntil = -Infinity;
  private nextCheckAt = -Infinity;
  private nextAttemptAt = -Infinity;
  private checking: Promise<void> | undefined;
  private cancelTimer: (() => void) | undefined;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly options: VersionCheckerOptions) {
    this.leaseId = options.leaseId ?? randomUUID();
    this.clock = options.clock ?? performance;
    this.random = options.random ?? Math.random;
  }

  /** Whether this instance may act as the holder now: its lease is held and not past its term. */
  isHolder(): boolean {
    return this.holding && this.clock.now() < this.heldUntil;
  }

  start(): void {
    if (this.cancelTimer !== undefined) return;
    const schedule = this.options.schedule ?? unrefTimeout;
    // The holder wakes to renew; the others only when their next attempt at the lease is due.
    const next = (ms: number) => {
      if (this.cancelTimer === undefined) return;
      this.cancelTimer = schedule(() => void this.tick().finally(() => next(this.nextTickMs())), ms);
    };
    this.cancelTimer = () => undefined;
    next(this.random() * RENEW_MS);
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (this.holding) {
      this.holding = false;
      void this.bounded((signal) => this.options.lease.releaseLease(this.leaseId, signal)).catch(() => undefined);
    }
  }

  private nextTickMs(): number {
    if (this.holding) return RENEW_MS;
    return Math.max(RENEW_MS, this.nextAttemptAt - this.clock.now());
  }

  /** One step: renew (holder) or try to take the lease (others, every check interval), then check when due. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    if (this.holding) {
      await this.renew(now);
    } else if (now >= this.nextAttemptAt && this.options.target.holdsSecrets()) {
      this.nextAttemptAt = now + this.options.checkMs * (0.8 + 0.4 * this.random());
      let taken = false;
      try {
        taken = await this.bounded((signal) => this.options.lease.acquireLease(this.leaseId, LEASE_SECONDS, signal));
      } catch {
        taken = false;
      }
      if (taken) {
        this.holding = true;
        this.heldUntil = now + LEASE_SECONDS * 1000;
        this.options.log?.info('Rotation ledger: this instance holds the check lease.');
      }
    }
    if (this.isHolder() && this.clock.now() >= this.nextCheckAt && this.checking === undefined) {
      this.nextCheckAt = this.clock.now() + this.options.checkMs;
      this.checking = this.check().finally(() => (this.checking = undefined));
    }
  }

  /** Resolves when a check in progress is done (tests, simulation). */
  async settled(): Promise<void> {
    while (this.checking) await this.checking;
  }

  private async renew(startedAt: number): Promise<void> {
    let renewed = false;
    try {
      renewed = await this.bounded((signal) => this.options.lease.renewLease(this.leaseId, signal));
    } catch {
      renewed = false;
    }
    if (renewed && this.holding) {
      this.heldUntil = startedAt + LEASE_SECONDS * 1000;
      return;
    }
    // Lost, or not renewed in time: stop acting as the holder at once; try to take it again like everyone else.
    this.holding = false;
    this.heldUntil = -Infinity;
    this.nextAttemptAt = this.clock.now() + this.options.checkMs * (0.8 + 0.4 * this.random());
  }

  /** The names to check: the ledger's, those held here, the exact names configured; at most LEDGER_MAX_ENTRIES. */
  names(): SecretReference[] {
    const out = new Map<string, SecretReference>();
    const add = (vaultUrl: string, name: string) => {
      const key = `${vaultUrl}|${name.toLowerCase()}`;
      if (out.size < LEDGER_MAX_ENTRIES && !out.has(key)) out.set(key, { vaultUrl, name });
    };
    for (const e of this.options.ledger.listed()) add(e.vaultUrl, e.name);
    for (const s of this.options.target.secretsHeld()) add(s.vaultUrl, s.name);
    const { vaultUrl, allowedSecrets, prefetch } = this.options.target.config;
    if (vaultUrl !== undefined) {
      for (const name of [...allowedSecrets, ...prefetch]) if (!name.endsWith('*')) add(vaultUrl, name);
    }
    return [...out.values()];
  }

  private async check(): Promise<void> {
    const refs = this.names();
    let results: VersionCheck[];
    try {
      results = await this.options.target.checkVersions(refs, () => this.isHolder());
    } catch {
      return;
    }
    // A holder that lost its lease meanwhile records nothing: the new holder checks for itself.
    if (!this.isHolder()) return;
    const recorded = this.options.ledger.recordCheck(results);
    this.options.onCheck?.(refs.length, recorded);
  }

  private bounded<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withTimeout(this.options.timeoutMs, run);
  }
}

/** Runs a storage request with an abort signal that fires after `timeoutMs`. */
export async function withTimeout<T>(timeoutMs: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await run(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

export function unrefTimeout(run: () => void, ms: number): () => void {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
