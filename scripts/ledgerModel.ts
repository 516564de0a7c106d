/**
 * An in-memory model of the rotation ledger's blob (ETags, conditional GET → not-modified, If-Match writes, an
 * outage switch, request counts per second): the fleet simulation's storage account, and the tests' fast stand-in.
 * The real store, against Azurite, is tested in test/ledger.azurite.test.ts.
 */
import { LedgerFailure, type LedgerRead, type LedgerStore } from '../src/ledger/store.js';

export class LedgerModel implements LedgerStore {
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

  /** Highest requests in any one second from `fromS` to `toS` (whole seconds of `now()`). */
  peakPerSecond(fromS = -Infinity, toS = Infinity): number {
    let peak = 0;
    for (const [s, n] of this.perSecond) if (s >= fromS && s < toS) peak = Math.max(peak, n);
    return peak;
  }
}
