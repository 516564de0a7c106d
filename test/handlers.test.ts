/**
 * The three handlers, called directly in @azure/functions test mode, on the real service and cache policy with
 * the Key Vault call replaced at its seam by an in-memory function (src/keyVault/testing.ts). The same contract
 * against a real Key Vault API (an emulator) is in integration.emulator.test.ts.
 */
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as pingModule from '../src/functions/ping.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { configureKeyVault } from 'functions-keyvault/internal/keyVault/index.js';
import { APP_VERSION } from '../src/version.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { InMemoryVault, keyVaultError } from 'functions-keyvault/testing';
import { captureConsole } from './support/captureConsole.js';

const VAULT = 'https://handlers.vault.azure.net/';
const SECRET_VALUE = 'tr0ub4dor&3-handlers';
let vault: InMemoryVault;
/** What the service logs (a console in the app): collected for the assertions, not printed as if it were an error. */
const serviceLog: string[] = [];

function configure(env: Record<string, string>) {
  return configureKeyVault({
    config: parseConfig({ IDENTITY_ENDPOINT: 'http://127.0.0.1:9/token', IDENTITY_HEADER: 'unit', ...env }),
    fetchSecret: vault.fetch,
    log: { warn: (m) => void serviceLog.push(`warn: ${m}`), info: (m) => void serviceLog.push(`info: ${m}`) },
  });
}

function readSecret(name: string, query = '', headers: Record<string, string> = {}) {
  const { context, lines } = capturingContext('getSecret');
  const request = get(`http://localhost:7071/api/secrets/${encodeURIComponent(name)}${query}`, { name }, headers);
  return getSecretModule.getSecret(request, context).then((response) => ({ response, lines }));
}

beforeEach(() => {
  serviceLog.length = 0;
  vault = new InMemoryVault();
  vault.set('db-password', SECRET_VALUE, 'text/plain');
  configure({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'db-password,app-*' });
});

test('registration options are what the host will see', () => {
  assert.deepEqual(
    { route: pingModule.options.route, methods: pingModule.options.methods, authLevel: pingModule.options.authLevel },
    { route: 'ping', methods: ['GET'], authLevel: 'anonymous' },
  );
  assert.deepEqual(
    {
      route: getSecretModule.options.route,
      methods: getSecretModule.options.methods,
      authLevel: getSecretModule.options.authLevel,
    },
    { route: 'secrets/{name}', methods: ['GET'], authLevel: 'function' },
  );
  assert.deepEqual(
    {
      route: configCheckModule.options.route,
      methods: configCheckModule.options.methods,
      authLevel: configCheckModule.options.authLevel,
    },
    { route: 'config/check', methods: ['GET'], authLevel: 'function' },
  );
  assert.equal(pingModule.options.handler, pingModule.ping);
  assert.equal(getSecretModule.options.handler, getSecretModule.getSecret);
  assert.equal(configCheckModule.options.handler, configCheckModule.configCheck);
});

test('ping: 200 with the package version, no settings needed, no Key Vault', async () => {
  configureKeyVault({ config: parseConfig({}), fetchSecret: vault.fetch });
  const { context } = capturingContext('ping');
  const r = pingModule.ping(get('http://localhost:7071/api/ping'), context);
  assert.equal(r.status, 200);
  assert.deepEqual(body(r), { status: 'ok', version: APP_VERSION });
  assert.match(APP_VERSION, /^\d+\.\d+\.\d+/);
  assert.equal(vault.calls, 0);
});

test('secret read: 200 with metadata, no-store, X-Cache miss then hit', async () => {
  const first = await readSecret('db-password');
  assert.equal(first.response.status, 200);
  assert.equal(header(first.response, 'cache-control'), 'no-store');
  assert.equal(header(first.response, 'x-cache'), 'miss');
  const b = body(first.response);
  assert.deepEqual(
    Object.keys(b).sort(),
    ['contentType', 'createdOn', 'enabled', 'expiresOn', 'name', 'updatedOn', 'value', 'version'].sort(),
  );
  assert.equal(b.value, SECRET_VALUE);
  assert.equal(b.contentType, 'text/plain');
  assert.equal(b.expiresOn, null);
  assert.match(String(b.createdOn), /^\d{4}-\d{2}-\d{2}T/);
  assert.match(String(b.version), /^[0-9a-f]{32}$/);
  const second = await readSecret('db-password');
  assert.equal(header(second.response, 'x-cache'), 'hit');
  assert.equal(vault.calls, 1);
});

test('secret read: a pinned version', async () => {
  const old = vault.set('app-key', 'first');
  vault.set('app-key', 'second');
  const latest = await readSecret('app-key');
  assert.equal(body(latest.response).value, 'second');
  const pinned = await readSecret('app-key', `?version=${old.version}`);
  assert.equal(pinned.response.status, 200);
  assert.equal(body(pinned.response).value, 'first');
  assert.equal(body(pinned.response).version, old.version);
});

test('bad input: 400 problem, and Key Vault is never called', async () => {
  for (const [name, query] of [
    ['bad_name', ''],
    ['x'.repeat(128), ''],
    ['db-password', '?version=123'],
    ['db-password', '?version=zz23456789abcdef0123456789abcdef'],
  ] as const) {
    const { response } = await readSecret(name, query);
    assert.equal(response.status, 400, `${name}${query}`);
    assert.equal(header(response, 'content-type'), 'application/problem+json');
    const b = body(response);
    assert.equal(b.status, 400);
    assert.ok(b.type && b.title && b.detail);
  }
  assert.equal(vault.calls, 0);
});

test('deny by default: 403 when SECRETS_ALLOWED is unset, or the name is not listed; Key Vault never called', async () => {
  configure({ KEY_VAULT_URL: VAULT });
  const denied = await readSecret('db-password');
  assert.equal(denied.response.status, 403);
  assert.match(String(body(denied.response).detail), /SECRETS_ALLOWED/);
  configure({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'other' });
  assert.equal((await readSecret('db-password')).response.status, 403);
  assert.equal(vault.calls, 0);
});

test('vault not configured: 503 naming KEY_VAULT_URL', async () => {
  configure({ SECRETS_ALLOWED: 'db-password' });
  const { response } = await readSecret('db-password');
  assert.equal(response.status, 503);
  assert.match(String(body(response).detail), /KEY_VAULT_URL/);
  assert.equal(vault.calls, 0);
});

test('KEY_VAULT_URI works as an alias', async () => {
  configure({ KEY_VAULT_URI: VAULT, SECRETS_ALLOWED: 'db-password' });
  assert.equal((await readSecret('db-password')).response.status, 200);
});

test('404 for a missing secret and for a missing version', async () => {
  const missing = await readSecret('app-missing');
  assert.equal(missing.response.status, 404);
  assert.equal(header(missing.response, 'content-type'), 'application/problem+json');
  const noVersion = await readSecret('db-password', `?version=${'e'.repeat(32)}`);
  assert.equal(noVersion.response.status, 404);
  assert.equal(body(noVersion.response).reason, 'SecretVersionNotFound');
});

test('403 from Key Vault: 502 naming the identity and what to grant', async () => {
  configure({
    KEY_VAULT_URL: VAULT,
    SECRETS_ALLOWED: 'db-password',
    AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
  });
  vault.failWith = keyVaultError(403, 'Caller is not authorized to perform action on resource.');
  const { response } = await readSecret('db-password');
  assert.equal(response.status, 502);
  const detail = String(body(response).detail);
  assert.match(detail, /user-assigned managed identity with client id 11111111-2222-3333-4444-555555555555/);
  assert.match(detail, /Key Vault Secrets User/);
});

test('throttling and outages of uncached names: 503 with Retry-After', async () => {
  vault.failWith = keyVaultError(429, 'Too many requests', { 'retry-after': '3' });
  const throttled = await readSecret('db-password');
  assert.equal(throttled.response.status, 503);
  assert.equal(header(throttled.response, 'retry-after'), '3');
  vault.failWith = Object.assign(new Error('connect ECONNREFUSED'), { name: 'CredentialUnavailableError' });
  const noIdentity = await readSecret('app-other');
  assert.equal(noIdentity.response.status, 503);
  assert.ok(header(noIdentity.response, 'retry-after'));
});

test('Cache-Control: no-cache from the caller forces a fresh read', async () => {
  // No floor between forced refreshes here (its own test is below).
  configure({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'db-password,app-*', SECRET_CACHE_MIN_REFRESH_SECONDS: '0' });
  await readSecret('db-password');
  vault.set('db-password', 'rotated-value');
  assert.equal(body((await readSecret('db-password')).response).value, SECRET_VALUE);
  const fresh = await readSecret('db-password', '', { 'Cache-Control': 'no-cache' });
  assert.equal(body(fresh.response).value, 'rotated-value');
  assert.equal(header(fresh.response, 'x-cache'), 'miss');
});

test('X-Cache: stale while Key Vault is down for a cached secret', async () => {
  configure({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'db-password', SECRET_CACHE_TTL_SECONDS: '0' });
  await readSecret('db-password');
  vault.failWith = keyVaultError(500, 'Internal Server Error');
  const { response } = await readSecret('db-password');
  assert.equal(response.status, 200);
  assert.equal(header(response, 'x-cache'), 'stale');
  assert.equal(body(response).value, SECRET_VALUE);
  assert.match(serviceLog.join('\n'), /^warn: .*serving the last good value/m);
});

function check(env: Record<string, string>) {
  configure(env);
  const { context, lines } = capturingContext('configCheck');
  return configCheckModule
    .configCheck(get('http://localhost:7071/api/config/check'), context)
    .then((response) => ({ response, lines }));
}

test('config check: healthy vault and loaded settings → 200 ok', async () => {
  const { response } = await check({ KEY_VAULT_URL: VAULT, CONFIG_CHECK_SETTINGS: 'PLAIN', PLAIN: 'hello' });
  assert.equal(response.status, 200);
  const b = body(response) as {
    status: string;
    health: string;
    keyVault: Record<string, unknown>;
    settings: unknown[];
  };
  assert.equal(b.status, 'ok');
  assert.equal(b.health, 'ok');
  assert.deepEqual(
    { ...b.keyVault, detail: undefined },
    {
      configured: true,
      url: VAULT,
      credential: 'ManagedIdentityCredential (system-assigned)',
      reachable: true,
      canReadSecrets: true,
      detail: undefined,
    },
  );
  assert.deepEqual(b.settings, [{ name: 'PLAIN', state: 'loaded', detail: null }]);
});

test('config check: missing, empty, unresolved (readable and not) and invalid references → 503 problem', async () => {
  const { response, lines } = await check({
    WEBSITE_INSTANCE_ID: 'in-azure', // in Azure an unresolved reference is the platform's failure
    KEY_VAULT_URL: VAULT,
    CONFIG_CHECK_SETTINGS: 'MISSING, EMPTY, REF_OK, REF_GONE, REF_BAD, PLAIN',
    EMPTY: '',
    REF_OK: `@Microsoft.KeyVault(SecretUri=${VAULT}secrets/db-password/)`,
    REF_GONE: '@Microsoft.KeyVault(VaultName=handlers;SecretName=nope)',
    REF_BAD: '@Microsoft.KeyVault(SecretUri=https://x/keys/y)',
    PLAIN: SECRET_VALUE,
  });
  assert.equal(response.status, 503);
  assert.equal(header(response, 'content-type'), 'application/problem+json');
  const b = body(response) as {
    status: number;
    health: string;
    type: string;
    title: string;
    detail: string;
    settings: Array<{ name: string; state: string; detail: string | null }>;
  };
  assert.equal(b.status, 503);
  assert.equal(b.health, 'degraded');
  assert.ok(b.type && b.title && b.detail);
  const states = Object.fromEntries(b.settings.map((s) => [s.name, s.state]));
  assert.deepEqual(states, {
    MISSING: 'missing',
    EMPTY: 'empty',
    REF_OK: 'unresolved-reference',
    REF_GONE: 'unresolved-reference',
    REF_BAD: 'invalid-reference',
    PLAIN: 'loaded',
  });
  const detail = (n: string) => b.settings.find((s) => s.name === n)?.detail ?? '';
  assert.match(detail('REF_OK'), /can read secret "db-password"/);
  assert.match(detail('REF_GONE'), /SecretNotFound/);
  assert.match(detail('REF_BAD'), /InvalidSyntax/);
  const everything = JSON.stringify(b) + lines.join('\n');
  assert.doesNotMatch(everything, new RegExp(SECRET_VALUE.replace(/[&]/g, '\\$&')), 'no value in the report or logs');
});

test('config check: Key Vault refusing the identity → failed, AccessToKeyVaultDenied', async () => {
  vault.failWith = keyVaultError(403, 'Forbidden');
  const { response } = await check({ KEY_VAULT_URL: VAULT });
  assert.equal(response.status, 503);
  const b = body(response) as {
    health: string;
    keyVault: { reachable: boolean; canReadSecrets: boolean; detail: string };
  };
  assert.equal(b.health, 'failed');
  assert.equal(b.keyVault.reachable, true);
  assert.equal(b.keyVault.canReadSecrets, false);
  assert.match(b.keyVault.detail, /AccessToKeyVaultDenied/);
});

test('config check: no vault configured → degraded, says KEY_VAULT_URL', async () => {
  const { response } = await check({});
  assert.equal(response.status, 503);
  const b = body(response) as { health: string; keyVault: { configured: boolean; detail: string } };
  assert.equal(b.health, 'degraded');
  assert.equal(b.keyVault.configured, false);
  assert.match(b.keyVault.detail, /KEY_VAULT_URL/);
});

test('config check reports cache statistics, never values', async () => {
  await readSecret('db-password');
  await readSecret('db-password');
  const { context } = capturingContext('configCheck');
  const response = await configCheckModule.configCheck(get('http://localhost:7071/api/config/check'), context);
  assert.equal(response.status, 200);
  const report = body(response) as {
    cache: { entries: number; hits: number; misses: number; keyVaultCalls: number; staleServes: number };
  };
  // Two reads (one miss, one hit) plus the config check's access probe, which bypasses the cache.
  assert.deepEqual(
    {
      entries: report.cache.entries,
      hits: report.cache.hits,
      misses: report.cache.misses,
      staleServes: report.cache.staleServes,
    },
    { entries: 1, hits: 1, misses: 1, staleServes: 0 },
  );
  assert.equal(report.cache.keyVaultCalls, 2);
  assert.equal(JSON.stringify(report).includes(SECRET_VALUE), false);
});

test('no secret value reaches any log line: handler context logs, the service log and console', async () => {
  const { result, output } = await captureConsole(async () => {
    const all: string[] = [];
    const ok = await readSecret('db-password');
    all.push(...ok.lines);
    vault.failWith = keyVaultError(503, 'down');
    configure({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'db-password', SECRET_CACHE_TTL_SECONDS: '0' });
    vault.failWith = undefined;
    all.push(...(await readSecret('db-password')).lines);
    vault.failWith = keyVaultError(503, 'down');
    all.push(...(await readSecret('db-password')).lines);
    const cc = await check({
      KEY_VAULT_URL: VAULT,
      CONFIG_CHECK_SETTINGS: 'REF',
      REF: `@Microsoft.KeyVault(SecretUri=${VAULT}secrets/db-password)`,
    });
    all.push(...cc.lines);
    return all;
  });
  const logged = `${result.join('\n')}\n${serviceLog.join('\n')}\n${output}`;
  assert.ok(result.length >= 3, 'the handlers did log');
  assert.match(serviceLog.join('\n'), /serving the last good value/, 'the stale warning was logged');
  assert.equal(logged.includes(SECRET_VALUE), false);
});

test('config check, locally: a reference the app resolves itself is healthy (resolved-by-app), a broken one is not', async () => {
  const healthy = await check({
    KEY_VAULT_URL: VAULT,
    CONFIG_CHECK_SETTINGS: 'REF_OK',
    REF_OK: `@Microsoft.KeyVault(SecretUri=${VAULT}secrets/db-password/)`,
  });
  assert.equal(healthy.response.status, 200);
  const b = body(healthy.response) as { health: string; settings: Array<{ state: string; detail: string }> };
  assert.equal(b.health, 'ok');
  assert.equal(b.settings[0]?.state, 'resolved-by-app');
  assert.match(b.settings[0]?.detail ?? '', /Locally the host left this Key Vault reference unresolved/);
  const broken = await check({
    KEY_VAULT_URL: VAULT,
    CONFIG_CHECK_SETTINGS: 'REF_GONE',
    REF_GONE: `@Microsoft.KeyVault(SecretUri=${VAULT}secrets/nope)`,
  });
  assert.equal(broken.response.status, 503);
  assert.equal(
    (body(broken.response) as { settings: Array<{ state: string }> }).settings[0]?.state,
    'unresolved-reference',
  );
});
