/**
 * The secretEvents function (src/functions/secretEvents.ts), called the way the Functions host calls it: one Key Vault
 * event per invocation, in either delivery schema, as the Node.js worker hands it over, with an InvocationContext in
 * @azure/functions test mode. The app's real service and cache run behind it, with the Key Vault call replaced at its
 * seam by the in-memory vault of src/keyVault/testing.ts (which counts calls).
 */
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import {
  SECRET_EXPIRED,
  SECRET_NEAR_EXPIRY,
  SECRET_NEW_VERSION_CREATED,
} from 'functions-keyvault/internal/events/keyVaultEvents.js';
import * as secretEventsModule from '../src/functions/secretEvents.js';
import { configureKeyVault, keyVault, readSecret } from 'functions-keyvault/internal/keyVault/index.js';
import { asDelivered, keyVaultEvent, SCHEMAS, type Schema } from './support/keyVaultEvents.js';
import { capturingContext } from 'functions-keyvault/testing';
import { InMemoryVault, ManualClock } from 'functions-keyvault/testing';
import { captureConsole } from './support/captureConsole.js';

const VAULT = 'https://kv-events.vault.azure.net/';
/** Secret values no log line may contain. */
const CANARY_OLD = 'canary-old-value-5f2e!';
const CANARY_NEW = 'canary-new-value-9b1c!';

let vault: InMemoryVault;
let clock: ManualClock;
/** Every line the functions and the service logged in this test (console output, service log). */
let logged: string[];
/** Each invocation's context lines, kept by reference: a line logged after the invocation returned still counts. */
let contexts: string[][];

beforeEach(() => {
  vault = new InMemoryVault();
  clock = new ManualClock();
  vault.set('db-password', CANARY_OLD, 'text/plain');
  logged = [];
  contexts = [];
  configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: VAULT,
      SECRETS_ALLOWED: 'db-password,api-key',
      IDENTITY_ENDPOINT: 'http://127.0.0.1:9/token',
      IDENTITY_HEADER: 'unit',
    }),
    fetchSecret: vault.fetch,
    clock,
    log: { warn: (m) => void logged.push(`service warn: ${m}`), info: (m) => void logged.push(`service info: ${m}`) },
  });
});

/** Invoke the function with one event as delivered; returns the lines it logged. */
async function deliver(event: unknown): Promise<string[]> {
  const { context, lines } = capturingContext('secretEvents');
  const { output } = await captureConsole(async () => {
    await secretEventsModule.secretEvents(event, context);
    await settle();
  });
  contexts.push(lines);
  if (output) logged.push(output);
  return lines;
}

/** Let background work (the re-read a rotation starts) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

function event(schema: Schema, type: string, name: string, version: string, vaultUrl = VAULT, exp?: number | null) {
  return asDelivered(keyVaultEvent(schema, { type, vaultUrl, name, version, exp }));
}

async function read(name: string) {
  const { result, output } = await captureConsole(() => readSecret(name));
  if (output) logged.push(output);
  return result;
}

async function assertNoValueLogged(): Promise<void> {
  await settle();
  const all = [...logged, ...contexts.flat()];
  assert.ok(all.length > 0, 'something was logged');
  for (const line of all) {
    for (const canary of [CANARY_OLD, CANARY_NEW]) assert.ok(!line.includes(canary), `a value was logged: ${line}`);
  }
}

test('registered as an Event Grid function whose handler is secretEvents', () => {
  assert.equal(secretEventsModule.options.handler, secretEventsModule.secretEvents);
});

for (const schema of SCHEMAS) {
  test(`${schema}: after SecretNewVersionCreated the next read sees the new version, with one Key Vault call`, async () => {
    const before = await read('db-password');
    assert.equal(before.value, CANARY_OLD);
    assert.equal(vault.calls, 1);

    const rotated = vault.set('db-password', CANARY_NEW, 'text/plain');
    // Without the event the cache keeps serving the old version until its TTL (300 s by default).
    const cached = await read('db-password');
    assert.deepEqual([cached.value, cached.cache, vault.calls], [CANARY_OLD, 'hit', 1]);

    // Past SECRET_CACHE_MIN_REFRESH_SECONDS since Key Vault's answer: the event's re-read is made at once.
    clock.advance(5_000);
    const lines = await deliver(event(schema, SECRET_NEW_VERSION_CREATED, 'db-password', rotated.version!));
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^information: Key Vault: new version of secret "db-password" in kv-events\.vault\.azure\.net/,
    );
    assert.match(lines[0]!, /re-reading it in the background; the value held is served until the new one arrives/);

    const after = await read('db-password');
    assert.equal(after.value, CANARY_NEW);
    assert.equal(after.version, rotated.version);
    assert.equal(vault.calls, 2, 'exactly one Key Vault call for the rotation');
    await settle();
    const again = await read('db-password');
    assert.deepEqual([again.value, again.cache, vault.calls], [CANARY_NEW, 'hit', 2]);
    await assertNoValueLogged();
  });

  test(`${schema}: an event for a secret this instance never read makes no Key Vault call`, async () => {
    const other = vault.set('never-read', CANARY_NEW);
    const first = await deliver(event(schema, SECRET_NEW_VERSION_CREATED, 'never-read', other.version!));
    assert.equal(vault.calls, 0, 'no call before anything was read');
    assert.match(first[0]!, /new version of secret "never-read" .*not cached on this instance, nothing to refresh/);

    await read('db-password');
    const entries = keyVault().stats().entries;
    await deliver(event(schema, SECRET_NEW_VERSION_CREATED, 'never-read', other.version!));
    await settle();
    assert.equal(vault.calls, 1, 'only the read of db-password');
    assert.equal(keyVault().stats().entries, entries);
    await assertNoValueLogged();
  });

  test(`${schema}: a foreign vault's events change nothing`, async () => {
    await read('db-password');
    const rotated = vault.set('db-password', CANARY_NEW);

    // A vault the app does not trust, and one it would trust with its token (under the DNS suffix) but does not
    // read: ignored before anything else happens.
    for (const vaultUrl of ['https://kv-events.vault.example.com/', 'https://kv-other.vault.azure.net/']) {
      for (const type of [SECRET_NEW_VERSION_CREATED, SECRET_NEAR_EXPIRY, SECRET_EXPIRED]) {
        const lines = await deliver(event(schema, type, 'db-password', rotated.version!, vaultUrl));
        assert.deepEqual(lines, [
          `information: Ignored an Event Grid event of type ${type}: not a vault this app reads.`,
        ]);
      }
    }

    await settle();
    const still = await read('db-password');
    assert.deepEqual([still.value, still.cache, vault.calls], [CANARY_OLD, 'hit', 1]);
    assert.deepEqual(keyVault().expiryEvents(), []);
    await assertNoValueLogged();
  });

  test(`${schema}: malformed events are ignored with one log line and change nothing`, async () => {
    await read('db-password');
    const rotated = vault.set('db-password', CANARY_NEW);
    const valid = () =>
      keyVaultEvent(schema, {
        type: SECRET_NEW_VERSION_CREATED,
        vaultUrl: VAULT,
        name: 'db-password',
        version: rotated.version!,
      });
    const typeKey = schema === 'EventGridSchema' ? 'eventType' : 'type';
    const malformed: [string, unknown][] = [
      ['null', null],
      ['a string', 'not an event'],
      ['a batch', [valid()]],
      ['a key event', { ...valid(), [typeKey]: 'Microsoft.KeyVault.KeyNewVersionCreated' }],
      ['no data', { ...valid(), data: undefined }],
      ['a key object', { ...valid(), data: { ...(valid().data as object), ObjectType: 'Key' } }],
      [
        'an invalid name',
        { ...valid(), subject: 'db password', data: { ...(valid().data as object), ObjectName: 'db password' } },
      ],
      [
        'an id on another vault',
        {
          ...valid(),
          data: {
            ...(valid().data as object),
            Id: `https://kv-other.vault.azure.net/secrets/db-password/${rotated.version}`,
          },
        },
      ],
      [
        'an http id',
        {
          ...valid(),
          data: {
            ...(valid().data as object),
            Id: `http://kv-events.vault.azure.net/secrets/db-password/${rotated.version}`,
          },
        },
      ],
      ['a subject for another secret', { ...valid(), subject: 'other' }],
      ['a bad version', { ...valid(), data: { ...(valid().data as object), Version: 'latest' } }],
    ];
    for (const [what, input] of malformed) {
      const lines = await deliver(input === null || typeof input !== 'object' ? input : asDelivered(input));
      assert.equal(lines.length, 1, `${what}: one line`);
      assert.match(lines[0]!, /^information: Ignored an Event Grid event/, what);
    }
    await settle();
    const still = await read('db-password');
    assert.deepEqual([still.value, still.cache, vault.calls], [CANARY_OLD, 'hit', 1], 'the cache is untouched');
    assert.deepEqual(keyVault().expiryEvents(), []);
    await assertNoValueLogged();
  });

  test(`${schema}: near-expiry and expired are warned about and recorded, without a Key Vault call`, async () => {
    const version = vault.set('api-key', CANARY_NEW).version!;
    const exp = Date.UTC(2026, 5, 30) / 1000;
    const near = await deliver(event(schema, SECRET_NEAR_EXPIRY, 'api-key', version, VAULT, exp));
    assert.deepEqual(near, [
      `warning: Key Vault: secret "api-key" in kv-events.vault.azure.net (version ${version}) is near expiry ` +
        '(expires 2026-06-30T00:00:00.000Z); rotate it.',
    ]);
    const expired = await deliver(event(schema, SECRET_EXPIRED, 'db-password', '0'.repeat(32), VAULT, null));
    assert.deepEqual(expired, [
      `warning: Key Vault: secret "db-password" in kv-events.vault.azure.net (version ${'0'.repeat(32)}) has expired; rotate it.`,
    ]);

    const notices = keyVault().expiryEvents();
    assert.deepEqual(
      notices.map(({ receivedAt: _, ...rest }) => rest),
      [
        {
          vaultUrl: VAULT,
          name: 'api-key',
          version,
          event: 'near-expiry',
          expiresOn: '2026-06-30T00:00:00.000Z',
          usedByApp: true,
        },
        {
          vaultUrl: VAULT,
          name: 'db-password',
          version: '0'.repeat(32),
          event: 'expired',
          expiresOn: null,
          usedByApp: true,
        },
      ],
    );
    for (const notice of notices) assert.ok(!Number.isNaN(Date.parse(notice.receivedAt)));
    // The later state of a secret replaces the earlier one.
    await deliver(event(schema, SECRET_EXPIRED, 'api-key', version, VAULT, exp));
    assert.deepEqual(
      keyVault()
        .expiryEvents()
        .map((n) => [n.name, n.event])
        .sort(),
      [
        ['api-key', 'expired'],
        ['db-password', 'expired'],
      ],
    );
    assert.equal(vault.calls, 0);
    await assertNoValueLogged();
  });
}

test('an invocation never throws, whatever arrives (Event Grid would only retry it)', async () => {
  await read('db-password');
  for (const input of [undefined, 0, {}, { eventType: {} }, { specversion: '1.0', type: SECRET_EXPIRED, data: 'x' }]) {
    const lines = await deliver(input);
    assert.equal(lines.length, 1);
  }
  await assertNoValueLogged();
});

test('a new version supersedes an expiry notice about the old one', async () => {
  const v1 = 'a'.repeat(32);
  const v2 = 'b'.repeat(32);
  await deliver(
    event('EventGridSchema', SECRET_NEAR_EXPIRY, 'db-password', v1, VAULT, Math.floor(Date.now() / 1000) + 86_400),
  );
  assert.equal(keyVault().expiryEvents().length, 1);
  await deliver(event('EventGridSchema', SECRET_NEW_VERSION_CREATED, 'db-password', v2));
  assert.deepEqual(keyVault().expiryEvents(), []);
});
