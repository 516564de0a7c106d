/**
 * The rotation ledger's public face: start it (at app start, when ROTATION_LEDGER_URL is set) and tell it about a
 * SecretNewVersionCreated event. Light at load time: the Storage SDK and the identity library are imported only
 * when the ledger starts.
 */
import type { AppConfig } from '../config.js';
import type { KeyVaultService } from '../keyVault/index.js';
import type { LedgerStatus, RotationLedger } from './rotationLedger.js';
import type { VersionChecker } from './versionCheck.js';

export type { LedgerStatus };

let shared: RotationLedger | undefined;
let checker: VersionChecker | undefined;

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
): Promise<RotationLedger | undefined> {
  if (config.ledger === undefined) return undefined;
  shared?.stop();
  checker?.stop();
  const [{ RotationLedger }, { BlobLedgerStore }, { ledgerTelemetry }, { storageCredential }, { VersionChecker }] =
    await Promise.all([
      import('./rotationLedger.js'),
      import('./blobStore.js'),
      import('./telemetry.js'),
      import('../keyVault/index.js'),
      import('./versionCheck.js'),
    ]);
  const credential = await storageCredential(config);
  const store = new BlobLedgerStore(config.ledger.blobUrl, credential, config.calls.timeoutMs);
  const log = { warn: (m: string) => console.warn(m), info: (m: string) => console.info(m) };
  const ledger = new RotationLedger({
    store,
    target: service,
    pollMs: config.ledger.pollMs,
    timeoutMs: config.calls.timeoutMs,
    log,
    events: ledgerTelemetry(),
  });
  service.onVersionSeen((vaultUrl, name, version) => ledger.versionSeen(vaultUrl, name, version));
  ledger.start();
  shared = ledger;
  // One instance at a time (the lease holder) checks the fleet's secrets against Key Vault (versionCheck.ts).
  checker = new VersionChecker({
    lease: store,
    ledger,
    target: service,
    checkMs: config.ledger.checkMs,
    timeoutMs: config.calls.timeoutMs,
    log,
  });
  checker.start();
  return ledger;
}

/** A SecretNewVersionCreated event: record its version for the other instances (no-op without a ledger). */
export function recordRotationEvent(vaultUrl: string, name: string, version: string | null): boolean {
  if (shared === undefined || version === null) return false;
  shared.rotationEvent(vaultUrl, name, version);
  return true;
}
