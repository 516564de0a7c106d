/**
 * The rotation ledger's public face: start it (at app start, when ROTATION_LEDGER_URL is set) and tell it about a
 * SecretNewVersionCreated event. Light at load time: the Storage SDK and the identity library are imported only
 * when the ledger starts.
 */
import type { AppConfig } from '../config.js';
import type { KeyVaultService } from '../keyVault/index.js';
import type { LedgerStatus, RotationLedger, RotationLedgerOptions } from './rotationLedger.js';
import type { LeaseStore, LedgerStore, SlotStore } from './store.js';
import type { VersionChecker } from './versionCheck.js';
import type { WarmupSlots } from './warmupSlots.js';

export type { LedgerStatus };

let shared: RotationLedger | undefined;

/**
 * Loads `@azure/storage-blob` (an optional peer: its types must not appear in this package's public declarations, or
 * an app without it installed could not compile them). Checked when the ledger starts.
 */
export type StorageSdkLoader = () => Promise<unknown>;
let storageLoader: StorageSdkLoader | undefined;

/**
 * A bundled app that uses the ledger hands the package the Storage SDK with a literal import, so the bundler includes
 * it: `configureRotationLedger({ loadStorageSdk: () => import('@azure/storage-blob') })`.
 */
export function configureRotationLedger(options: { loadStorageSdk?: StorageSdkLoader }): void {
  storageLoader = options.loadStorageSdk;
}
/** The ledger being started (resolves to it, or undefined when it could not start): events wait for it. */
let starting: Promise<RotationLedger | undefined> | undefined;
let settleStarting: ((ledger: RotationLedger | undefined) => void) | undefined;

/**
 * The app will start its ledger (called by the start-up hook before anything it awaits): an event that arrives
 * meanwhile waits for the ledger instead of being dropped.
 */
export function ledgerStarting(): void {
  if (starting !== undefined) return;
  starting = new Promise((resolve) => (settleStarting = resolve));
}

/** Test seams: the store, clocks and timers (by default the blob, the process clocks and unref'd timers). */
export type LedgerSeams = Partial<Pick<RotationLedgerOptions, 'clock' | 'wallClock' | 'schedule' | 'log'>> & {
  /** The ledger's blob, the check's lease blob and the warm-up slots' blobs (a model in tests; slots optional). */
  store?: LedgerStore & LeaseStore & Partial<SlotStore>;
};
let checker: VersionChecker | undefined;
let slots: WarmupSlots | undefined;

/** The process's ledger, or undefined (not configured, or not started yet). */
export function rotationLedger(): RotationLedger | undefined {
  return shared;
}

/**
 * Start the ledger for `service`: poll while it holds secrets, record the versions it reads, switch its TTL with the
 * ledger's health. Returns undefined when ROTATION_LEDGER_URL is not set (behaviour is then exactly as without one).
 */
export async function startRotationLedger(
  service: KeyVaultService,
  config: AppConfig = service.config,
  seams: LedgerSeams = {},
): Promise<RotationLedger | undefined> {
  if (config.ledger === undefined) return undefined;
  ledgerStarting();
  const settle = settleStarting;
  try {
    const ledger = await createLedger(service, config, config.ledger, seams);
    settle?.(ledger);
    return ledger;
  } catch (error) {
    settle?.(undefined);
    throw error;
  } finally {
    if (settleStarting === settle) {
      starting = undefined;
      settleStarting = undefined;
    }
  }
}

async function createLedger(
  service: KeyVaultService,
  config: AppConfig,
  settings: NonNullable<AppConfig['ledger']>,
  seams: LedgerSeams,
): Promise<RotationLedger> {
  shared?.stop();
  checker?.stop();
  void slots?.stop();
  const [
    { RotationLedger },
    { BlobLedgerStore, bindStorageSdk, loadStorageSdk },
    { ledgerTelemetry },
    { storageCredential },
    { VersionChecker },
    { WarmupSlots },
  ] = await Promise.all([
    import('./rotationLedger.js'),
    import('./blobStore.js'),
    import('./telemetry.js'),
    import('../keyVault/index.js'),
    import('./versionCheck.js'),
    import('./warmupSlots.js'),
  ]);
  if (seams.store === undefined) {
    const sdk = await ((storageLoader ?? loadStorageSdk)() as ReturnType<typeof loadStorageSdk>).catch(() => {
      throw new Error(
        'ROTATION_LEDGER_URL is set but @azure/storage-blob is not installed (npm install @azure/storage-blob)',
      );
    });
    bindStorageSdk(sdk);
  }
  const store =
    seams.store ?? new BlobLedgerStore(settings.blobUrl, await storageCredential(config), config.calls.timeoutMs);
  const log = seams.log ?? { warn: (m: string) => console.warn(m), info: (m: string) => console.info(m) };
  const ledger = new RotationLedger({
    target: service,
    pollMs: settings.pollMs,
    timeoutMs: config.calls.timeoutMs,
    log,
    events: ledgerTelemetry(),
    ...seams,
    store,
  });
  service.onVersionSeen((vaultUrl, name, version) => ledger.versionSeen(vaultUrl, name, version));
  ledger.start();
  shared = ledger;
  // The check and the slots run on the same clock and timers as the ledger (virtual ones in tests).
  const timers = {
    ...(seams.clock === undefined ? {} : { clock: seams.clock }),
    ...(seams.schedule === undefined ? {} : { schedule: seams.schedule }),
  };
  // One instance at a time (the lease holder) checks the fleet's secrets against Key Vault (versionCheck.ts).
  checker = new VersionChecker({
    lease: store,
    ledger,
    target: service,
    checkMs: settings.checkMs,
    timeoutMs: config.calls.timeoutMs,
    log,
    ...timers,
  });
  checker.start();
  // First reads take turns at the fleet's warm-up slots (warmupSlots.ts): fast with a slot, waiting without one.
  slots =
    typeof store.acquireSlot === 'function'
      ? new WarmupSlots({
          store: store as SlotStore,
          timeoutMs: config.calls.timeoutMs,
          ...timers,
        })
      : undefined;
  service.useWarmupSlots(slots);
  return ledger;
}

/**
 * A SecretNewVersionCreated event: record its version for the other instances. Resolves true once the ledger holds
 * it (waiting for a ledger still starting), false when there is no ledger here (not configured) or no version; throws
 * when the write failed or timed out, or the ledger could not start, so that the event is delivered again.
 */
export async function recordRotationEvent(vaultUrl: string, name: string, version: string | null): Promise<boolean> {
  if (version === null) return false;
  const wasStarting = shared === undefined && starting !== undefined;
  const ledger = shared ?? (await starting);
  if (ledger === undefined) {
    if (wasStarting) throw new Error('Rotation ledger: could not start on this instance; the event is not recorded.');
    return false;
  }
  await ledger.recordEvent(vaultUrl, name, version);
  return true;
}
