/**
 * Settings that can never work, are far too wide, or would send the app's token to a host that is not a vault:
 * each is a configuration problem naming the setting (never its value), reported by the config check like the
 * others, and the setting does not take effect. Through the real handlers, with the Key Vault call replaced at its
 * seam (src/keyVault/testing.ts, which counts calls: a call there is where the SDK would send the token).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { configureKeyVault } from 'functions-keyvault/internal/keyVault/index.js';
import { body, capturingContext, get } from 'functions-keyvault/testing';
import { InMemoryVault } from 'functions-keyvault/testing';

const VAULT = 'https://kv-settings.vault.azure.net/';

function setup(settings: Record<string, string>) {
  const vault = new InMemoryVault();
  vault.set('db-password', 'canary-value-7d1e');
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: VAULT, SECRETS_ALLOWED: 'db-password', ...settings }),
    fetchSecret: vault.fetch,
    log: { warn: () => undefined, info: () => undefined },
  });
  return vault;
}

async function read(name: string) {
  const { context } = capturingContext('getSecret');
  return getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}`, { name }), context);
}

async function check() {
  const { context } = capturingContext('configCheck');
  return configCheckModule.configCheck(get('http://localhost/api/config/check'), context);
}

type Report = { health: string; configuration: { problems: Array<{ setting: string; message: string }> } };

const LONG_HOST = `${'a'.repeat(50)}.`.repeat(2_000) + 'vault.azure.net';

const CASES: Array<{ what: string; settings: Record<string, string>; setting: string; value?: string }> = [
  {
    what: 'a suffix wildcard',
    settings: { SECRETS_ALLOWED: 'db-password,*-password' },
    setting: 'SECRETS_ALLOWED',
    value: '*-password',
  },
  {
    what: 'a dot',
    settings: { SECRETS_ALLOWED: 'db-password,db.password' },
    setting: 'SECRETS_ALLOWED',
    value: 'db.password',
  },
  {
    what: 'an underscore',
    settings: { SECRETS_ALLOWED: 'db-password,db_key' },
    setting: 'SECRETS_ALLOWED',
    value: 'db_key',
  },
  { what: 'an inner star', settings: { SECRETS_ALLOWED: 'db-password,a*b' }, setting: 'SECRETS_ALLOWED', value: 'a*b' },
  { what: 'a lone star', settings: { SECRETS_ALLOWED: 'db-password,*' }, setting: 'SECRETS_ALLOWED' },
  { what: 'a host wildcard', settings: { KEY_VAULT_ALLOWED_HOSTS: '*' }, setting: 'KEY_VAULT_ALLOWED_HOSTS' },
  {
    what: 'a host pattern',
    settings: { KEY_VAULT_ALLOWED_HOSTS: '*.vault.local' },
    setting: 'KEY_VAULT_ALLOWED_HOSTS',
    value: 'vault.local',
  },
  { what: 'a TLD as DNS suffix', settings: { KEY_VAULT_DNS_SUFFIX: 'net' }, setting: 'KEY_VAULT_DNS_SUFFIX' },
  {
    what: 'a too-wide DNS suffix',
    settings: { KEY_VAULT_DNS_SUFFIX: 'azure-ish.net' },
    setting: 'KEY_VAULT_DNS_SUFFIX',
    value: 'azure-ish',
  },
  {
    what: 'a 100,000-character vault host',
    settings: { KEY_VAULT_URL: `https://${LONG_HOST}/` },
    setting: 'KEY_VAULT_URL',
    value: 'a'.repeat(50),
  },
  {
    what: 'a 100,000-character allowed host',
    settings: { KEY_VAULT_ALLOWED_HOSTS: LONG_HOST },
    setting: 'KEY_VAULT_ALLOWED_HOSTS',
    value: 'a'.repeat(50),
  },
];

for (const { what, settings, setting, value } of CASES) {
  test(`${setting} with ${what}: a configuration problem naming the setting, never the value`, async () => {
    setup(settings);
    const r = await check();
    assert.equal(r.status, 503);
    const report = body(r) as unknown as Report;
    assert.equal(report.health, 'degraded');
    assert.ok(
      report.configuration.problems.some((p) => p.setting === setting && p.message.startsWith(setting)),
      JSON.stringify(report.configuration.problems),
    );
    if (value !== undefined) assert.equal(JSON.stringify(r.jsonBody).includes(value), false, 'the value is not echoed');
    assert.ok(JSON.stringify(r.jsonBody).length < 100_000);
  });
}

test('bad allow-list entries allow nothing; the valid ones keep working; SECRETS_ALLOWED=* allows nothing', async () => {
  let vault = setup({ SECRETS_ALLOWED: 'db-password,*-password,db.password,a*b' });
  vault.set('x-password', 'x');
  assert.equal((await read('db-password')).status, 200);
  assert.equal((await read('x-password')).status, 403);
  vault = setup({ SECRETS_ALLOWED: '*' });
  assert.equal((await read('db-password')).status, 403, 'a lone * is refused, not read as "everything"');
  assert.match(
    String((body(await check()) as unknown as Report).configuration.problems[0]?.message),
    /SECRETS_ALLOWED: a lone "\*" \(every secret in the vault\) is refused: list the names, or a prefix such as app-\*/,
  );
  assert.equal(vault.calls, 1, 'only the config check probe');
});

test('KEY_VAULT_DNS_SUFFIX=net does not make every *.net host a trusted vault', async () => {
  const vault = setup({
    KEY_VAULT_DNS_SUFFIX: 'net',
    WEBSITE_INSTANCE_ID: 'in-azure',
    CONFIG_CHECK_SETTINGS: 'FOREIGN',
    FOREIGN: '@Microsoft.KeyVault(SecretUri=https://collector.example.net/secrets/db-password)',
  });
  const report = body(await check()) as { settings: Array<{ name: string; state: string }> };
  assert.deepEqual(
    report.settings.map((s) => s.state),
    ['untrusted-reference'],
  );
  assert.equal(vault.calls, 1, 'only the probe of KEY_VAULT_URL');
});

test('KEY_VAULT_ALLOWED_HOSTS=* trusts no host', async () => {
  const vault = setup({
    KEY_VAULT_ALLOWED_HOSTS: '*,*.vault.local',
    KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    WEBSITE_INSTANCE_ID: 'in-azure',
    CONFIG_CHECK_SETTINGS: 'STAR,PATTERN',
    STAR: '@Microsoft.KeyVault(SecretUri=https://collector.example/secrets/db-password)',
    PATTERN: '@Microsoft.KeyVault(SecretUri=https://x.vault.local/secrets/db-password)',
  });
  const report = body(await check()) as { settings: Array<{ name: string; state: string }> };
  assert.deepEqual(
    report.settings.map((s) => s.state),
    ['untrusted-reference', 'untrusted-reference'],
  );
  assert.equal(vault.calls, 1);
});

test('verification off: a KEY_VAULT_URL host that is not a vault gets no token; the problem says how to allow it', async () => {
  const vault = setup({
    KEY_VAULT_URL: 'https://evil.example.com/',
    KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
  });
  const r = await read('db-password');
  assert.equal(r.status, 503);
  assert.match(String(body(r).type), /key-vault-not-configured/);
  assert.match(
    String(body(r).detail),
    /not a vault URL the app accepts \(the config check, GET \/api\/config\/check, says why\)/,
  );
  const c = await check();
  assert.equal(c.status, 503);
  const report = body(c) as unknown as Report & { keyVault: { configured: boolean; detail: string } };
  assert.equal(report.keyVault.configured, false);
  const problem = report.configuration.problems.find((p) => p.setting === 'KEY_VAULT_URL');
  assert.match(String(problem?.message), /not under a Key Vault DNS suffix .* nor loopback/);
  assert.match(String(problem?.message), /add the host to KEY_VAULT_ALLOWED_HOSTS or set KEY_VAULT_DNS_SUFFIX/);
  assert.equal(JSON.stringify(c.jsonBody).includes('evil.example'), false, 'the value is not echoed');
  assert.equal(vault.calls, 0, 'nothing was sent to that host: no call, so no token');
});

test('a KEY_VAULT_URL host is accepted under a cloud suffix, KEY_VAULT_DNS_SUFFIX, loopback, or when listed', async () => {
  for (const settings of <Array<Record<string, string>>>[
    { KEY_VAULT_URL: 'https://kv.vault.azure.cn/' },
    { KEY_VAULT_URL: 'https://kv.vault.usgovcloudapi.net/' },
    {
      KEY_VAULT_URL: 'https://kv.vault.local.azurestack.external/',
      KEY_VAULT_DNS_SUFFIX: 'vault.local.azurestack.external',
    },
    { KEY_VAULT_URL: 'https://127.0.0.1:8443/' },
    { KEY_VAULT_URL: 'https://localhost:8443/' },
    {
      KEY_VAULT_URL: 'https://my-vault.internal.example:8443/',
      KEY_VAULT_ALLOWED_HOSTS: 'my-vault.internal.example:8443',
    },
  ]) {
    const vault = setup({ ...settings, KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true' });
    const r = await read('db-password');
    assert.equal(r.status, 200, JSON.stringify(settings));
    assert.equal(vault.calls, 1);
  }
});
