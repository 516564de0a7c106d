/**
 * The ledger's storage: one block blob, read with a conditional GET (If-None-Match: the last ETag → 304, no body) and
 * written with optimistic concurrency (If-Match: the ETag it was read at, or If-None-Match: * to create it), through
 * `@azure/storage-blob` with the app's TokenCredential. The only module that imports the Storage SDK; loaded lazily,
 * only when ROTATION_LEDGER_URL is set.
 *
 * Bounded: a body larger than LEDGER_MAX_BYTES is not read (the stream is dropped after the headers say so), every
 * request is cut at the timeout, and the SDK retries at most once.
 *
 * A bearer challenge is answered without a new token (`ChallengeBoundCredential`, hand-written, a few lines): the SDK
 * answers a 401 naming another tenant or resource by asking its token cycler for that scope, and while the cycler
 * holds a current token it retries a refused request every 3 s until that token expires (an hour or more), ignoring
 * the request's abort signal. Handed the token the request already carried, the SDK sends it once more, gets the
 * same 401, and the request ends there (`token-refused`); the next request asks for the storage token afresh.
 *
 * The check lease (versionCheck.ts) is Azure Storage's blob lease (BlobLeaseClient) on a blob of its own,
 * `<ledger blob>.lease` in the same container, created empty on first use: a lease on the ledger blob itself would
 * make every other instance's write fail with 412 LeaseIdMissing. The app's role on the container (Storage Blob Data
 * Contributor) allows leases (they are blob writes). The fleet's warm-up slots (warmupSlots.ts) are blob leases the
 * same way, on `<ledger blob>.warmup-<slot>`.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type * as StorageSdk from '@azure/storage-blob';
import type { BlockBlobClient as BlockBlobClientType, StoragePipelineOptions } from '@azure/storage-blob';

// The Storage SDK (an optional peer dependency), bound by bindStorageSdk() before the first store is made: this module
// never names it in an import a bundler follows, so an app without the ledger neither installs nor bundles it.
let BlockBlobClient: typeof StorageSdk.BlockBlobClient;
let RestError: typeof StorageSdk.RestError;
let StorageBlobAudience: typeof StorageSdk.StorageBlobAudience;

/** Binds the Storage SDK module this file uses (the ledger's start does, with the app's loader or its own). */
export function bindStorageSdk(sdk: typeof StorageSdk): void {
  ({ BlockBlobClient, RestError, StorageBlobAudience } = sdk);
}

const STORAGE_SDK = '@azure/storage-blob';
/** The default loader: a specifier in a variable, which bundlers leave alone (resolved from node_modules at run time). */
export const loadStorageSdk = (): Promise<typeof StorageSdk> => import(STORAGE_SDK) as Promise<typeof StorageSdk>;
import { LEDGER_MAX_BYTES } from './document.js';
import { type LeaseStore, LedgerFailure, type LedgerRead, type LedgerStore, type SlotStore } from './store.js';

/**
 * The storage token only, for the blob's own host: a challenge for another scope or tenant gets the token the request
 * already carried (the host had it; nothing new is asked for or sent anywhere), so the SDK's retry ends at once.
 */
class ChallengeBoundCredential implements TokenCredential {
  private last: AccessToken | undefined;
  /** Challenges refused so far (a 401 after one of these is `token-refused`). */
  refusals = 0;

  constructor(private readonly inner: TokenCredential) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const list = Array.isArray(scopes) ? scopes : [scopes];
    const storageScope: string = StorageBlobAudience.StorageOAuthScopes;
    const own = list.every((s) => s === storageScope) && options?.tenantId === undefined;
    if (own) {
      const token = await this.inner.getToken(scopes, options);
      this.last = token ?? undefined;
      return token;
    }
    this.refusals += 1;
    if (this.last !== undefined && this.last.expiresOnTimestamp > Date.now()) return this.last;
    throw new LedgerFailure('token-refused');
  }
}

function failureOf(error: unknown, refused = false): LedgerFailure {
  if (error instanceof LedgerFailure) return error;
  const status = error instanceof RestError ? error.statusCode : undefined;
  if (refused && (status === 401 || status === undefined)) return new LedgerFailure('token-refused', status);
  if (status === 401 || status === 403) return new LedgerFailure('denied', status);
  if (status === 404) return new LedgerFailure('container-missing', status); // the blob's own 404 is handled
  if (status !== undefined) return new LedgerFailure('failed', status);
  if ((error as { name?: string })?.name === 'AbortError') return new LedgerFailure('timeout');
  return new LedgerFailure('unreachable');
}

async function readCapped(stream: NodeJS.ReadableStream | undefined, etag: string | undefined): Promise<string> {
  if (stream === undefined) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LEDGER_MAX_BYTES) {
      (stream as { destroy?: () => void }).destroy?.();
      throw new LedgerFailure('too-large', undefined, etag);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The lease blob's URL: the ledger blob's, with `.lease` (or another suffix: `warmup-<slot>`) added to its name. */
export function leaseBlobUrl(blobUrl: string, suffix = 'lease'): string {
  const url = new URL(blobUrl);
  url.pathname = `${url.pathname}.${suffix}`;
  return url.toString();
}

const isStatus = (error: unknown, ...statuses: number[]) =>
  error instanceof RestError && statuses.includes(error.statusCode ?? 0);

export class BlobLedgerStore implements LedgerStore, LeaseStore, SlotStore {
  private readonly blob: BlockBlobClientType;
  private readonly credential: ChallengeBoundCredential;
  private readonly leaseBlob: BlockBlobClientType;
  private readonly slotBlobs = new Map<number, BlockBlobClientType>();
  private readonly options: StoragePipelineOptions;

  constructor(blobUrl: string, credential: TokenCredential, timeoutMs: number) {
    const options: StoragePipelineOptions = {
      retryOptions: { maxTries: 2, tryTimeoutInMs: timeoutMs, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 },
    };
    this.credential = new ChallengeBoundCredential(credential);
    this.blob = new BlockBlobClient(blobUrl, this.credential, options);
    this.leaseBlob = new BlockBlobClient(leaseBlobUrl(blobUrl), this.credential, options);
    this.options = options;
  }

  acquireLease(leaseId: string, durationS: number, signal: AbortSignal): Promise<boolean> {
    return this.acquireOn(this.leaseBlob, leaseId, durationS, signal);
  }

  renewLease(leaseId: string, signal: AbortSignal): Promise<boolean> {
    return this.renewOn(this.leaseBlob, leaseId, signal);
  }

  releaseLease(leaseId: string, signal: AbortSignal): Promise<void> {
    return this.releaseOn(this.leaseBlob, leaseId, signal);
  }

  acquireSlot(slot: number, leaseId: string, durationS: number, signal: AbortSignal): Promise<boolean> {
    return this.acquireOn(this.slotBlob(slot), leaseId, durationS, signal);
  }

  renewSlot(slot: number, leaseId: string, signal: AbortSignal): Promise<boolean> {
    return this.renewOn(this.slotBlob(slot), leaseId, signal);
  }

  releaseSlot(slot: number, leaseId: string, signal: AbortSignal): Promise<void> {
    return this.releaseOn(this.slotBlob(slot), leaseId, signal);
  }

  private slotBlob(slot: number): BlockBlobClientType {
    let blob = this.slotBlobs.get(slot);
    if (blob === undefined) {
      blob = new BlockBlobClient(leaseBlobUrl(this.blob.url, `warmup-${slot}`), this.credential, this.options);
      this.slotBlobs.set(slot, blob);
    }
    return blob;
  }

  private async acquireOn(blob: BlockBlobClientType, leaseId: string, durationS: number, signal: AbortSignal) {
    const lease = blob.getBlobLeaseClient(leaseId);
    try {
      await lease.acquireLease(durationS, { abortSignal: signal });
      return true;
    } catch (error) {
      if (isStatus(error, 409)) return false; // LeaseAlreadyPresent: another instance holds it
      if (!(error instanceof RestError && error.statusCode === 404 && error.code === 'BlobNotFound')) {
        throw failureOf(error);
      }
    }
    try {
      // First use: create the (empty) lease blob; someone else creating it first is as good.
      await blob.upload('', 0, { abortSignal: signal, conditions: { ifNoneMatch: '*' } });
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw failureOf(error);
    }
    try {
      await lease.acquireLease(durationS, { abortSignal: signal });
      return true;
    } catch (error) {
      if (isStatus(error, 409)) return false;
      throw failureOf(error);
    }
  }

  private async renewOn(blob: BlockBlobClientType, leaseId: string, signal: AbortSignal): Promise<boolean> {
    try {
      await blob.getBlobLeaseClient(leaseId).renewLease({ abortSignal: signal });
      return true;
    } catch (error) {
      // 409: the lease is another id's now (ours expired and was taken), or was broken.
      if (isStatus(error, 409, 412)) return false;
      throw failureOf(error);
    }
  }

  private async releaseOn(blob: BlockBlobClientType, leaseId: string, signal: AbortSignal): Promise<void> {
    try {
      await blob.getBlobLeaseClient(leaseId).releaseLease({ abortSignal: signal });
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw failureOf(error);
    }
  }

  async read(etag: string | undefined, signal: AbortSignal): Promise<LedgerRead> {
    const refusals = this.credential.refusals;
    try {
      const response = await this.blob.download(0, undefined, {
        abortSignal: signal,
        conditions: etag === undefined ? {} : { ifNoneMatch: etag },
      });
      if (response._response.status === 304) return { kind: 'not-modified' };
      if ((response.contentLength ?? 0) > LEDGER_MAX_BYTES) {
        (response.readableStreamBody as { destroy?: () => void } | undefined)?.destroy?.();
        throw new LedgerFailure('too-large', undefined, response.etag);
      }
      const text = await readCapped(response.readableStreamBody, response.etag);
      return { kind: 'document', etag: response.etag ?? '', text };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 304) return { kind: 'not-modified' };
      if (error instanceof RestError && error.statusCode === 404 && error.code === 'BlobNotFound') {
        return { kind: 'absent' };
      }
      throw failureOf(error, this.credential.refusals !== refusals);
    }
  }

  async write(text: string, etag: string | undefined, signal: AbortSignal): Promise<string | false> {
    const body = Buffer.from(text, 'utf8');
    if (body.length > LEDGER_MAX_BYTES) throw new LedgerFailure('too-large');
    const refusals = this.credential.refusals;
    try {
      const response = await this.blob.upload(body, body.length, {
        abortSignal: signal,
        conditions: etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag },
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      return response.etag ?? '';
    } catch (error) {
      // 412: someone wrote since our read; 409: someone created it first.
      // (A lease or an immutability policy answers 412/409 too: the ledger tells them apart by re-reading.)
      if (error instanceof RestError && (error.statusCode === 412 || error.statusCode === 409)) return false;
      throw failureOf(error, this.credential.refusals !== refusals);
    }
  }
}
