/**
 * The config check's report as a plain function (src/diagnostics/configReport.ts), without HTTP: the states it
 * gives the vault and each listed setting, the overall status, whether retrying can help, and the one-line summary.
 * The HTTP shape (200 or 503 problem) is in handlers.test.ts and configCheck.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { buildConfigReport, reportLogLine, reportSummary } from '../src/diagnostics/configReport.js';
import { KeyVaultService } from '../src/keyVault/index.js';
import { InMemoryVault, keyVaultError } from '../src/keyVault/testing.js';

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
