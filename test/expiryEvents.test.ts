/**
 * Expiry events in a shared vault: only secrets the app uses affect health, only vaults the app reads count, and
 * whatever arrives, the notices and the config check's body stay bounded. Through the real handlers (secretEvents,
 * configCheck), the real service, and the Key Vault call replaced at its seam (src/keyVault/testing.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { MAX_REPORTED_SECRETS } from 'functions-keyvault/internal/diagnostics/configReport.js';
import { SECRET_EXPIRED, SECRET_NEAR_EXPIRY } from 'functions-keyvault/internal/events/keyVaultEvents.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as secretEventsModule from '../src/functions/secretEvents.js';
import {
  configureKeyVault,
  keyVault,
  MAX_EXPIRY_NOTICES,
  readSecret,
} from 'functions-keyvault/internal/keyVault/index.js';
import { InMemoryVault } from 'functions-keyvault/testing';
import { body, capturingContext, get } from 'functions-keyvault/testing';
import { asDelivered, keyVaultEvent } from './support/keyVaultEvents.js';

const VAULT = 'https://kv-shared.vault.azure.net/';
const VERSION = 'a'.repeat(32);

function setup(settings: Record<string, string> = {}) {
  const vault = new InMemoryVault();
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'app-*', ...settings }),
    fetchSecret: vault.fetch,
    log: { warn: () => undefined, info: () => undefined },
  });
  return vault;
}

function deliver(type: string, name: string, vaultUrl = VAULT): string[] {
  const { context, lines } = capturingContext('secretEvents');
  const event = keyVaultEvent('EventGridSchema', { type, vaultUrl, name, version: VERSION, exp: 1_900_000_000 });
  // Expiry events are handled before the promise is returned (no ledger write to wait for).
  void secretEventsModule.secretEvents(asDelivered(event), context);
  return lines;
}

async function check() {
  const { context } = capturingContext('configCheck');
  return configCheckModule.configCheck(get('http://localhost/api/config/check'), context);
}

interface Secrets {
  items: Array<{ name: string; state: string }>;
  itemsOmitted: number;
  events: Array<{ name: string; event: string; usedByApp: boolean }>;
  eventsDropped: number;
}

test('an expiry event for a secret the app never reads nor allows does not fail health; it is listed as information', async () => {
  setup({ DB_CONNECTION: `@Microsoft.KeyVault(SecretUri=${VAULT}secrets/referenced-secret)` });
  assert.equal((await check()).status, 200);

  const lines = deliver(SECRET_EXPIRED, 'other-team-secret');
  assert.match(lines[0]!, /^information: .*"other-team-secret".* has expired .*this app does not use it/);
  const unrelated = await check();
  assert.equal(unrelated.status, 200, 'an unrelated secret in a shared vault is not this app’s health');
  const listed = (body(unrelated).secrets as Secrets).events;
  assert.deepEqual(
    listed.map((e) => [e.name, e.event, e.usedByApp]),
    [['other-team-secret', 'expired', false]],
  );

  // Secrets the app uses: allowed by SECRETS_ALLOWED, named by a reference among its settings, or read.
  for (const name of ['app-db', 'referenced-secret']) {
    setup({ DB_CONNECTION: `@Microsoft.KeyVault(SecretUri=${VAULT}secrets/referenced-secret)` });
    assert.match(deliver(SECRET_EXPIRED, name)[0]!, /^warning: .* has expired .*; rotate it\.$/);
    const r = await check();
    assert.equal(r.status, 503, name);
    assert.equal(body(r).health, 'degraded');
    assert.match(String(body(r).detail), new RegExp(`Secret ${name} has expired\\.`));
  }
  const vault = setup({ SECRETS_ALLOWED: '' });
  vault.set('read-by-code', 'v');
  await readSecret('read-by-code');
  deliver(SECRET_EXPIRED, 'read-by-code');
  assert.equal((await check()).status, 503, 'a secret the app read is one it uses');
});

test('events about a vault the app does not read are ignored, even under the Key Vault DNS suffix', async () => {
  const other = 'https://kv-someone-else.vault.azure.net/';
  setup();
  for (const type of [SECRET_NEAR_EXPIRY, SECRET_EXPIRED]) {
    assert.deepEqual(deliver(type, 'app-db', other), [
      `information: Ignored an Event Grid event of type ${type}: not a vault this app reads.`,
    ]);
  }
  assert.deepEqual(keyVault().expiryEvents(), []);
  assert.equal((await check()).status, 200);

  // The vaults it reads: KEY_VAULT_URL, KEY_VAULT_ALLOWED_HOSTS, the vaults of its references.
  const listed = 'https://kv-listed.vault.azure.net/';
  const referenced = 'https://kv-referenced.vault.azure.net/';
  setup({
    KEY_VAULT_ALLOWED_HOSTS: 'kv-listed.vault.azure.net',
    API_KEY: `@Microsoft.KeyVault(SecretUri=${referenced}secrets/api-key)`,
  });
  for (const vaultUrl of [VAULT, listed, referenced]) {
    assert.match(deliver(SECRET_NEAR_EXPIRY, 'app-db', vaultUrl)[0]!, /is near expiry/);
  }
  assert.equal(keyVault().expiryEvents().length, 3);
});

test('100,000 near-expiry events with distinct names: notices and the config check body stay bounded', async () => {
  setup();
  deliver(SECRET_EXPIRED, 'app-db'); // one the app uses, first: the flood must not push it out
  for (let i = 0; i < 100_000; i++) deliver(SECRET_NEAR_EXPIRY, `unrelated-${i}`);
  const notices = keyVault().expiryEvents();
  assert.equal(notices.length, MAX_EXPIRY_NOTICES);
  assert.ok(notices.some((n) => n.name === 'app-db' && n.usedByApp));
  const r = await check();
  const size = JSON.stringify(r.jsonBody).length;
  assert.ok(size < 100_000, `config check body: ${size} characters`);
  assert.equal(r.status, 503, 'the expired secret the app uses still degrades health');
  const secrets = body(r).secrets as Secrets;
  assert.equal(secrets.events.length, MAX_EXPIRY_NOTICES);
  assert.equal(secrets.eventsDropped, 100_001 - MAX_EXPIRY_NOTICES);
});

test('the config check lists at most MAX_REPORTED_SECRETS held secrets, the most urgent first', async () => {
  const vault = setup({ SECRET_CACHE_MAX_ENTRIES: '1000', KEY_VAULT_BUDGET_PER_10S: '1000' });
  for (let i = 0; i < MAX_REPORTED_SECRETS + 50; i++) vault.set(`app-${i}`, 'v');
  vault.set('app-expired', 'v', { expiresOn: new Date(Date.now() - 1_000) });
  for (let i = 0; i < MAX_REPORTED_SECRETS + 50; i++) await readSecret(`app-${i}`);
  await readSecret('app-expired');
  const r = await check();
  const secrets = body(r).secrets as Secrets & { expired: string[] };
  assert.equal(secrets.items.length, MAX_REPORTED_SECRETS);
  assert.equal(secrets.itemsOmitted, 51);
  assert.deepEqual(secrets.items[0], { ...secrets.items[0], name: 'app-expired', state: 'expired' });
  assert.deepEqual(secrets.expired, ['app-expired']);
  assert.equal(r.status, 503);
});
