/**
 * The config check's report as a plain function (src/diagnostics/configReport.ts), without HTTP: the states it
 * gives the vault and each listed setting, the overall status, whether retrying can help, and the one-line summary.
 * The HTTP shape (200 or 503 problem) is in handlers.test.ts and configCheck.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import {
  buildConfigReport,
  reportLogLine,
  reportSummary,
} from 'functions-keyvault/internal/diagnostics/configReport.js';
import { KeyVaultService } from 'functions-keyvault/internal/keyVault/index.js';
import { InMemoryVault, keyVaultError, ManualClock } from 'functions-keyvault/testing';
import { RotationLedger } from 'functions-keyvault/internal/ledger/rotationLedger.js';
import { LedgerFailure, type LedgerStore } from 'functions-keyvault/internal/ledger/store.js';
import { LedgerModel } from '../scripts/ledgerModel.js';

const VAULT = 'https://report.vault.azure.net/';
const CANARY = 'canary-value-9f3e1c-report';
const quiet = { warn: () => undefined, info: () => undefined };

function service(vault: InMemoryVault, env: Record<string, string> = {}): KeyVaultService {
  return new KeyVaultService({
    config: parseConfig({ KEY_VAULT_URL: VAULT, IDENTITY_ENDPOINT: 'http://127.0.0.1:9/token', ...env }),
    fetchSecret: vault.fetch,
    log: quiet,
  });
}

test('healthy: the probe passes, a plain and a referenced setting are fine, status ok, nothing to summarise', async () => {
  const vault = new InMemoryVault();
  vault.set('db-password', CANARY);
  const { report, retryable } = await buildConfigReport(
    service(vault, {
      CONFIG_CHECK_SETTINGS: 'PLAIN,REF',
      PLAIN: 'hello',
      REF: `@Microsoft.KeyVault(SecretUri=${VAULT}secrets/db-password)`,
    }),
  );
  assert.equal(report.status, 'ok');
  assert.equal(retryable, false);
  assert.deepEqual(report.keyVault, {
    configured: true,
    url: VAULT,
    credential: report.keyVault.credential,
    reachable: true,
    canReadSecrets: true,
    detail: report.keyVault.detail,
  });
  assert.deepEqual(
    report.settings.map((s) => [s.name, s.state]),
    [
      ['PLAIN', 'loaded'],
      ['REF', 'resolved-by-app'],
    ],
  );
  assert.equal(reportSummary(report), '');
  assert.equal(reportLogLine(report), 'Config check: ok; PLAIN=loaded, REF=resolved-by-app.');
  assert.equal(JSON.stringify(report).includes(CANARY), false, 'the report never carries a value');
  assert.equal(report.secrets.items.length, 1, 'the referenced secret is listed by name');
});

test('a refused identity: failed, not retryable, the summary names the role to grant', async () => {
  const vault = new InMemoryVault();
  vault.failWith = keyVaultError(403, 'Forbidden');
  const { report, retryable } = await buildConfigReport(service(vault));
  assert.equal(report.status, 'failed');
  assert.equal(retryable, false);
  assert.equal(report.keyVault.canReadSecrets, false);
  assert.equal(report.keyVault.reachable, true);
  assert.match(reportSummary(report), /^AccessToKeyVaultDenied: .*Key Vault Secrets User/);
});

test('an unavailable vault: failed and retryable', async () => {
  const vault = new InMemoryVault();
  vault.failWith = keyVaultError(503, 'Service Unavailable');
  const { report, retryable } = await buildConfigReport(service(vault));
  assert.equal(report.status, 'failed');
  assert.equal(retryable, true);
});

test('no vault, a missing and an empty setting: degraded, each named in the summary', async () => {
  const vault = new InMemoryVault();
  const { report } = await buildConfigReport(
    new KeyVaultService({
      config: parseConfig({ CONFIG_CHECK_SETTINGS: 'GONE,BLANK', BLANK: ' ' }),
      fetchSecret: vault.fetch,
      log: quiet,
    }),
  );
  assert.equal(report.status, 'degraded');
  assert.equal(report.keyVault.configured, false);
  assert.equal(vault.calls, 0, 'no vault, no call');
  const summary = reportSummary(report);
  assert.match(summary, /KEY_VAULT_URL is not set/);
  assert.match(summary, /GONE: missing/);
  assert.match(summary, /BLANK: empty/);
});

test('an expired secret the instance holds makes the report degraded, judged at the time given', async () => {
  const vault = new InMemoryVault();
  vault.set('api-key', CANARY, { expiresOn: new Date(Date.UTC(2026, 5, 1)) });
  const svc = service(vault);
  await svc.read({ vaultUrl: VAULT, name: 'api-key' });
  const before = await buildConfigReport(svc, Date.UTC(2026, 0, 1));
  assert.equal(before.report.status, 'ok');
  const after = await buildConfigReport(svc, Date.UTC(2026, 6, 1));
  assert.equal(after.report.status, 'degraded');
  assert.deepEqual(
    after.report.secrets.items.map((i) => [i.name, i.state, i.expiresOn]),
    [['api-key', 'expired', '2026-06-01T00:00:00.000Z']],
  );
  assert.match(reportSummary(after.report), /Secret api-key has expired\./);
});

const LEDGER_URL = 'https://stapp.blob.core.windows.net/rotation-ledger/app.json';

/** A service with a ledger on `store`, both on one manual clock (the ledger constructed, not started). */
function withLedger(store: LedgerStore, env: Record<string, string> = {}) {
  const vault = new InMemoryVault();
  vault.set('db', CANARY);
  const clock = new ManualClock();
  const svc = new KeyVaultService({
    config: parseConfig({
      KEY_VAULT_URL: VAULT,
      IDENTITY_ENDPOINT: 'http://127.0.0.1:9/token',
      ROTATION_LEDGER_URL: LEDGER_URL,
      SECRET_CACHE_TTL_SECONDS: '300',
      SECRET_CACHE_BACKSTOP_TTL_SECONDS: '43200',
      ...env,
    }),
    fetchSecret: vault.fetch,
    clock,
    log: quiet,
  });
  const ledger = new RotationLedger({ store, target: svc, pollMs: 5_000, timeoutMs: 1_000, clock, log: quiet });
  return { svc, ledger, clock };
}

test('rotationLedger without ROTATION_LEDGER_URL: off, the normal TTL, status unaffected', async () => {
  const { report } = await buildConfigReport(service(new InMemoryVault()), Date.now(), undefined);
  assert.equal(report.status, 'ok');
  assert.deepEqual(report.rotationLedger, {
    configured: false,
    state: 'off',
    url: null,
    ttl: 'normal',
    ttlSeconds: 300,
    lastGoodPollSecondsAgo: null,
    lastFailure: null,
    consecutiveFailures: 0,
    pollIntervalSeconds: null,
    entries: null,
    pendingWrites: null,
    writeFailure: null,
    detail: report.rotationLedger.detail,
  });
  assert.match(report.rotationLedger.detail, /ROTATION_LEDGER_URL is not set/);
});

test('rotationLedger configured but not running on this instance: starting, the normal TTL', async () => {
  const svc = service(new InMemoryVault(), { ROTATION_LEDGER_URL: LEDGER_URL });
  const { report } = await buildConfigReport(svc, Date.now(), undefined);
  assert.equal(report.status, 'ok');
  assert.equal(report.rotationLedger.configured, true);
  assert.equal(report.rotationLedger.state, 'starting');
  assert.equal(report.rotationLedger.url, LEDGER_URL);
  assert.deepEqual([report.rotationLedger.ttl, report.rotationLedger.ttlSeconds], ['normal', 300]);
});

test('rotationLedger healthy: the backstop TTL, the age of the last good poll, the entries read', async () => {
  const { svc, ledger, clock } = withLedger(new LedgerModel());
  let { report } = await buildConfigReport(svc, Date.now(), ledger);
  assert.equal(report.rotationLedger.state, 'healthy');
  assert.equal(report.rotationLedger.lastGoodPollSecondsAgo, null, 'no poll yet');
  assert.match(report.rotationLedger.detail, /no poll yet/i);

  await svc.read({ vaultUrl: VAULT, name: 'db' });
  ledger.rotationEvent(VAULT, 'db', 'a'.repeat(32));
  await ledger.settled();
  assert.equal(await ledger.poll(), 'not-modified');
  clock.advance(7_000);
  ({ report } = await buildConfigReport(svc, Date.now(), ledger));
  assert.equal(report.status, 'ok');
  assert.deepEqual(
    {
      ...report.rotationLedger,
      detail: undefined,
    },
    {
      configured: true,
      state: 'healthy',
      url: LEDGER_URL,
      ttl: 'backstop',
      ttlSeconds: 43_200,
      lastGoodPollSecondsAgo: 7,
      lastFailure: null,
      consecutiveFailures: 0,
      pollIntervalSeconds: 5,
      entries: 1,
      pendingWrites: 0,
      writeFailure: null,
      detail: undefined,
    },
  );
});

test('rotationLedger unreachable: unhealthy with the failure kind, the normal TTL, the report still ok (reads work)', async () => {
  const store = new LedgerModel();
  const { svc, ledger, clock } = withLedger(store);
  await svc.read({ vaultUrl: VAULT, name: 'db' });
  assert.equal(await ledger.poll(), 'absent');
  store.down = true;
  for (let i = 0; i < 200; i++) {
    await ledger.poll();
    clock.advance(ledger.nextPollDelayMs());
  }
  const { report, retryable } = await buildConfigReport(svc, Date.now(), ledger);
  const section = report.rotationLedger;
  assert.equal(section.state, 'unhealthy');
  assert.deepEqual([section.ttl, section.ttlSeconds], ['normal', 300]);
  assert.equal(section.lastFailure, 'unreachable');
  assert.equal(section.consecutiveFailures, 200);
  assert.equal(section.pollIntervalSeconds, 60, 'backed off to the cap');
  assert.ok(section.lastGoodPollSecondsAgo! > 600);
  assert.equal(report.status, 'ok', 'not degraded: reads work, the cache refreshes on the normal TTL');
  assert.equal(retryable, false);
  assert.equal(reportSummary(report), '');
  assert.match(reportLogLine(report), /rotation ledger unhealthy \(unreachable\)/);
  assert.match(section.detail, /SECRET_CACHE_TTL_SECONDS/);
});

test('rotationLedger never shows what a storage error carried (a SAS, a token), only a kind word; bounded size', async () => {
  const SAS = 'sig=canary-sas-7d1f2e';
  const TOKEN = 'eyJcanary-token-5b8a';
  let failure: Error = new Error(`GET ${LEDGER_URL}?sv=2024&${SAS} failed with Bearer ${TOKEN}`);
  const store: LedgerStore = {
    read: () => Promise.reject(failure),
    write: () => Promise.reject(failure),
  };
  const { svc, ledger, clock } = withLedger(store);
  await svc.read({ vaultUrl: VAULT, name: 'db' });
  await ledger.poll();
  clock.advance(40_000);
  await ledger.poll();
  ledger.rotationEvent(VAULT, 'db', 'b'.repeat(32));
  await ledger.settled();
  let { report } = await buildConfigReport(svc, Date.now(), ledger);
  assert.equal(report.rotationLedger.lastFailure, 'unexpected');
  failure = new LedgerFailure('denied', 403);
  clock.advance(60_000);
  await ledger.poll();
  ({ report } = await buildConfigReport(svc, Date.now(), ledger));
  assert.equal(report.rotationLedger.lastFailure, 'denied');
  assert.match(report.rotationLedger.detail, /Storage Blob Data Contributor/);
  const json = JSON.stringify(report);
  for (const canary of [SAS, TOKEN, CANARY, 'sv=2024']) assert.equal(json.includes(canary), false, canary);
  assert.ok(JSON.stringify(report.rotationLedger).length < 1_000, 'the section is small and fixed in shape');
});
