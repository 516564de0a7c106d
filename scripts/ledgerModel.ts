/**
 * An in-memory model of the rotation ledger's blob (ETags, conditional GET → not-modified, If-Match writes, an
 * outage switch, request counts per second) and of the check lease's blob (one lease id at a time, expiring after its
 * duration on `now()`, renewable by its id while no other id took it, as Azure Storage's blob lease): the fleet
 * simulation's storage account, and the tests' fast stand-in. The warm-up slots' blobs are leases the same way, one per
 * slot. The real store, against Azurite, is tested in
 * test/ledger.azurite.test.ts.
 */
import {
  type LeaseStore,
  LedgerFailure,
  type LedgerRead,
  type LedgerStore,
  type SlotStore,
} from 'functions-keyvault/internal/ledger/store.js';

/** One blob's lease: the id holding it, until when, for how long it was taken. */
interface Lease {
  id: string;
  until: number;
  durationS: number;
}

export class LedgerModel implements LedgerStore, LeaseStore, SlotStore {
  /** The warm-up slots' leases, by slot, and the requests made for them. */
  private readonly slots = new Map<number, Lease>();
  slotRequests = 0;
  private lease: { id: string; until: number } | undefined;
  leaseRequests = 0;
  /** Lease requests fail (as `unreachable`) while true, the ledger blob still answering. */
  leaseDown = false;
  private text: string | undefined;
  private version = 0;
  /** Every request fails (as `unreachable`) while true. */
  down = false;
  reads = 0;
  notModified = 0;
  writes = 0;
  conflicts = 0;
  /** Requests per whole second of `now()` (for the fleet's storage requests per second). */
  readonly perSecond = new Map<number, number>();

  constructor(private readonly now: () => number = Date.now) {}

  private count(): void {
    const s = Math.floor(this.now() / 1000);
    this.perSecond.set(s, (this.perSecond.get(s) ?? 0) + 1);
    if (this.down) throw new LedgerFailure('unreachable');
  }

  private get etag(): string {
    return `"${this.version}"`;
  }

  /** The stored document, as a reader would see it. */
  get document(): string | undefined {
    return this.text;
  }

  /** Replace the document from outside (a forged or malformed ledger). */
  overwrite(text: string): void {
    this.text = text;
    this.version += 1;
  }

  read(etag: string | undefined): Promise<LedgerRead> {
    return Promise.resolve().then((): LedgerRead => {
      this.count();
      this.reads += 1;
      if (this.text === undefined) return { kind: 'absent' };
      if (etag === this.etag) {
        this.notModified += 1;
        return { kind: 'not-modified' };
      }
      return { kind: 'document', etag: this.etag, text: this.text };
    });
  }

  write(text: string, etag: string | undefined): Promise<string | false> {
    return Promise.resolve().then(() => {
      this.count();
      this.writes += 1;
      const matches = etag === undefined ? this.text === undefined : etag === this.etag;
      if (!matches) {
        this.conflicts += 1;
        return false;
      }
      this.overwrite(text);
      return this.etag;
    });
  }

  private leaseCount(): void {
    this.count();
    this.leaseRequests += 1;
    if (this.leaseDown) throw new LedgerFailure('unreachable');
  }

  /** The lease id holding the lease now, if any. */
  get leaseHolder(): string | undefined {
    return this.lease !== undefined && this.lease.until > this.now() ? this.lease.id : undefined;
  }

  acquireLease(leaseId: string, durationS: number): Promise<boolean> {
    return Promise.resolve().then(() => {
      this.leaseCount();
      const holder = this.leaseHolder;
      if (holder !== undefined && holder !== leaseId) return false;
      this.lease = { id: leaseId, until: this.now() + durationS * 1000 };
      this.durationS = durationS;
      return true;
    });
  }

  private durationS = 0;

  renewLease(leaseId: string): Promise<boolean> {
    return Promise.resolve().then(() => {
      this.leaseCount();
      // Azure Storage renews an expired lease too, as long as no other id took it meanwhile.
      if (this.lease?.id !== leaseId) return false;
      this.lease = { id: leaseId, until: this.now() + this.durationS * 1000 };
      return true;
    });
  }

  releaseLease(leaseId: string): Promise<void> {
    return Promise.resolve().then(() => {
      this.leaseCount();
      if (this.lease?.id === leaseId) this.lease = undefined;
    });
  }

  /** The lease id holding warm-up slot `slot` now, if any. */
  slotHolder(slot: number): string | undefined {
    const lease = this.slots.get(slot);
    return lease !== undefined && lease.until > this.now() ? lease.id : undefined;
  }

  acquireSlot(slot: number, leaseId: string, durationS: number): Promise<boolean> {
    return Promise.resolve().then(() => {
      this.slotCount();
      const holder = this.slotHolder(slot);
      if (holder !== undefined && holder !== leaseId) return false;
      this.slots.set(slot, { id: leaseId, until: this.now() + durationS * 1000, durationS });
      return true;
    });
  }

  renewSlot(slot: number, leaseId: string): Promise<boolean> {
    return Promise.resolve().then(() => {
      this.slotCount();
      const lease = this.slots.get(slot);
      if (lease?.id !== leaseId) return false;
      lease.until = this.now() + lease.durationS * 1000;
      return true;
    });
  }

  releaseSlot(slot: number, leaseId: string): Promise<void> {
    return Promise.resolve().then(() => {
      this.slotCount();
      if (this.slots.get(slot)?.id === leaseId) this.slots.delete(slot);
    });
  }

  private slotCount(): void {
    this.slotRequests += 1;
    this.count();
  }

  /** Highest requests in any one second from `fromS` to `toS` (whole seconds of `now()`). */
  peakPerSecond(fromS = -Infinity, toS = Infinity): number {
    let peak = 0;
    for (const [s, n] of this.perSecond) if (s >= fromS && s < toS) peak = Math.max(peak, n);
    return peak;
  }
}
