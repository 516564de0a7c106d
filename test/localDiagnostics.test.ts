/**
 * The first local hour: diagnostics that speak of the developer's own sign-in, not of managed identity, through the
 * real SDK (ChainedTokenCredential, SecretClient) against loopback fixtures.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { problemForFailure } from 'functions-keyvault/internal/http/problems.js';
import { configureKeyVault, KeyVaultFailure } from 'functions-keyvault/internal/keyVault/index.js';
import { FaultProxy, fixtureTls } from './support/faultProxy.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';

const skip = fixtureTls() ? false : 'no TLS material for the HTTPS fixture (openssl missing)';
let vault: FaultProxy;

before(async () => {
  if (skip) return;
  vault = await FaultProxy.start('https://127.0.0.1:9', fixtureTls());
  vault.fault = { kind: 'challenge', status: 404, body: '{}' };
});
after(async () => vault?.close());

/** Local settings as the developer profile has them: no managed-identity endpoint, so the developer chain. */
function local(vaultUrl: string, extra: Record<string, string> = {}) {
  configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: vaultUrl,
      SECRETS_ALLOWED: 'db-password',
      KEY_VAULT_TIMEOUT_MS: '30000',
      ...extra,
    }),
    log: { warn: () => undefined, info: () => undefined },
  });
}

async function read(name = 'db-password') {
  const { context } = capturingContext('getSecret');
  return getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}`, { name }), context);
}

test(
  'not signed in: 503 naming the developer credentials tried and what to run, no Retry-After',
  { skip },
  async () => {
    // The chain (environment, az, azd, PowerShell) finds no variables and no signed-in CLI on a test machine: each
    // says why in its own words.
    local(`${vault.url}/`, { KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true' });
    const r = await read();
    assert.equal(r.status, 503);
    assert.equal(header(r, 'retry-after'), undefined, 'retrying does not help until someone signs in');
    const detail = String(body(r).detail);
    assert.match(detail, /No developer credential could get a token\. Tried: EnvironmentCredential/);
    assert.match(detail, /az login/);
    assert.doesNotMatch(detail, /managed identity/i);

    const { context } = capturingContext('configCheck');
    const report = body(await configCheckModule.configCheck(get('http://localhost/api/config/check'), context)) as {
      keyVault: { reachable: boolean | null; canReadSecrets: boolean; credential: string };
    };
    assert.equal(report.keyVault.reachable, null, 'without a token the vault was never asked');
    assert.equal(report.keyVault.canReadSecrets, false);
    assert.match(report.keyVault.credential, /Developer chain/);
  },
);

test('an untrusted vault certificate is named as a trust problem with the fix', { skip }, async () => {
  // A second throw-away certificate that nothing trusts.
  const dir = mkdtempSync(join(tmpdir(), 'untrusted-'));
  const made = spawnSync('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
    ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')],
  ]);
  assert.equal(made.status, 0);
  const untrusted = await FaultProxy.start('https://127.0.0.1:9', {
    key: readFileSync(join(dir, 'k.pem')),
    cert: readFileSync(join(dir, 'c.pem')),
  });
  try {
    untrusted.fault = { kind: 'challenge', status: 404, body: '{}' };
    local(`${untrusted.url}/`, { KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true' });
    const r = await read();
    assert.equal(r.status, 502);
    assert.equal(body(r).kind, 'tls-untrusted');
    assert.match(
      String(body(r).detail),
      /not trusted \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\).*NODE_EXTRA_CA_CERTS/,
    );
  } finally {
    await untrusted.close();
  }
});

test('a refused connection says so, and locally where to look', async () => {
  // Generous: the refusal must be what is reported, not a timeout on a loaded machine.
  local('https://127.0.0.1:9/', { KEY_VAULT_TIMEOUT_MS: '30000' });
  const r = await read();
  assert.equal(r.status, 503);
  assert.equal(body(r).reason, 'FetchTimedOut', "the portal's word is kept");
  assert.match(String(body(r).detail), /the connection was refused \(ECONNREFUSED\)/);
  assert.match(String(body(r).detail), /npm run vault:status/);
});

test('the grant command fits the principal: a signed-in user locally, a service principal in Azure', () => {
  const denied = new KeyVaultFailure('access-denied', 'x', { statusCode: 403 });
  const base = { vaultUrl: 'https://v.vault.azure.net/', name: 'db', identity: 'you' };
  const user = String(body(problemForFailure(denied, { ...base, identityKind: 'developer' })).detail);
  assert.match(user, /--assignee-principal-type User/);
  assert.match(user, /az ad signed-in-user show/);
  const mi = String(body(problemForFailure(denied, { ...base, identityKind: 'managed-identity' })).detail);
  assert.match(mi, /--assignee-principal-type ServicePrincipal/);
});

test('failures that retrying cannot fix carry no Retry-After: not configured, not signed in', () => {
  const ctx = { vaultUrl: 'https://v.vault.azure.net/', name: 'db', identity: 'you' };
  for (const kind of ['not-configured', 'not-signed-in', 'tls-untrusted', 'access-denied'] as const) {
    assert.equal(header(problemForFailure(new KeyVaultFailure(kind, 'x'), ctx), 'retry-after'), undefined, kind);
  }
  assert.ok(header(problemForFailure(new KeyVaultFailure('timeout', 'x'), ctx), 'retry-after'));
});
