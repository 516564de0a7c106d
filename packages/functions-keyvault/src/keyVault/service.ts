/**
 * The Key Vault service: wires the configuration, the credential choice, the cache policy, the call policy and the
 * SDK adapter together, and answers the questions the functions ask (read a secret, resolve a reference, probe
 * access, report statistics).
 *
 * Light at load time on purpose: the cache (lru-cache), the call policy (p-limit) and the SDK are imported on the
 * first Key Vault call, so ping and module load (cold start) pay for none of them. A failed load is not
 * remembered: the next call tries again.
 */
import { randomUUID } from 'node:crypto';
import { type AppConfig, isSecretAllowed } from '../config.js';
import type { VaultStats, VaultCalls } from './callPolicy.js';
import type {
  Clock,
  Logger,
  Schedule,
  SecretFetch,
  SecretMetadata,
  SecretRead,
  SecretRecord,
  SecretReference,
  WarmupGate,
} from './contract.js';
import { KeyVaultFailure, vaultAnswered } from './failure.js';
import { chooseIdentity, type IdentityChoice } from './identity.js';
import { looksLikeReference, parseKeyVaultReference } from './references.js';
import type { CacheStats, Revocation, RotationOutcome, SecretCache } from './secretCache.js';

export type { Revocation, RotationOutcome };

/**
 * What the lease holder's version check found for one secret: its latest version (`enabled`), or that Key Vault
 * called it disabled (403 SecretDisabled, or a record with enabled=false) or deleted (404); `unknown` when Key Vault
 * did not answer for it (timeout, 5xx, throttled, access denied): nothing is concluded then. Never a value.
 */
export interface VersionCheck {
  vaultUrl: string;
  name: string;
  state: 'enabled' | Revocation | 'unknown';
  version: string | null;
}

export interface KeyVaultOptions {
  config: AppConfig;
  /** Test seam: replaces the SDK adapter's fetch (it must throw only KeyVaultFailure). */
  fetchSecret?: SecretFetch;
  /** Test seam: replaces how the SDK adapter is loaded (by default a dynamic import of `secretClient.ts`). */
  loadFetch?: () => Promise<SecretFetch>;
  clock?: Clock;
  /** Timers on `clock` (warm-up turns, call timeouts); default real timers. */
  schedule?: Schedule;
  /** Jitter source (refresh ahead, warm-up); default Math.random. */
  random?: () => number;
  log?: Logger;
}

/** How many names the rotation ledger lists that an instance remembers as the fleet's (for the warm-up allowance). */
const MAX_FLEET_NAMES = 1_000;

/** Key Vault returned this version as the latest of a secret (names and version ids only, never a value). */
export type VersionSeen = (vaultUrl: string, name: string, version: string) => void;

export interface AccessProbe {
  reachable: boolean;
  canReadSecrets: boolean;
  failure?: KeyVaultFailure;
}

export interface KeyVaultStats extends CacheStats {
  keyVaultCalls: number;
  vaults: Record<string, VaultStats>;
}

/** A Key Vault event saying a secret is about to expire or has expired. */
export interface ExpiryNotice {
  vaultUrl: string;
  name: string;
  version: string | null;
  event: 'near-expiry' | 'expired';
  /** When the secret expires (from the event's EXP field), if given. */
  expiresOn: string | null;
  receivedAt: string;
}

/** An expiry notice as reported: whether the app uses that secret (only then does it count for health). */
export interface ReportedExpiryNotice extends ExpiryNotice {
  usedByApp: boolean;
}

/**
 * How many expiry notices an instance keeps. A vault's system topic publishes for every secret in it, so a shared
 * vault can send any number: past this bound the oldest notice about a secret the app does not use goes first
 * (then the oldest of all), and the count of dropped ones is kept instead.
 */
export const MAX_EXPIRY_NOTICES = 100;

/** What an app setting holds, with a Key Vault reference resolved through the cache. */
export type SettingResolution =
  | { kind: 'missing' }
  | { kind: 'plain'; value: string }
  | { kind: 'invalid-reference'; reason: string }
  | { kind: 'resolved'; reference: SecretReference; read: SecretRead }
  | { kind: 'failed'; reference: SecretReference; failure: KeyVaultFailure };

interface Engine {
  cache: SecretCache;
  calls: VaultCalls;
  telemetry: typeof import('./telemetry.js');
}

const consoleLogger: Logger = { warn: (m) => console.warn(m), info: (m) => console.info(m) };

export class KeyVaultService {
  readonly config: AppConfig;
  readonly identity: IdentityChoice;
  private engine: Promise<Engine> | undefined;
  private loaded: Engine | undefined;
  private readonly probes = new Map<string, { at: number; probe: AccessProbe }>();
  private readonly expiryNotices = new Map<string, ExpiryNotice>();
  private expiryNoticesDropped = 0;
  private referenceVaults: ReadonlySet<string> | undefined;
  private referenceList: SecretReference[] | undefined;
  private readonly versionListeners: VersionSeen[] = [];
  private backstop = false;
  /** Secrets the rotation ledger lists (vault|lower-case name): names the fleet is known to use. */
  private fleetNames = new Set<string>();
  private readonly trusted = new Map<string, boolean>();
  /** The fleet's warm-up slots (with the rotation ledger), and whether this instance is warming the fleet's names. */
  private gate: WarmupGate | undefined;
  private warmingFleet = false;

  constructor(private readonly options: KeyVaultOptions) {
    this.config = options.config;
    this.identity = chooseIdentity(options.config.identity);
  }

  /** The configured vault, or undefined. */
  get vaultUrl(): string | undefined {
    return this.config.vaultUrl;
  }

  private load(): Promise<Engine> {
    this.engine ??= this.createEngine().then(
      (engine) => (this.loaded = engine),
      (error: unknown) => {
        // Not remembered: the next call loads again, so a failure while creating the clients does not turn every
        // later read into an error until restart. (A module that fails to import stays failed in Node's own ESM
        // cache: that case is reported the same way and heals with the next instance.)
        this.engine = undefined;
        const why = error instanceof Error && /^[\w .:/@'()-]{1,200}$/.test(error.message) ? `: ${error.message}` : '';
        throw new KeyVaultFailure('unexpected', `The Key Vault client modules could not be loaded${why}.`);
      },
    );
    return this.engine;
  }

  private async createEngine(): Promise<Engine> {
    const [{ SecretCache }, { VaultCalls, WARMUP_QUEUE_MS }, telemetry] = await Promise.all([
      import('./secretCache.js'),
      import('./callPolicy.js'),
      import('./telemetry.js'),
    ]);
    const fetchSecret = this.options.fetchSecret ?? (await (this.options.loadFetch ?? this.loadSdkFetch)());
    const { clock, schedule, random } = this.options;
    const calls = new VaultCalls(fetchSecret, this.config.calls, clock, schedule, random);
    const cache = new SecretCache(
      async (ref, options = {}) => {
        // A first read of a name the fleet is known to use waits for a warm-up turn; anything else spends the budget.
        const kind = options.first && this.isFleetSecret(ref) ? 'warmup' : options.background ? 'background' : 'read';
        const record =
          kind === 'warmup' && this.gate !== undefined
            ? await this.slotCall(calls, this.gate, ref, WARMUP_QUEUE_MS)
            : await calls.call(ref, { kind });
        if (ref.version === undefined && record.version) this.notifyVersion(ref.vaultUrl, record.name, record.version);
        return record;
      },
      this.config.cache,
      this.options.log ?? consoleLogger,
      clock,
      random,
      { ms: this.config.calls.timeoutMs, ...(schedule ? { schedule } : {}) },
    );
    if (this.backstop) cache.setTtl(this.cacheTtl().ms);
    return { cache, calls, telemetry };
  }

  /**
   * A warm-up call with the fleet's warm-up slots: wait for a slot (at most WARMUP_QUEUE_MS; the reader itself waits
   * only KEY_VAULT_TIMEOUT_MS and the load keeps its place), then call at the slot's pace; the first call under a slot
   * also warms every name the fleet is known to use, so the slot is taken once per instance. Without a slot usable
   * (storage failing), the per-instance warm-up pace applies, as without a ledger.
   */
  private async slotCall(
    calls: VaultCalls,
    gate: WarmupGate,
    ref: SecretReference,
    maxWaitMs: number,
  ): Promise<SecretRecord> {
    const state = await gate.enter(maxWaitMs);
    if (state === 'unavailable') return calls.call(ref, { kind: 'warmup' });
    if (state === 'busy') {
      throw new KeyVaultFailure(
        'throttled',
        'No warm-up slot of the fleet came free in time for the first read of this secret; a later read tries again.',
        { retryAfterSeconds: 10, errorCode: 'WarmupWaiting' },
      );
    }
    try {
      if (!this.warmingFleet) void this.warmFleet(gate);
      return await calls.call(ref, { kind: 'slot' });
    } finally {
      gate.leave();
    }
  }

  /** Under a warm-up slot: first reads of every name the fleet is known to use that this instance does not hold. */
  private async warmFleet(gate: WarmupGate): Promise<void> {
    this.warmingFleet = true;
    // Entered at once (a slot is held): the slot stays held until these reads are done.
    const entered = gate.enter(0);
    try {
      const cache = this.loaded?.cache;
      if ((await entered) !== 'held' || cache === undefined) return;
      await Promise.allSettled(this.fleetSecrets().flatMap((ref) => (cache.holds(ref) ? [] : [cache.read(ref)])));
    } finally {
      if ((await entered) === 'held') gate.leave();
      this.warmingFleet = false;
    }
  }

  /**
   * The names the fleet is known to use (see {@link isFleetSecret}) that this app may read: at most MAX_FLEET_NAMES
   * from the ledger and the names in the settings.
   */
  private fleetSecrets(): SecretReference[] {
    const out = new Map<string, SecretReference>();
    const add = (vaultUrl: string, name: string) => out.set(`${vaultUrl}|${name.toLowerCase()}`, { vaultUrl, name });
    const { vaultUrl, allowedSecrets, prefetch } = this.config;
    if (vaultUrl !== undefined)
      for (const n of [...allowedSecrets, ...prefetch]) if (!n.endsWith('*')) add(vaultUrl, n);
    for (const r of this.references()) if (r.version === undefined) add(r.vaultUrl, r.name);
    for (const key of this.fleetNames) {
      const at = key.lastIndexOf('|');
      add(key.slice(0, at), key.slice(at + 1));
    }
    // Never a name this app does not use or a vault it does not read (a ledger entry is outside input).
    return [...out.values()].filter((r) => this.isAppVault(r.vaultUrl) && this.usesSecret(r.vaultUrl, r.name));
  }

  /**
   * Use the fleet's warm-up slots for first reads (the rotation ledger sets them when it starts); undefined: the
   * per-instance warm-up pace only.
   */
  useWarmupSlots(gate: WarmupGate | undefined): void {
    this.gate = gate;
  }

  private notifyVersion(vaultUrl: string, name: string, version: string): void {
    for (const listener of this.versionListeners) {
      try {
        listener(vaultUrl, name, version.toLowerCase());
      } catch {
        // A listener (the rotation ledger) never fails a read.
      }
    }
  }

  private backstopTtlMs(): number {
    return this.config.ledger?.backstopTtlMs ?? this.config.cache.ttlMs;
  }

  /** Call `listener` whenever Key Vault returns the latest version of a secret (the rotation ledger listens). */
  onVersionSeen(listener: VersionSeen): void {
    this.versionListeners.push(listener);
  }

  /**
   * Whether a secret is one the fleet is known to use: an exact name in SECRETS_ALLOWED or SECRET_PREFETCH (in
   * `KEY_VAULT_URL`'s vault), a Key Vault reference among the app settings, or a name the rotation ledger lists. Its
   * first read waits for a warm-up turn; other first reads (say random names under an allowed prefix) spend the
   * steady budget, so the warm-up allowance cannot be turned into load on the vault by made-up names.
   */
  isFleetSecret(ref: SecretReference): boolean {
    const lower = ref.name.toLowerCase();
    if (this.fleetNames.has(`${ref.vaultUrl}|${lower}`)) return true;
    if (ref.vaultUrl === this.config.vaultUrl) {
      const exact = (list: readonly string[]) => list.some((n) => !n.endsWith('*') && n.toLowerCase() === lower);
      if (exact(this.config.allowedSecrets) || exact(this.config.prefetch)) return true;
    }
    return this.references().some((r) => r.vaultUrl === ref.vaultUrl && r.name.toLowerCase() === lower);
  }

  /** The secrets the rotation ledger lists now (names only; at most MAX_FLEET_NAMES are kept). */
  noteFleetSecrets(secrets: Iterable<{ vaultUrl: string; name: string }>): void {
    const next = new Set<string>();
    for (const s of secrets) {
      if (next.size >= MAX_FLEET_NAMES) break;
      next.add(`${s.vaultUrl}|${s.name.toLowerCase()}`);
    }
    this.fleetNames = next;
  }

  /**
   * The rotation ledger says Key Vault called this secret disabled or deleted (`why`), or no longer does (null):
   * every value of it held here is dropped and reads are refused without asking Key Vault, until it is cleared.
   */
  secretRevoked(vaultUrl: string, name: string, why: Revocation | null): boolean {
    if (this.loaded === undefined) {
      if (why === null) return false;
      // Not loaded yet: load the engine so the revocation holds from the first read on.
      void this.load().then(
        ({ cache }) => cache.revoke({ vaultUrl, name }, why),
        () => undefined,
      );
      return true;
    }
    const { cache } = this.loaded;
    return why === null ? cache.restore({ vaultUrl, name }) : cache.revoke({ vaultUrl, name }, why);
  }

  /**
   * The lease holder's check: each secret's latest version and state, from Key Vault, at the check's own pace
   * (CHECK_PER_10S, 1% of the vault's limit; never the budget or warm-up turns reads need). Stops early when `go()` turns false (the lease was lost). Returns names, versions and
   * states only; the values Key Vault returns are dropped at once.
   */
  async checkVersions(refs: readonly SecretReference[], go: () => boolean = () => true): Promise<VersionCheck[]> {
    const { calls } = await this.load();
    const out: VersionCheck[] = [];
    for (const { vaultUrl, name } of refs) {
      if (!go()) break;
      if (!this.isTrustedVault(vaultUrl)) continue;
      try {
        const record = await calls.call({ vaultUrl, name }, { kind: 'check' });
        const version = record.version?.toLowerCase() ?? null;
        out.push({ vaultUrl, name, version, state: record.enabled === false ? 'disabled' : 'enabled' });
      } catch (error) {
        const kind = error instanceof KeyVaultFailure ? error.kind : 'unexpected';
        const state = kind === 'secret-disabled' ? 'disabled' : kind === 'secret-not-found' ? 'deleted' : 'unknown';
        out.push({ vaultUrl, name, version: null, state });
      }
    }
    return out;
  }

  /** Whether this instance holds any secret value (the rotation ledger polls only then). */
  holdsSecrets(): boolean {
    return (this.loaded?.cache.stats().entries ?? 0) > 0;
  }

  /**
   * While the rotation ledger is healthy, values get the backstop TTL (SECRET_CACHE_BACKSTOP_TTL_SECONDS); otherwise
   * SECRET_CACHE_TTL_SECONDS, exactly as without a ledger. Switching back lowers the TTL of values already held.
   */
  useBackstopTtl(on: boolean): void {
    this.backstop = on && this.config.ledger !== undefined;
    this.loaded?.cache.setTtl(this.cacheTtl().ms);
  }

  /** The TTL values get now: the backstop TTL while the rotation ledger is healthy, else SECRET_CACHE_TTL_SECONDS. */
  cacheTtl(): { ms: number; backstop: boolean } {
    return this.backstop
      ? { ms: this.backstopTtlMs(), backstop: true }
      : { ms: this.config.cache.ttlMs, backstop: false };
  }

  private readonly loadSdkFetch = async (): Promise<SecretFetch> => {
    const { SecretClients } = await import('./secretClient.js');
    return new SecretClients(this.identity, this.config).fetchSecret;
  };

  /**
   * Whether the app may send its token to this vault: the `KEY_VAULT_URL` host, a `KEY_VAULT_ALLOWED_HOSTS` entry,
   * or, while challenge resource verification is on, a host under the cloud's Key Vault DNS suffix.
   */
  isTrustedVault(vaultUrl: string): boolean {
    // Remembered per vault URL (the settings do not change while the process runs; a URL parse per read shows).
    let trusted = this.trusted.get(vaultUrl);
    if (trusted === undefined) {
      const { host, hostname } = new URL(vaultUrl);
      trusted =
        this.config.trustedVaultHosts.includes(host) ||
        (!this.config.disableChallengeResourceVerification && hostname.endsWith(`.${this.config.vaultDnsSuffix}`));
      if (this.trusted.size >= 64) this.trusted.clear();
      this.trusted.set(vaultUrl, trusted);
    }
    return trusted;
  }

  /** Read a secret through the cache. A vault the app does not trust is never contacted. */
  async read(ref: SecretReference, options: { forceRefresh?: boolean } = {}): Promise<SecretRead> {
    if (!this.isTrustedVault(ref.vaultUrl)) {
      throw new KeyVaultFailure(
        'untrusted-vault',
        `${new URL(ref.vaultUrl).host} is not a vault host this app trusts with its token: add it to ` +
          `KEY_VAULT_ALLOWED_HOSTS, or use a vault under ${this.config.vaultDnsSuffix}.`,
      );
    }
    const { cache, telemetry } = await this.load();
    try {
      const read = await cache.read(ref, options);
      telemetry.recordRead(ref, read.cache, undefined, read.ageMs);
      return read;
    } catch (error) {
      telemetry.recordRead(ref, 'refused', error);
      throw error;
    }
  }

  /**
   * "A newer version of this secret may exist": THE one entry point for rotation notices, whoever sends them (the
   * Key Vault event function; a fleet-wide rotation ledger). Safe to call at any rate, with any name: it never
   * throws, never waits for Key Vault, and never removes a value from the cache.
   *
   * Contract:
   * - A name this instance holds no value for (of the latest version; pinned versions never change) is left alone:
   *   no Key Vault call (`not-cached`).
   * - `version` (32 hex, any case) is the version the sender knows of. If the value held already is that version,
   *   nothing is done (`current`).
   * - Otherwise the name is re-read in the background (`refreshing`). The value held keeps being served until Key
   *   Vault returns the new one; if the re-read fails transiently (5xx, timeout, throttled, identity down), the
   *   value held is served as `stale`, within SECRET_CACHE_MAX_STALE_SECONDS, and the re-read is tried again. A 404
   *   or refusal on the re-read drops it, as any read would.
   * - Notices are merged and rate-limited per name: none causes a re-read within SECRET_CACHE_MIN_REFRESH_SECONDS of
   *   Key Vault's last answer or re-read for that name (`deferred`); the first read or notice after that window
   *   makes the one re-read all the deferred notices asked for. A re-read already in flight is joined.
   * - Re-reads are background calls: they are refused while less than half of KEY_VAULT_BUDGET_PER_10S is left, so
   *   a flood of notices cannot make reads fail with `InstanceBudgetSpent`.
   * A new version also supersedes an expiry notice held for that secret.
   */
  secretRotated(vaultUrl: string, name: string, version?: string): RotationOutcome {
    // A new version supersedes an expiry notice about the old one.
    this.expiryNotices.delete(`${vaultUrl}|${name.toLowerCase()}`);
    if (this.loaded === undefined) return 'not-cached';
    return this.loaded.cache.rotated({ vaultUrl, name }, version);
  }

  /**
   * A near-expiry or expiry event for a secret, kept for the config check (names and dates, never values): the newest
   * state per secret, at most MAX_EXPIRY_NOTICES of them.
   */
  noteExpiryEvent(notice: ExpiryNotice): void {
    const key = `${notice.vaultUrl}|${notice.name.toLowerCase()}`;
    this.expiryNotices.delete(key); // re-inserted as the newest
    this.expiryNotices.set(key, notice);
    if (this.expiryNotices.size <= MAX_EXPIRY_NOTICES) return;
    let evict: string | undefined;
    for (const [k, n] of this.expiryNotices) {
      if (!this.usesSecret(n.vaultUrl, n.name)) {
        evict = k;
        break;
      }
    }
    this.expiryNotices.delete(evict ?? this.expiryNotices.keys().next().value!);
    this.expiryNoticesDropped += 1;
  }

  /** Expiry events received by this instance (newest state per secret), each saying whether the app uses it. */
  expiryEvents(): ReportedExpiryNotice[] {
    return [...this.expiryNotices.values()].map((n) => ({ ...n, usedByApp: this.usesSecret(n.vaultUrl, n.name) }));
  }

  /** How many expiry notices were dropped to keep at most MAX_EXPIRY_NOTICES. */
  get expiryEventsDropped(): number {
    return this.expiryNoticesDropped;
  }

  /**
   * Whether this is a vault the app reads: `KEY_VAULT_URL`, a `KEY_VAULT_ALLOWED_HOSTS` entry, or the vault of a
   * Key Vault reference among the app settings; and one it trusts with its token. Events count only for these: "may receive our token" (any vault under the DNS suffix) is not "is ours".
   */
  isAppVault(vaultUrl: string): boolean {
    if (!this.isTrustedVault(vaultUrl)) return false;
    // (A vault this instance holds secrets from is one of these: the app reads KEY_VAULT_URL and references only.)
    return this.config.trustedVaultHosts.includes(new URL(vaultUrl).host) || this.vaultsOfReferences().has(vaultUrl);
  }

  /**
   * Whether the app uses this secret: allowed by SECRETS_ALLOWED or listed in SECRET_PREFETCH (in `KEY_VAULT_URL`'s
   * vault), named by a Key Vault reference among the app settings, or read by this instance.
   */
  usesSecret(vaultUrl: string, name: string): boolean {
    const lower = name.toLowerCase();
    if (vaultUrl === this.config.vaultUrl) {
      if (isSecretAllowed(name, this.config.allowedSecrets)) return true;
      if (this.config.prefetch.some((p) => p.toLowerCase() === lower)) return true;
    }
    if (this.loaded?.cache.holds({ vaultUrl, name })) return true;
    return this.references().some((r) => r.vaultUrl === vaultUrl && r.name.toLowerCase() === lower);
  }

  /** Key Vault references among the app settings (parsed once: settings change only with a restart). */
  private references(): SecretReference[] {
    this.referenceList ??= this.config
      .settingNames()
      .map((n) => this.config.setting(n) ?? '')
      .filter(looksLikeReference)
      .flatMap((value) => {
        const parsed = parseKeyVaultReference(value, this.config.vaultDnsSuffix);
        return parsed.kind === 'reference' ? [parsed.reference] : [];
      });
    return this.referenceList;
  }

  private vaultsOfReferences(): ReadonlySet<string> {
    this.referenceVaults ??= new Set(this.references().map((r) => r.vaultUrl));
    return this.referenceVaults;
  }

  /**
   * Whether the vault answers and lets this identity read secrets, proven without reading any value: it asks for
   * a secret name that does not exist. 404 means the request was authorised (Key Vault checks access before
   * existence, and needs only "get", not "list"); 401/403 means not.
   */
  async probeAccess(vaultUrl: string): Promise<AccessProbe> {
    // The result is remembered for SECRET_CACHE_FAILURE_TTL_SECONDS: a config check per second is not a Key Vault
    // call per second.
    const now = (this.options.clock ?? performance).now();
    const remembered = this.probes.get(vaultUrl);
    if (remembered && now - remembered.at < this.config.cache.failureTtlMs) return remembered.probe;
    let probe: AccessProbe;
    try {
      const { calls } = await this.load();
      await calls.call({ vaultUrl, name: `access-probe-${randomUUID()}` });
      probe = { reachable: true, canReadSecrets: true };
    } catch (error) {
      const failure =
        error instanceof KeyVaultFailure ? error : new KeyVaultFailure('unexpected', 'The access probe failed.');
      if (failure.kind === 'unexpected' && this.loaded === undefined) {
        return { reachable: false, canReadSecrets: false, failure }; // a failed load is not remembered
      }
      probe =
        failure.kind === 'secret-not-found'
          ? { reachable: true, canReadSecrets: true }
          : { reachable: vaultAnswered(failure), canReadSecrets: false, failure };
    }
    this.probes.set(vaultUrl, { at: now, probe });
    return probe;
  }

  /**
   * An app setting, with a Key Vault reference the host left unresolved (local `func start`, or platform
   * resolution failing) resolved through the same cache. Never throws.
   */
  async resolveSetting(name: string): Promise<SettingResolution> {
    const raw = this.config.setting(name);
    if (raw === undefined) return { kind: 'missing' };
    const parsed = parseKeyVaultReference(raw, this.config.vaultDnsSuffix);
    if (parsed.kind === 'not-reference') return { kind: 'plain', value: raw };
    if (parsed.kind === 'invalid') return { kind: 'invalid-reference', reason: parsed.reason };
    try {
      return { kind: 'resolved', reference: parsed.reference, read: await this.read(parsed.reference) };
    } catch (error) {
      const failure =
        error instanceof KeyVaultFailure ? error : new KeyVaultFailure('unexpected', 'The reference failed.');
      return { kind: 'failed', reference: parsed.reference, failure };
    }
  }

  /** Metadata (never values) of every secret this instance holds. */
  secretsHeld(): SecretMetadata[] {
    return this.loaded?.cache.metadata() ?? [];
  }

  /** Cache and call statistics (all zero before the first Key Vault call). Never contains values. */
  stats(): KeyVaultStats {
    const cache = this.loaded?.cache.stats() ?? {
      entries: 0,
      rememberedFailures: 0,
      hits: 0,
      misses: 0,
      staleServes: 0,
      refreshesLimited: 0,
      rotationsMerged: 0,
    };
    const vaults = this.loaded?.calls.snapshot() ?? {};
    const keyVaultCalls = Object.values(vaults).reduce((sum, v) => sum + v.keyVaultCalls, 0);
    return { ...cache, keyVaultCalls, vaults };
  }
}
