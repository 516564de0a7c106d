/**
 * Key Vault's Event Grid events for secrets, parsed and validated. Pure: no Key Vault call, no logging, no clock.
 *
 * Key Vault publishes, per secret (Azure Key Vault as Event Grid source, event-schema-key-vault in the Event Grid
 * docs; the data properties `Id`, `VaultName`, `ObjectType`, `ObjectName`, `Version`, `NBF`, `EXP`, with NBF and EXP in
 * seconds since 1970 as in the Event Grid data-plane spec):
 *   Microsoft.KeyVault.SecretNewVersionCreated  a new secret or a new version of one
 *   Microsoft.KeyVault.SecretNearExpiry         the current version expires within 30 days
 *   Microsoft.KeyVault.SecretExpired            the current version has expired
 * in either delivery schema: the Event Grid schema (`eventType`, `topic`, `subject`, `eventTime`, `id`, `data`,
 * `dataVersion`, `metadataVersion`) or CloudEvents 1.0 (`type`, `source`, `subject`, `time`, `id`, `data`,
 * `specversion`). The Functions Event Grid trigger hands a function one event per invocation, as the object the
 * host sent (the Node.js worker JSON-parses it); a JSON string is accepted too.
 *
 * Which vault an event is about: the origin of `data.Id` (`https://<vault host>/secrets/<name>/<version>`), which
 * carries the vault's real host in every cloud (public, China, US Gov, Azure Stack Hub, a port), rather than
 * `VaultName` + a configured DNS suffix, which is right only when the suffix setting is. The other fields must agree
 * with it: `VaultName` is the host's first label, the topic/source ends with `/providers/Microsoft.KeyVault/vaults/
 * <VaultName>`, and `ObjectName`, `subject` and the name in `Id` are the same secret. An event whose fields
 * disagree is not acted on: it was not written by Key Vault, or something rewrote it. Whether the vault is one the
 * app reads is the caller's decision (`isAppVault`): only those count. "May receive our token" (any vault under the
 * DNS suffix, with challenge verification on) is not "is ours".
 *
 * What is tolerated, because Key Vault's documentation shows it: property names in any case and with stray spaces
 * (the documented sample has `"ObjectName "`), a version with surrounding spaces, NBF/EXP as numbers or numeric
 * strings, or absent/null.
 */
import { parseVaultUrl } from '../config.js';
import { isValidSecretName, isValidSecretVersion } from '../keyVault/index.js';

export const SECRET_NEW_VERSION_CREATED = 'Microsoft.KeyVault.SecretNewVersionCreated';
export const SECRET_NEAR_EXPIRY = 'Microsoft.KeyVault.SecretNearExpiry';
export const SECRET_EXPIRED = 'Microsoft.KeyVault.SecretExpired';

/** The event types the app subscribes to and handles (the infra drift test holds the subscription to exactly these). */
export const KEY_VAULT_SECRET_EVENT_TYPES = [SECRET_NEW_VERSION_CREATED, SECRET_NEAR_EXPIRY, SECRET_EXPIRED] as const;

export type SecretEventKind = 'new-version' | 'near-expiry' | 'expired';

const KINDS: Record<string, SecretEventKind> = {
  [SECRET_NEW_VERSION_CREATED.toLowerCase()]: 'new-version',
  [SECRET_NEAR_EXPIRY.toLowerCase()]: 'near-expiry',
  [SECRET_EXPIRED.toLowerCase()]: 'expired',
};

export type EventSchema = 'EventGridSchema' | 'CloudEventSchemaV1_0';

/** A valid secret event: every field checked, nothing here came from the event unvalidated. */
export interface SecretEvent {
  kind: SecretEventKind;
  schema: EventSchema;
  /** The vault origin as the app writes it (`https://host[:port]/`, lower case), the cache's vault key. */
  vaultUrl: string;
  /** The secret name (valid Key Vault name). */
  name: string;
  /** The version the event is about (32 hex, lower case), or null when the event names none. */
  version: string | null;
  /** The secret's expiry from `EXP`, ISO 8601, or null when the event carries none. */
  expiresOn: string | null;
}

/** Why an event is not acted on: fixed text (never a value taken from the event). */
export type IgnoreReason =
  | 'not a single event object'
  | 'unknown event schema'
  | 'not a Key Vault secret event type'
  | 'no data object'
  | 'object type is not Secret'
  | 'invalid secret name'
  | 'subject is not the secret name'
  | 'no valid vault name'
  | 'no valid secret id'
  | 'secret id does not match the vault name or secret name'
  | 'event source is not that vault'
  | 'invalid secret version'
  | 'not a vault this app reads';

export type ParseResult = { ok: true; event: SecretEvent } | { ok: false; reason: IgnoreReason; eventType?: string };

export interface ParseOptions {
  /** Whether this vault origin is one the app reads (`keyVault().isAppVault`). */
  isAppVault: (vaultUrl: string) => boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A property by name, case-insensitively and ignoring surrounding spaces in the key. */
function field(object: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(object)) {
    if (key.trim().toLowerCase() === wanted) return value;
  }
  return undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim() : undefined;
}

/** An event type safe to print: dotted identifier characters only. */
function printableType(value: unknown): string | undefined {
  return typeof value === 'string' && /^[\w.]{1,120}$/.test(value) ? value : undefined;
}

/** Seconds since 1970 (number or numeric string) as ISO 8601; null when absent, null or not a plausible time. */
function epochSeconds(value: unknown): string | null {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
  if (typeof value === 'string' && !/^\d{1,12}(\.\d+)?$/.test(value.trim())) return null;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 253_402_300_799) return null; // up to 9999-12-31
  return new Date(seconds * 1000).toISOString();
}

/**
 * Parse and validate one trigger input. Never throws: anything that is not a valid Key Vault secret event of the
 * three types, for a vault the app reads, comes back as `{ ok: false, reason }`.
 */
export function parseKeyVaultEvent(input: unknown, options: ParseOptions): ParseResult {
  let raw = input;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw) as unknown;
    } catch {
      return { ok: false, reason: 'not a single event object' };
    }
  }
  if (!isRecord(raw)) return { ok: false, reason: 'not a single event object' };

  let schema: EventSchema;
  let type: unknown;
  let source: unknown;
  if (typeof raw.specversion === 'string') {
    if (raw.specversion !== '1.0') return { ok: false, reason: 'unknown event schema' };
    schema = 'CloudEventSchemaV1_0';
    type = raw.type;
    source = raw.source;
  } else if (typeof raw.eventType === 'string') {
    schema = 'EventGridSchema';
    type = raw.eventType;
    source = raw.topic;
  } else {
    return { ok: false, reason: 'unknown event schema' };
  }

  const eventType = printableType(type);
  const kind = typeof type === 'string' ? KINDS[type.toLowerCase()] : undefined;
  if (kind === undefined) {
    return eventType === undefined
      ? { ok: false, reason: 'not a Key Vault secret event type' }
      : { ok: false, reason: 'not a Key Vault secret event type', eventType };
  }
  const ignore = (reason: IgnoreReason): ParseResult => ({ ok: false, reason, eventType: eventType! });

  const data = raw.data;
  if (!isRecord(data)) return ignore('no data object');
  if (text(field(data, 'ObjectType'))?.toLowerCase() !== 'secret') return ignore('object type is not Secret');

  const name = text(field(data, 'ObjectName'));
  if (name === undefined || !isValidSecretName(name)) return ignore('invalid secret name');
  const subject = text(raw.subject);
  if (subject !== undefined && subject.toLowerCase() !== name.toLowerCase()) {
    return ignore('subject is not the secret name');
  }

  const vaultName = text(field(data, 'VaultName'));
  if (vaultName === undefined || !/^[0-9A-Za-z-]{1,63}$/.test(vaultName)) return ignore('no valid vault name');

  const id = text(field(data, 'Id'));
  if (id === undefined) return ignore('no valid secret id');
  let idUrl: URL;
  try {
    idUrl = new URL(id);
  } catch {
    return ignore('no valid secret id');
  }
  const origin = parseVaultUrl(idUrl.origin);
  const path = /^\/secrets\/([^/]+)(?:\/([^/]*))?\/?$/.exec(idUrl.pathname);
  if (!('url' in origin) || idUrl.username !== '' || idUrl.password !== '' || idUrl.search !== '' || !path) {
    return ignore('no valid secret id');
  }
  const vaultUrl = origin.url;
  const firstLabel = new URL(vaultUrl).hostname.split('.')[0] ?? '';
  if (firstLabel !== vaultName.toLowerCase() || path[1]!.toLowerCase() !== name.toLowerCase()) {
    return ignore('secret id does not match the vault name or secret name');
  }

  const expectedSource = `/providers/microsoft.keyvault/vaults/${vaultName.toLowerCase()}`;
  if (typeof source === 'string' && !source.trim().toLowerCase().endsWith(expectedSource)) {
    return ignore('event source is not that vault');
  }
  if (source !== undefined && typeof source !== 'string') return ignore('event source is not that vault');

  const versionField = field(data, 'Version');
  const fromData = versionField === undefined || versionField === null ? undefined : text(versionField);
  if (versionField !== undefined && versionField !== null && fromData === undefined) {
    return ignore('invalid secret version');
  }
  const fromId = path[2] ? path[2] : undefined;
  const versionText = fromData || fromId;
  if (versionText !== undefined && !isValidSecretVersion(versionText)) return ignore('invalid secret version');
  if (fromData && fromId && fromData.toLowerCase() !== fromId.toLowerCase()) return ignore('invalid secret version');

  if (!options.isAppVault(vaultUrl)) return ignore('not a vault this app reads');

  return {
    ok: true,
    event: {
      kind,
      schema,
      vaultUrl,
      name,
      version: versionText?.toLowerCase() ?? null,
      expiresOn: epochSeconds(field(data, 'EXP')),
    },
  };
}
