import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NUMERIC_SETTINGS, parseConfig } from 'functions-keyvault/internal/config.js';
import { chooseIdentity } from 'functions-keyvault/internal/keyVault/identity.js';
import { ROOT } from './support/projectRoot.js';

test('KEY_VAULT_URL, alias KEY_VAULT_URI, normalised to the origin', () => {
  assert.equal(
    parseConfig({ KEY_VAULT_URL: 'https://MyVault.vault.azure.net' }).vaultUrl,
    'https://myvault.vault.azure.net/',
  );
  assert.equal(parseConfig({ KEY_VAULT_URI: ' https://v.vault.azure.net/ ' }).vaultUrl, 'https://v.vault.azure.net/');
  assert.equal(parseConfig({}).vaultUrl, undefined);
  assert.equal(parseConfig({ KEY_VAULT_URL: '  ' }).vaultUrl, undefined);
  assert.deepEqual(parseConfig({}).problems, []);
});

test('a KEY_VAULT_URL that is not an https vault origin is a configuration problem, not a vault', () => {
  for (const bad of [
    'not a url',
    'http://v.vault.azure.net/',
    'https://vault.azure.net@evil.example/',
    'https://v.vault.azure.net/secrets/x',
    'https://.vault.azure.net/',
  ]) {
    const config = parseConfig({ KEY_VAULT_URL: bad });
    assert.equal(config.vaultUrl, undefined, bad);
    assert.equal(config.problems.length, 1, bad);
    assert.equal(config.problems[0]?.setting, 'KEY_VAULT_URL');
  }
  assert.match(parseConfig({ KEY_VAULT_URL: 'https://.vault.azure.net/' }).problems[0]!.message, /has no vault name/);
});

test('list settings are trimmed and drop empties', () => {
  assert.deepEqual(parseConfig({ SECRETS_ALLOWED: ' a, b ,,c ' }).allowedSecrets, ['a', 'b', 'c']);
  assert.deepEqual(parseConfig({}).allowedSecrets, []);
});

test('numeric settings: defaults, overrides in range', () => {
  const defaults = parseConfig({});
  assert.equal(defaults.cache.ttlMs, NUMERIC_SETTINGS.SECRET_CACHE_TTL_SECONDS.default * 1000);
  assert.equal(defaults.calls.timeoutMs, NUMERIC_SETTINGS.KEY_VAULT_TIMEOUT_MS.default);
  const c = parseConfig({
    SECRET_CACHE_TTL_SECONDS: '60',
    KEY_VAULT_TIMEOUT_MS: '250',
    SECRET_CACHE_MAX_ENTRIES: '10',
  });
  assert.equal(c.cache.ttlMs, 60_000);
  assert.equal(c.calls.timeoutMs, 250);
  assert.equal(c.cache.maxEntries, 10);
  assert.deepEqual(c.problems, []);
});

test('numeric settings out of range or malformed: default in use, a problem naming the setting and range, never the value', () => {
  const cases: Array<[keyof typeof NUMERIC_SETTINGS, string]> = [
    ['KEY_VAULT_TIMEOUT_MS', '3000000000'], // overflows Node's timer: every read would fail in 1 ms
    ['SECRET_CACHE_MAX_ENTRIES', '1e9'], // would exhaust memory on the first call
    ['SECRET_CACHE_MAX_ENTRIES', '2.5'],
    ['SECRET_CACHE_TTL_SECONDS', '-1'],
    ['SECRET_CACHE_TTL_SECONDS', 'lots'],
    ['KEY_VAULT_MAX_CONCURRENCY', '0'],
    ['SECRET_CACHE_MAX_STALE_SECONDS', 'Infinity'],
    ['SECRET_CACHE_NEGATIVE_TTL_SECONDS', '0x10'],
  ];
  for (const [name, raw] of cases) {
    const config = parseConfig({ [name]: raw });
    const spec = NUMERIC_SETTINGS[name];
    assert.equal(config.problems.length, 1, `${name}=${raw}`);
    const problem = config.problems[0]!;
    assert.equal(problem.setting, name);
    assert.match(problem.message, new RegExp(`${name} must be .* from ${spec.min} to ${spec.max}`));
    assert.equal(problem.message.includes(raw), false, `the value ${raw} is not echoed`);
  }
  assert.equal(parseConfig({ KEY_VAULT_TIMEOUT_MS: '3000000000' }).calls.timeoutMs, 5_000);
  assert.equal(parseConfig({ SECRET_CACHE_MAX_ENTRIES: '1e9' }).cache.maxEntries, 1_000);
});

test('API version must be one the SDK knows; otherwise a configuration problem and the SDK default', () => {
  assert.equal(parseConfig({ KEY_VAULT_API_VERSION: '7.5' }).apiVersion, '7.5');
  assert.equal(parseConfig({}).apiVersion, undefined);
  const bad = parseConfig({ KEY_VAULT_API_VERSION: '9.9' });
  assert.equal(bad.apiVersion, undefined);
  assert.equal(bad.problems[0]?.setting, 'KEY_VAULT_API_VERSION');
});

test('the configuration is frozen', () => {
  const config = parseConfig({ SECRETS_ALLOWED: 'a' });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.cache));
  assert.ok(Object.isFrozen(config.allowedSecrets));
  const env: Record<string, string> = { X: '1' };
  const snapshot = parseConfig(env);
  env.X = '2';
  assert.equal(snapshot.setting('X'), '1', 'later changes to the environment do not leak in');
});

test('vault DNS suffix: explicit setting, else the configured vault, else public cloud', () => {
  assert.equal(
    parseConfig({ KEY_VAULT_DNS_SUFFIX: 'vault.azure.cn', KEY_VAULT_URL: 'https://a.vault.azure.net/' }).vaultDnsSuffix,
    'vault.azure.cn',
  );
  assert.equal(
    parseConfig({ KEY_VAULT_URL: 'https://a.vault.usgovcloudapi.net/' }).vaultDnsSuffix,
    'vault.usgovcloudapi.net',
  );
  assert.equal(parseConfig({}).vaultDnsSuffix, 'vault.azure.net');
});

test('identity: managed identity only where the platform provides the endpoint', () => {
  const choose = (env: Record<string, string>) => chooseIdentity(parseConfig(env).identity);
  assert.equal(
    choose({ IDENTITY_ENDPOINT: 'http://127.0.0.1:1/token', IDENTITY_HEADER: 'h' }).credential,
    'ManagedIdentityCredential (system-assigned)',
  );
  const user = choose({ IDENTITY_ENDPOINT: 'http://127.0.0.1:1/token', IDENTITY_HEADER: 'h', AZURE_CLIENT_ID: 'abc' });
  assert.equal(user.clientId, 'abc');
  assert.match(user.description, /user-assigned managed identity with client id abc/);
  assert.equal(choose({}).kind, 'developer');
  assert.equal(
    choose({ IDENTITY_ENDPOINT: 'http://127.0.0.1:1/token' }).kind,
    'developer',
    'the SDK needs the header too',
  );
  assert.equal(choose({ AZURE_CLIENT_ID: 'abc' }).kind, 'developer');
});

test('ROTATION_LEDGER_URL: a blob on a cloud blob endpoint or loopback, no SAS, one container and blob', () => {
  const ok = parseConfig({
    ROTATION_LEDGER_URL: 'https://stapp01.blob.core.windows.net/rotation-ledger/func-api.json',
  });
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.ledger?.accountUrl, 'https://stapp01.blob.core.windows.net/');
  assert.equal(ok.ledger?.containerName, 'rotation-ledger');
  assert.equal(ok.ledger?.blobName, 'func-api.json');
  assert.equal(ok.ledger?.pollMs, NUMERIC_SETTINGS.ROTATION_LEDGER_POLL_SECONDS.default * 1000);
  assert.equal(ok.ledger?.backstopTtlMs, NUMERIC_SETTINGS.SECRET_CACHE_BACKSTOP_TTL_SECONDS.default * 1000);
  const emulator = parseConfig({ ROTATION_LEDGER_URL: 'https://127.0.0.1:10000/devstoreaccount1/ledger/app.json' });
  assert.equal(emulator.ledger?.accountUrl, 'https://127.0.0.1:10000/devstoreaccount1/');
  assert.equal(parseConfig({}).ledger, undefined, 'optional: off when unset');

  for (const bad of [
    'not a url',
    'http://stapp01.blob.core.windows.net/rotation-ledger/a.json',
    'https://stapp01.blob.core.windows.net/rotation-ledger/a.json?sv=2024&sig=secret',
    'https://evil.example.com/rotation-ledger/a.json',
    'https://stapp01.blob.core.windows.net.evil.example/rotation-ledger/a.json',
    'https://stapp01.blob.core.windows.net/rotation-ledger',
    'https://stapp01.blob.core.windows.net/Bad_Container/a.json',
    'https://stapp01.blob.core.windows.net/rotation-ledger/dir/a.json',
    'https://user:pw@stapp01.blob.core.windows.net/rotation-ledger/a.json',
    `https://stapp01.blob.core.windows.net/rotation-ledger/${'a'.repeat(3000)}`,
  ]) {
    const config = parseConfig({ ROTATION_LEDGER_URL: bad });
    assert.equal(config.ledger, undefined, bad);
    assert.equal(config.problems.length, 1, bad);
    assert.equal(config.problems[0]?.setting, 'ROTATION_LEDGER_URL');
    assert.doesNotMatch(config.problems[0]?.message ?? '', /secret|evil/, 'the value is never echoed');
  }
});

test('the backstop TTL applies only with a ledger, and is never below SECRET_CACHE_TTL_SECONDS', () => {
  const url = 'https://stapp01.blob.core.windows.net/rotation-ledger/a.json';
  const low = parseConfig({
    ROTATION_LEDGER_URL: url,
    SECRET_CACHE_TTL_SECONDS: '600',
    SECRET_CACHE_BACKSTOP_TTL_SECONDS: '60',
  });
  assert.equal(low.ledger?.backstopTtlMs, 600_000);
  const set = parseConfig({
    ROTATION_LEDGER_URL: url,
    SECRET_CACHE_BACKSTOP_TTL_SECONDS: '7200',
    ROTATION_LEDGER_POLL_SECONDS: '2',
  });
  assert.equal(set.ledger?.backstopTtlMs, 7_200_000);
  assert.equal(set.ledger?.pollMs, 2_000);
  const bad = parseConfig({ ROTATION_LEDGER_URL: url, ROTATION_LEDGER_POLL_SECONDS: '0' });
  assert.equal(bad.problems[0]?.setting, 'ROTATION_LEDGER_POLL_SECONDS');
  assert.equal(bad.ledger?.pollMs, 5_000);
});

test("docs/configuration.md's table gives every numeric setting's range and default as NUMERIC_SETTINGS declares them", () => {
  const page = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  for (const [name, spec] of Object.entries(NUMERIC_SETTINGS)) {
    const row = page.split('\n').find((line) => line.startsWith(`| \`${name}\``));
    assert.ok(row, `${name} has a row in the settings table`);
    assert.ok(row.includes(`${spec.min}–${spec.max}`), `${name}: range ${spec.min}–${spec.max} in its row`);
    assert.match(row, new RegExp(`default ${spec.default}\\b`), `${name}: default ${spec.default} in its row`);
  }
});
