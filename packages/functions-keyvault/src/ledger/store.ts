/**
 * What the rotation ledger needs from storage: a conditional read and a conditional write of one document. The blob
 * implementation is `blobStore.ts`; the fleet simulation models it. Pure types and one error class.
 */

export type LedgerRead =
  { kind: 'not-modified' } | { kind: 'absent' } | { kind: 'document'; etag: string; text: string };

export interface LedgerStore {
  /** The document, or `not-modified` when it is still at `etag`, or `absent` when it was never written. */
  read(etag: string | undefined, signal: AbortSignal): Promise<LedgerRead>;
  /**
   * Writes `text` if the document is still at `etag` (undefined: only if absent). Returns the new ETag, or false on
   * a conflict (someone wrote first).
   */
  write(text: string, etag: string | undefined, signal: AbortSignal): Promise<string | false>;
}

/** Why the ledger could not be read or written: a word for logs and telemetry, and the HTTP status if any. */
export type LedgerFailureKind =
  | 'denied'
  | 'container-missing'
  | 'failed'
  | 'timeout'
  | 'unreachable'
  | 'too-large'
  /** Writes are refused while the document stays as it was: a lease, or an immutability policy (412/409). */
  | 'locked'
  /** Storage answered with a bearer challenge for another resource or tenant, which the app refuses. */
  | 'token-refused'
  /** Other writers won every attempt of a batch. */
  | 'conflict'
  /** LEDGER_MAX_ENTRIES writes are waiting already. */
  | 'busy';

export class LedgerFailure extends Error {
  constructor(
    readonly kind: LedgerFailureKind,
    readonly statusCode?: number,
    /** `too-large`: the ETag of the blob that could not be read (a write replaces it with If-Match on it). */
    readonly etag?: string,
  ) {
    super(`rotation ledger: ${kind}${statusCode !== undefined ? ` (${statusCode})` : ''}`);
    this.name = 'LedgerFailure';
  }
}

/**
 * A blob lease on a blob of its own next to the ledger (a lease on the ledger blob itself would make every other
 * instance's write fail with 412 LeaseIdMissing). One instance at a time holds it: the one that makes the fleet's
 * version check. Durations are 15-60 s, as Azure Storage allows for a finite lease.
 */
export interface LeaseStore {
  /** Take the lease for `durationS` seconds with this id; false when another id holds it. */
  acquireLease(leaseId: string, durationS: number, signal: AbortSignal): Promise<boolean>;
  /** Extend the lease held with this id; false when it is no longer ours (expired and taken, or broken). */
  renewLease(leaseId: string, signal: AbortSignal): Promise<boolean>;
  /** Give the lease up (on stop), so another instance need not wait for it to expire. */
  releaseLease(leaseId: string, signal: AbortSignal): Promise<void>;
}

/**
 * The fleet's warm-up slots (warmupSlots.ts): WARMUP_SLOTS blob leases on blobs of their own next to the ledger, one
 * per slot (`<ledger blob>.warmup-<slot>`), with the same semantics as {@link LeaseStore}.
 */
export interface SlotStore {
  /** Take slot `slot`'s lease for `durationS` seconds with this id; false when another id holds it (409). */
  acquireSlot(slot: number, leaseId: string, durationS: number, signal: AbortSignal): Promise<boolean>;
  renewSlot(slot: number, leaseId: string, signal: AbortSignal): Promise<boolean>;
  releaseSlot(slot: number, leaseId: string, signal: AbortSignal): Promise<void>;
}
