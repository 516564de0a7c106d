/**
 * src/events/keyVaultEvents.ts: Key Vault's secret events in both delivery schemas, parsed and validated (pure).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KEY_VAULT_SECRET_EVENT_TYPES,
  parseKeyVaultEvent,
  type ParseResult,
  SECRET_EXPIRED,
  SECRET_NEAR_EXPIRY,
  SECRET_NEW_VERSION_CREATED,
} from 'functions-keyvault/internal/events/keyVaultEvents.js';
import {
  DOC_CLOUD_EVENT_SCHEMA,
  DOC_EVENT_GRID_SCHEMA,
  keyVaultEvent,
  SCHEMAS,
  type Schema,
} from './support/keyVaultEvents.js';

const VAULT = 'https://kv-events.vault.azure.net/';
const VERSION = '0123456789abcdef0123456789abcdef';
const trustAll = { isAppVault: () => true };

function parsed(result: ParseResult) {
  assert.ok(result.ok, `expected a valid event, got: ${result.ok ? '' : result.reason}`);
  return result.event;
}

test('the three event types the app handles, and only those', () => {
  assert.deepEqual(
    [...KEY_VAULT_SECRET_EVENT_TYPES],
    [
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.SecretNearExpiry',
      'Microsoft.KeyVault.SecretExpired',
    ],
  );
});

test("Key Vault's documented samples parse, in both schemas, quirks and all", () => {
  for (const [sample, schema] of [
    [DOC_EVENT_GRID_SCHEMA[0], 'EventGridSchema'],
    [DOC_CLOUD_EVENT_SCHEMA[0], 'CloudEventSchemaV1_0'],
  ] as const) {
    const seen: string[] = [];
    const event = parsed(parseKeyVaultEvent(sample, { isAppVault: (url) => (seen.push(url), true) }));
    assert.deepEqual(event, {
      kind: 'new-version',
      schema,
      vaultUrl: 'https://sample-kv.vault.azure.net/',
      name: 'newsecret',
      version: 'ee059b2bb5bc48398a53b168c6cdcb10',
      expiresOn: new Date(1559082102 * 1000).toISOString(),
    });
    assert.deepEqual(seen, ['https://sample-kv.vault.azure.net/'], 'the trust check sees the vault origin');
  }
});

test('each type maps to its kind, in both schemas; NBF/EXP as numbers, strings or null', () => {
  for (const schema of SCHEMAS) {
    for (const [type, kind] of [
      [SECRET_NEW_VERSION_CREATED, 'new-version'],
      [SECRET_NEAR_EXPIRY, 'near-expiry'],
      [SECRET_EXPIRED, 'expired'],
    ] as const) {
      const event = parsed(
        parseKeyVaultEvent(
          keyVaultEvent(schema, { type, vaultUrl: VAULT, name: 'Db-Password', version: VERSION, exp: 1_800_000_000 }),
          trustAll,
        ),
      );
      assert.equal(event.kind, kind);
      assert.equal(event.schema, schema);
      assert.equal(event.vaultUrl, VAULT);
      assert.equal(event.name, 'Db-Password');
      assert.equal(event.version, VERSION);
      assert.equal(event.expiresOn, '2027-01-15T08:00:00.000Z');
    }
    const noExpiry = parsed(
      parseKeyVaultEvent(
        keyVaultEvent(schema, { type: SECRET_NEAR_EXPIRY, vaultUrl: VAULT, name: 'a', version: VERSION, exp: null }),
        trustAll,
      ),
    );
    assert.equal(noExpiry.expiresOn, null);
  }
});

test('the vault comes from the secret id: any cloud, any port; type names in any case', () => {
  for (const vaultUrl of [
    'https://kv-cn.vault.azure.cn/',
    'https://kv-gov.vault.usgovcloudapi.net/',
    'https://kv-stack.vault.local.azurestack.external:8443/',
  ]) {
    const event = keyVaultEvent('EventGridSchema', { type: SECRET_EXPIRED, vaultUrl, name: 'x', version: VERSION });
    event.eventType = 'microsoft.keyvault.secretexpired';
    assert.equal(parsed(parseKeyVaultEvent(event, trustAll)).vaultUrl, vaultUrl);
  }
});

test('a JSON string is parsed like the object; a version-less id is fine', () => {
  const event = keyVaultEvent('CloudEventSchemaV1_0', {
    type: SECRET_NEAR_EXPIRY,
    vaultUrl: VAULT,
    name: 'a',
    version: VERSION,
  });
  const data = event.data as Record<string, unknown>;
  data.Id = `${VAULT}secrets/a`;
  delete data.Version;
  const result = parsed(parseKeyVaultEvent(JSON.stringify(event), trustAll));
  assert.equal(result.version, null);
});

type Mutation = (event: Record<string, unknown>, data: Record<string, unknown>, schema: Schema) => unknown;

/** Each mutation of a valid event, and the reason it must be refused for. */
const REFUSED: [string, Mutation, string | ((schema: Schema) => string)][] = [
  [
    'another Key Vault event type',
    (e, _d, s) => void (e[s === 'EventGridSchema' ? 'eventType' : 'type'] = 'Microsoft.KeyVault.KeyNewVersionCreated'),
    'not a Key Vault secret event type',
  ],
  [
    'a non-Key Vault type',
    (e, _d, s) => void (e[s === 'EventGridSchema' ? 'eventType' : 'type'] = 'Microsoft.Storage.BlobCreated'),
    'not a Key Vault secret event type',
  ],
  [
    'no type at all',
    (e, _d, s) => void delete e[s === 'EventGridSchema' ? 'eventType' : 'type'],
    (s) => (s === 'EventGridSchema' ? 'unknown event schema' : 'not a Key Vault secret event type'),
  ],
  [
    'another CloudEvents version',
    (e, _d, s) => void (s === 'CloudEventSchemaV1_0' ? (e.specversion = '0.3') : (e.eventType = 42)),
    'unknown event schema',
  ],
  ['no data', (e) => void delete e.data, 'no data object'],
  ['data as base64 only', (e) => void ((e.data_base64 = 'e30='), delete e.data), 'no data object'],
  ['a key, not a secret', (_e, d) => void (d.ObjectType = 'Key'), 'object type is not Secret'],
  ['no object type', (_e, d) => void delete d.ObjectType, 'object type is not Secret'],
  [
    'an invalid secret name',
    (e, d) => void ((d.ObjectName = 'db_password'), (e.subject = 'db_password')),
    'invalid secret name',
  ],
  [
    'a name too long',
    (e, d) => void ((d.ObjectName = 'a'.repeat(128)), (e.subject = 'a'.repeat(128))),
    'invalid secret name',
  ],
  ['a subject for another secret', (e) => void (e.subject = 'other-secret'), 'subject is not the secret name'],
  ['no vault name', (_e, d) => void delete d.VaultName, 'no valid vault name'],
  ['no id', (_e, d) => void delete d.Id, 'no valid secret id'],
  ['an id that is not a URL', (_e, d) => void (d.Id = 'not a url'), 'no valid secret id'],
  ['an http id', (_e, d) => void (d.Id = String(d.Id).replace('https:', 'http:')), 'no valid secret id'],
  [
    'an id with user info',
    (_e, d) => void (d.Id = String(d.Id).replace('https://', 'https://user:pw@')),
    'no valid secret id',
  ],
  ['an id for a key', (_e, d) => void (d.Id = String(d.Id).replace('/secrets/', '/keys/')), 'no valid secret id'],
  ['an id with a query', (_e, d) => void (d.Id = `${String(d.Id)}?x=1`), 'no valid secret id'],
  [
    'an id for another secret',
    (_e, d) => void (d.Id = String(d.Id).replace('/db-password/', '/other-secret/')),
    'secret id does not match the vault name or secret name',
  ],
  [
    'an id on another vault',
    (_e, d) => void (d.Id = String(d.Id).replace('kv-events.', 'kv-other.')),
    'secret id does not match the vault name or secret name',
  ],
  [
    'a vault name that is not the id host',
    (_e, d) => void (d.VaultName = 'kv-other'),
    'secret id does not match the vault name or secret name',
  ],
  [
    'a topic/source on another vault',
    (e, _d, s) =>
      void (e[s === 'EventGridSchema' ? 'topic' : 'source'] =
        '/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/kv-other'),
    'event source is not that vault',
  ],
  [
    'a topic/source that is not a string',
    (e, _d, s) => void (e[s === 'EventGridSchema' ? 'topic' : 'source'] = { id: 1 }),
    'event source is not that vault',
  ],
  ['a version that is not 32 hex', (_e, d) => void (d.Version = 'latest'), 'invalid secret version'],
  ['a version that is a number', (_e, d) => void (d.Version = 12), 'invalid secret version'],
  [
    'a version other than the id says',
    (_e, d) => void (d.Version = 'ffffffffffffffffffffffffffffffff'),
    'invalid secret version',
  ],
];

test('malformed or foreign events are refused with a fixed reason, in both schemas', () => {
  for (const schema of SCHEMAS) {
    for (const [what, mutate, expected] of REFUSED) {
      const reason = typeof expected === 'string' ? expected : expected(schema);
      const event = keyVaultEvent(schema, {
        type: SECRET_NEW_VERSION_CREATED,
        vaultUrl: VAULT,
        name: 'db-password',
        version: VERSION,
      });
      mutate(event, event.data as Record<string, unknown>, schema);
      const result = parseKeyVaultEvent(event, trustAll);
      assert.equal(result.ok, false, `${schema}: ${what} was accepted`);
      assert.equal(result.ok ? '' : result.reason, reason, `${schema}: ${what}`);
    }
  }
});

test('a vault the app does not trust is refused after every other check', () => {
  const event = keyVaultEvent('EventGridSchema', {
    type: SECRET_NEAR_EXPIRY,
    vaultUrl: 'https://kv-events.vault.example.com/',
    name: 'db-password',
    version: VERSION,
  });
  const result = parseKeyVaultEvent(event, { isAppVault: (url) => url === VAULT });
  assert.deepEqual(result, { ok: false, reason: 'not a vault this app reads', eventType: SECRET_NEAR_EXPIRY });
});

test('anything that is not one event object is refused, never thrown on', () => {
  const valid = keyVaultEvent('EventGridSchema', {
    type: SECRET_EXPIRED,
    vaultUrl: VAULT,
    name: 'a',
    version: VERSION,
  });
  for (const input of [
    undefined,
    null,
    42,
    true,
    '',
    'not json',
    '[]',
    [],
    [valid],
    JSON.stringify([valid]),
    { data: {} },
  ]) {
    const result = parseKeyVaultEvent(input, trustAll);
    assert.equal(result.ok, false, `accepted ${JSON.stringify(input)}`);
  }
});

test('only a printable event type is echoed back; nothing else from the event ever is', () => {
  const canary = 'canary<value>&"\n';
  const event = keyVaultEvent('EventGridSchema', {
    type: SECRET_NEW_VERSION_CREATED,
    vaultUrl: VAULT,
    name: 'db-password',
    version: VERSION,
  });
  event.eventType = canary;
  const result = parseKeyVaultEvent(event, trustAll);
  assert.deepEqual(result, { ok: false, reason: 'not a Key Vault secret event type' });
});
