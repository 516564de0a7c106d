/**
 * The config check's report: what is configured and whether it works, never a value. Plain logic on the Key Vault
 * service's public face, tested without HTTP (test/configReport.test.ts); `src/functions/configCheck.ts` only
 * turns it into a 200 or a 503 problem.
 *
 * - `keyVault`: the vault URL, the credential, and an access probe (a read of a random, non-existent secret name:
 *   Key Vault authorises before it looks up, so a 404 proves `get` permission without any value crossing the wire);
 * - `settings`: each setting in CONFIG_CHECK_SETTINGS, loaded / missing / empty / an unresolved or invalid Key Vault
 *   reference (read with the app's own identity to tell platform resolution from access);
 * - `configuration`, `secrets`, `cache`: setting problems (a malformed value; a setting the code declares required,
 *   with declareSetting(), that is not set), the secrets held and their expiry, the service's stats;
 * - `rotationLedger`: whether the ledger is configured and answering, the cache TTL in force, the last good poll's
 *   age and the last failure as a kind word. Information only: an unhealthy ledger means the cache refreshes on
 *   SECRET_CACHE_TTL_SECONDS, exactly as without one, so it never makes the report degraded.
 */
import { type AppConfig, type ConfigProblem, declaredSettings } from '../config.js';
import {
  type ReportedExpiryNotice,
  isTransient,
  KeyVaultFailure,
  type KeyVaultService,
  type KeyVaultStats,
  referenceStatusWord,
  type SecretState,
  secretState,
} from '../keyVault/index.js';
import { type LedgerStatus, rotationLedger } from '../ledger/index.js';

export type SettingState =
  | 'loaded'
  | 'missing'
  | 'empty'
  | 'unresolved-reference'
  | 'invalid-reference'
  /** A reference to a vault host the app does not trust with its token: not contacted. */
  | 'untrusted-reference'
  /**
   * Locally only: a Key Vault reference the host left as it is (Core Tools try with the developer's own sign-in and
   * leave the literal when that fails; the platform's resolution exists only in Azure) and that the
   * app resolves itself with resolveSetting(). Healthy.
   */
  | 'resolved-by-app';

/** Setting states that count as healthy. */
const HEALTHY: ReadonlySet<SettingState> = new Set(['loaded', 'resolved-by-app']);

export interface SettingReport {
  name: string;
  state: SettingState;
  detail: string | null;
}

export interface ConfigReport {
  status: 'ok' | 'degraded' | 'failed';
  keyVault: {
    configured: boolean;
    url: string | null;
    credential: string;
    reachable: boolean | null;
    canReadSecrets: boolean | null;
    detail: string;
  };
  settings: SettingReport[];
  /** App settings of this app that are malformed or out of range (their defaults are in use). */
  configuration: { problems: ConfigProblem[] };
  /**
   * Every secret this instance has read (referenced ones included), with its expiry as Key Vault reported it and a
   * warning state; and the Key Vault expiry events this instance received. Never values.
   */
  secrets: {
    warningDays: number;
    /** At most MAX_REPORTED_SECRETS, the most urgent first (expired, disabled, not yet valid, expiring, ok). */
    items: Array<{
      vaultUrl: string;
      name: string;
      version: string | null;
      expiresOn: string | null;
      state: SecretState | 'ok';
    }>;
    /** Secrets held but not listed in `items` (beyond MAX_REPORTED_SECRETS). */
    itemsOmitted: number;
    /** Names of held secrets that have expired (all of them, whether listed in `items` or not; at most 20 names). */
    expired: string[];
    /**
     * Expiry events this instance received (at most MAX_EXPIRY_NOTICES). `usedByApp`: the app uses that secret
     * (allowed, prefetched, referenced or read); only those count for health, the others are information.
     */
    events: ReportedExpiryNotice[];
    /** Expiry events dropped to keep at most MAX_EXPIRY_NOTICES. */
    eventsDropped: number;
  };
  cache: KeyVaultStats;
  rotationLedger: RotationLedgerReport;
}

/** The rotation ledger as this instance sees it: fixed fields, kind words and numbers, never a value or a token. */
export interface RotationLedgerReport {
  configured: boolean;
  /**
   * `off`: ROTATION_LEDGER_URL not set (or invalid); `starting`: set, but the ledger is not running on this instance
   * (yet, or it could not start: the start-up log says why); `healthy`: it reads and writes (or no poll was due
   * yet); `unhealthy`: no good answer for the grace period, a read that cannot succeed (malformed or oversized blob,
   * denied, refused token), or writes refused (`writeFailure`).
   */
  state: 'off' | 'starting' | 'healthy' | 'unhealthy';
  /** The blob (no query: a SAS is refused as a setting). */
  url: string | null;
  /** The cache TTL given to values now: `backstop` (SECRET_CACHE_BACKSTOP_TTL_SECONDS) or `normal`. */
  ttl: 'backstop' | 'normal';
  ttlSeconds: number;
  lastGoodPollSecondsAgo: number | null;
  lastFailure: string | null;
  consecutiveFailures: number;
  /** Seconds between polls as things stand (backed off while failing); null when not running. */
  pollIntervalSeconds: number | null;
  entries: number | null;
  pendingWrites: number | null;
  /** Why writes are refused (`denied`, `locked`, `too-large`, `token-refused`, …); null while they work. */
  writeFailure: string | null;
  detail: string;
}

/** A part of the report, and whether retrying could change it (a transient failure was involved). */
interface Part<T> {
  value: T;
  transient: boolean;
}

/** Whether retrying could help: a transient Key Vault or identity failure, or a failed module load. */
function transient(failure: KeyVaultFailure | undefined): boolean {
  return failure !== undefined && (isTransient(failure.kind) || failure.kind === 'unexpected');
}

async function keyVaultReport(service: KeyVaultService): Promise<Part<ConfigReport['keyVault']>> {
  const url = service.vaultUrl;
  const credential = service.identity.credential;
  if (url === undefined) {
    const invalid = service.config.problems.find((p) => p.setting === 'KEY_VAULT_URL' || p.setting === 'KEY_VAULT_URI');
    return {
      transient: false,
      value: {
        configured: false,
        url: null,
        credential,
        reachable: null,
        canReadSecrets: null,
        detail: invalid
          ? `${invalid.message} The secret-read function answers 503 until it is fixed.`
          : 'KEY_VAULT_URL is not set: the secret-read function answers 503 until it is.',
      },
    };
  }
  const probe = await service.probeAccess(url);
  let detail: string;
  if (probe.canReadSecrets) {
    detail = `Key Vault answered and accepts ${service.identity.description} for reading secrets.`;
  } else if (probe.failure?.kind === 'access-denied') {
    detail =
      probe.failure.statusCode === 401
        ? `AccessToKeyVaultDenied: Key Vault answered 401 for ${service.identity.description}: it rejected the ` +
          "token (another audience, issuer or tenant, or expired), so the identity's token source is at fault, " +
          'not its role.'
        : `AccessToKeyVaultDenied: Key Vault answered ${probe.failure.statusCode ?? 403} for ${service.identity.description}. ` +
          'Grant it the role "Key Vault Secrets User" on the vault, or an access policy with secret permission "get".';
  } else {
    const failure = probe.failure ?? new KeyVaultFailure('unexpected', 'The access probe failed.');
    detail = `${referenceStatusWord(failure.kind)}: ${failure.message}`;
  }
  // Without a token the vault was never asked: whether it is reachable is unknown, not false.
  const noToken =
    probe.failure !== undefined &&
    ['not-signed-in', 'identity-unavailable', 'identity-refused'].includes(probe.failure.kind);
  return {
    transient: transient(probe.failure),
    value: {
      configured: true,
      url,
      credential,
      reachable: noToken ? null : probe.reachable,
      canReadSecrets: probe.canReadSecrets,
      detail,
    },
  };
}

async function settingReport(service: KeyVaultService, name: string): Promise<Part<SettingReport>> {
  const resolution = await service.resolveSetting(name);
  const report = (state: SettingState, detail: string | null, isTransient = false) => ({
    transient: isTransient,
    value: { name, state, detail },
  });
  switch (resolution.kind) {
    case 'missing':
      return report('missing', 'The app setting is not set.');
    case 'plain':
      return resolution.value.trim() === ''
        ? report('empty', 'The app setting is set but empty.')
        : report('loaded', null);
    case 'invalid-reference':
      return report('invalid-reference', resolution.reason);
    case 'resolved':
    case 'failed': {
      const { vaultUrl, name: secretName, version } = resolution.reference;
      const target = `secret "${secretName}"${version ? ` version ${version}` : ''} in ${vaultUrl}`;
      const prefix = 'The platform left this Key Vault reference unresolved';
      if (resolution.kind === 'resolved' && !service.config.inAzure) {
        return report(
          'resolved-by-app',
          `Locally the host left this Key Vault reference unresolved (Core Tools only try with your own sign-in); ` +
            `the app reads ${target} itself (resolveSetting), ` +
            'so code that uses resolveSetting() sees the value. In Azure the platform resolves it.',
        );
      }
      if (resolution.kind === 'resolved') {
        return report(
          'unresolved-reference',
          `${prefix}, but the app's own identity can read ${target}, so access works: the app resolves it itself ` +
            "(resolveSetting). In Azure, check the platform side: the reference's identity " +
            '(keyVaultReferenceIdentity), network access from the platform to the vault, and the reference status ' +
            'in the portal.',
        );
      }
      const failure = resolution.failure;
      if (failure.kind === 'untrusted-vault') return report('untrusted-reference', failure.message);
      return report(
        'unresolved-reference',
        `${prefix}, and the app's own identity cannot read ${target} either: ` +
          `${referenceStatusWord(failure.kind)} (${failure.message}).`,
        transient(failure),
      );
    }
  }
}

/** How many held secrets the report lists: the body stays small whatever the cache holds (up to 100,000). */
export const MAX_REPORTED_SECRETS = 100;
/** How many names the report and its summary spell out where a list could be long. */
const MAX_NAMES = 20;

const URGENCY: Record<SecretState | 'ok', number> = {
  expired: 0,
  disabled: 1,
  'not-yet-valid': 2,
  'expires-soon': 3,
  ok: 4,
};

function secretsReport(service: KeyVaultService, now: number): ConfigReport['secrets'] {
  const warnMs = service.config.expiryWarningMs;
  const all = service
    .secretsHeld()
    .map((m) => ({
      vaultUrl: m.vaultUrl,
      name: m.name,
      version: m.version,
      expiresOn: m.expiresOn?.toISOString() ?? null,
      state: secretState(m, now, warnMs) ?? ('ok' as const),
    }))
    .sort((a, b) => URGENCY[a.state] - URGENCY[b.state]);
  return {
    warningDays: warnMs / 86_400_000,
    items: all.slice(0, MAX_REPORTED_SECRETS),
    itemsOmitted: Math.max(0, all.length - MAX_REPORTED_SECRETS),
    expired: all
      .filter((i) => i.state === 'expired')
      .slice(0, MAX_NAMES)
      .map((i) => i.name),
    events: service.expiryEvents(),
    eventsDropped: service.expiryEventsDropped,
  };
}

/** What to do about a ledger failure of this kind (fixed sentences: the report carries no text from storage). */
const LEDGER_HINTS: Record<string, string> = {
  denied:
    "Storage refused the app's identity: grant it Storage Blob Data Contributor on the ledger's container " +
    '(infra/app/rbac.bicep does; a Reader role can read the ledger but not write it).',
  'container-missing': "The ledger's container does not exist: create it (azd up does).",
  invalid: 'The blob is not a ledger: the next rotation this instance records replaces it.',
  'too-large':
    'The blob is larger than a ledger can be: the next rotation this instance records replaces it (or delete the ' +
    'blob).',
  locked:
    'The blob refuses writes while nobody changes it: break its lease, or remove the immutability policy (or ' +
    "legal hold) on the ledger's container.",
  'token-refused':
    'Storage answered with a bearer challenge for another tenant or resource, which the app refuses: check that ' +
    "ROTATION_LEDGER_URL names a storage account in the app's own tenant.",
};

function ledgerReport(service: KeyVaultService, ledger: LedgerStatusSource | undefined): RotationLedgerReport {
  const settings = service.config.ledger;
  const ttl = service.cacheTtl();
  const normalTtl = `SECRET_CACHE_TTL_SECONDS (${service.config.cache.ttlMs / 1000} s)`;
  const base = {
    configured: settings !== undefined,
    url: settings?.blobUrl ?? null,
    ttl: ttl.backstop ? ('backstop' as const) : ('normal' as const),
    ttlSeconds: ttl.ms / 1000,
  };
  if (settings === undefined || ledger === undefined) {
    const invalid = service.config.problems.some((p) => p.setting === 'ROTATION_LEDGER_URL');
    return {
      ...base,
      state: settings === undefined ? 'off' : 'starting',
      lastGoodPollSecondsAgo: null,
      lastFailure: null,
      consecutiveFailures: 0,
      pollIntervalSeconds: null,
      entries: null,
      pendingWrites: null,
      writeFailure: null,
      detail:
        settings !== undefined
          ? `ROTATION_LEDGER_URL is set, but the ledger is not running on this instance (starting, or it could not ` +
            `start: the start-up log says why); secrets are refreshed every ${normalTtl} until it runs.`
          : invalid
            ? `ROTATION_LEDGER_URL is invalid (see configuration.problems): no ledger; secrets are refreshed every ${normalTtl}.`
            : `ROTATION_LEDGER_URL is not set: no ledger; secrets are refreshed every ${normalTtl}.`,
    };
  }
  const status = ledger.status();
  let detail: string;
  if (!status.healthy && status.writeFailure !== null && status.consecutiveFailures === 0) {
    detail =
      `The ledger can be read but this instance's writes are refused (${status.writeFailure}; ${status.pendingWrites} ` +
      `waiting, retried with backoff): the rotations it sees reach no other instance. Reads are not affected: ` +
      `secrets are refreshed every ${normalTtl}, as without a ledger, until writes work again.` +
      (LEDGER_HINTS[status.writeFailure] ? ` ${LEDGER_HINTS[status.writeFailure]}` : '');
  } else if (!status.healthy) {
    detail =
      `No good answer from the ledger (last: ${status.lastFailure ?? 'unknown'}, ${status.consecutiveFailures} ` +
      `failed poll(s) in a row; polling every ${status.pollIntervalSeconds} s while it fails). Reads are not ` +
      `affected: secrets are refreshed every ${normalTtl}, as without a ledger, so a rotation arrives within that ` +
      'TTL instead of a poll interval.' +
      (status.lastFailure !== null && LEDGER_HINTS[status.lastFailure] ? ` ${LEDGER_HINTS[status.lastFailure]}` : '');
  } else if (status.lastGoodPollSecondsAgo === null) {
    detail =
      'No poll yet (polls happen only while this instance holds secrets); the cache uses the backstop TTL ' +
      'unless the first polls find the ledger unreachable.';
  } else {
    detail =
      `The ledger answered ${status.lastGoodPollSecondsAgo} s ago; rotations arrive within a poll interval and ` +
      'the TTL in force is the backstop for a lost event.';
  }
  return {
    ...base,
    state: status.healthy ? 'healthy' : 'unhealthy',
    lastGoodPollSecondsAgo: status.lastGoodPollSecondsAgo,
    lastFailure: status.lastFailure,
    consecutiveFailures: status.consecutiveFailures,
    pollIntervalSeconds: status.pollIntervalSeconds,
    entries: status.entries,
    pendingWrites: status.pendingWrites,
    writeFailure: status.writeFailure,
    detail,
  };
}

/** Expired secrets the app uses: held ones past their expiry, and expiry events about secrets it uses. */
function expiredInUse(report: Omit<ConfigReport, 'status'>): string[] {
  const names = [
    ...report.secrets.expired,
    ...report.secrets.events.filter((e) => e.event === 'expired' && e.usedByApp).map((e) => e.name),
  ];
  return [...new Set(names)];
}

/** The ledger's health is not the app's: an unhealthy ledger means the normal TTL, as without one (see the header). */
function overallStatus(report: Omit<ConfigReport, 'status'>): ConfigReport['status'] {
  if (report.keyVault.configured && !report.keyVault.canReadSecrets) return 'failed';
  if (
    !report.keyVault.configured ||
    report.settings.some((s) => !HEALTHY.has(s.state)) ||
    report.configuration.problems.length > 0 ||
    // An expired secret is still served by Key Vault, but whatever it unlocks has probably stopped working. A
    // secret the app does not use (a shared vault's events cover every secret in it) is not this app's health.
    expiredInUse(report).length > 0
  ) {
    return 'degraded';
  }
  return 'ok';
}

/** A report, and whether retrying could change it (a transient failure was involved). */
export interface ConfigReportResult {
  report: ConfigReport;
  retryable: boolean;
}

/** What the report reads of the rotation ledger (the process's ledger by default; tests pass their own). */
export interface LedgerStatusSource {
  status(): LedgerStatus;
}

/**
 * Build the report from the service: probe the vault and resolve the listed settings concurrently. Throws only when
 * the service itself breaks its contract; every Key Vault or identity failure is part of the report.
 */
/**
 * One problem per setting the code declares required (declareSetting) that this configuration leaves unset: in
 * Azure that is a setting infra/main.bicep does not set, and the function reading it would see undefined.
 */
export function missingDeclaredSettings(config: AppConfig): ConfigProblem[] {
  return declaredSettings()
    .filter((d) => d.required && !config.setting(d.name)?.trim())
    .map((d) => ({
      setting: d.name,
      message: `${d.name} is not set: the code that reads it declares it required (${d.meaning}).`,
    }));
}

export async function buildConfigReport(
  service: KeyVaultService,
  now = Date.now(),
  ledger: LedgerStatusSource | undefined = rotationLedger(),
): Promise<ConfigReportResult> {
  const [keyVaultPart, settingParts] = await Promise.all([
    keyVaultReport(service),
    Promise.all(service.config.configCheckSettings.map((name) => settingReport(service, name))),
  ]);
  const partial = {
    keyVault: keyVaultPart.value,
    settings: settingParts.map((p) => p.value),
    configuration: { problems: [...service.config.problems, ...missingDeclaredSettings(service.config)] },
    secrets: secretsReport(service, now),
    cache: service.stats(),
    rotationLedger: ledgerReport(service, ledger),
  };
  return {
    report: { status: overallStatus(partial), ...partial },
    retryable: keyVaultPart.transient || settingParts.some((p) => p.transient),
  };
}

/** One sentence per thing that is wrong, for the problem's `detail` (empty when the report is ok). */
export function reportSummary(report: ConfigReport): string {
  const { keyVault } = report;
  return [
    !keyVault.configured || !keyVault.canReadSecrets ? keyVault.detail : undefined,
    ...report.settings.filter((s) => !HEALTHY.has(s.state)).map((s) => `${s.name}: ${s.state}`),
    ...report.configuration.problems.map((p) => p.message),
    ...expiredInUse(report)
      .slice(0, MAX_NAMES)
      .map((name) => `Secret ${name} has expired.`),
  ]
    .filter((part) => part !== undefined)
    .join(' ');
}

/** The one-line log of a report: the status and each setting's state, never a value. */
export function reportLogLine(report: ConfigReport): string {
  const settings = report.settings.map((s) => `${s.name}=${s.state}`).join(', ') || 'no settings listed';
  const problems = report.configuration.problems.length;
  const { state, lastFailure, writeFailure, consecutiveFailures } = report.rotationLedger;
  const why =
    writeFailure !== null && consecutiveFailures === 0 ? `writes ${writeFailure}` : (lastFailure ?? 'unknown');
  const ledger = state === 'unhealthy' ? `; rotation ledger unhealthy (${why})` : '';
  return `Config check: ${report.status}; ${settings}${problems ? `; ${problems} setting problem(s)` : ''}${ledger}.`;
}
