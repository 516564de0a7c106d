/**
 * Local settings as the local tools read them (scripts/local-settings.mjs, used by `npm start` and `npm run secrets`):
 * the two profile examples, the profile line and its warnings, and NODE_EXTRA_CA_CERTS from the shell and from
 * local.settings.json combined (issue: `npm run secrets` failed with "self-signed certificate" whenever the shell
 * already set NODE_EXTRA_CA_CERTS). Offline: the vault is a loopback HTTPS fixture with a throw-away certificate.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import type * as LocalSettingsModule from '../scripts/local-settings.mjs';
import { FaultProxy, fixtureTls } from './support/faultProxy.js';
import { runNode } from './support/runNode.js';
import { TokenEndpoint } from './support/tokenEndpoint.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const local = (await import(
  pathToFileURL(join(ROOT, 'scripts', 'local-settings.mjs')).href
)) as typeof LocalSettingsModule;
const CLI = join(ROOT, 'dist', 'scripts', 'secrets.js');
const START = join(ROOT, 'scripts', 'start.mjs');

function example(profile: 'emulator' | 'azure'): Record<string, string> {
  const file = join(ROOT, local.PROFILE_EXAMPLES[profile]);
  return (JSON.parse(readFileSync(file, 'utf8')) as { Values: Record<string, string> }).Values;
}

/** The environment of a child that must take its settings from local.settings.json, as on a developer machine. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(IDENTITY_|IMDS_ENDPOINT|AZURE_|KEY_VAULT_|SECRET|NODE_EXTRA_CA_CERTS|LOCAL_)/.test(k)) continue;
    if (k === local.CA_CHILD_MARKER || k === 'CONFIG_CHECK_SETTINGS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const scratch = mkdtempSync(join(tmpdir(), 'local-settings-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A CA file that does not vouch for the fixture: one public root, as a corporate proxy's CA file would be. */
const unrelatedCa = join(scratch, 'unrelated-ca.pem');
writeFileSync(unrelatedCa, rootCertificates[0]!);

function project(values: Record<string, string> | undefined): string {
  const dir = mkdtempSync(join(scratch, 'project-'));
  if (values) writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ IsEncrypted: false, Values: values }));
  return dir;
}

describe('NODE_EXTRA_CA_CERTS from the environment and from local.settings.json', () => {
  const present = new Set(['/corp/ca.pem', '/app/.emulators/vault/ca.pem']);
  const exists = (p: string) => present.has(p);

  test('only the environment: nothing to do', () => {
    const plan = local.planExtraCaCerts({
      envValue: '/corp/ca.pem',
      settingsValue: undefined,
      cwd: '/app',
      settingsDir: '/app',
      exists,
    });
    assert.deepEqual(plan, { files: ['/corp/ca.pem'], missing: [], restart: false });
  });

  test("only local.settings.json: its file, resolved against the file's directory, needs a restart", () => {
    const plan = local.planExtraCaCerts({
      envValue: undefined,
      settingsValue: '.emulators/vault/ca.pem',
      cwd: '/elsewhere',
      settingsDir: '/app',
      exists,
    });
    assert.deepEqual(plan, { files: ['/app/.emulators/vault/ca.pem'], missing: [], restart: true });
  });

  test('both: both files, the environment first, and a restart (the environment no longer wins alone)', () => {
    const plan = local.planExtraCaCerts({
      envValue: '/corp/ca.pem',
      settingsValue: '.emulators/vault/ca.pem',
      cwd: '/app',
      settingsDir: '/app',
      exists,
    });
    assert.deepEqual(plan, { files: ['/corp/ca.pem', '/app/.emulators/vault/ca.pem'], missing: [], restart: true });
  });

  test('both naming the same file (relative and absolute): once, no restart', () => {
    const plan = local.planExtraCaCerts({
      envValue: '/app/.emulators/vault/ca.pem',
      settingsValue: '.emulators/vault/ca.pem',
      cwd: '/',
      settingsDir: '/app',
      exists,
    });
    assert.deepEqual(plan, { files: ['/app/.emulators/vault/ca.pem'], missing: [], restart: false });
  });

  test('a file that does not exist is left out and reported, never passed on', () => {
    const noEmulator = local.planExtraCaCerts({
      envValue: '/corp/ca.pem',
      settingsValue: '.lowkey/lowkey-vault.pem',
      cwd: '/app',
      settingsDir: '/app',
      exists,
    });
    assert.deepEqual(noEmulator.files, ['/corp/ca.pem']);
    assert.equal(noEmulator.restart, false);
    assert.deepEqual(noEmulator.missing, [{ from: 'local.settings.json', file: '/app/.lowkey/lowkey-vault.pem' }]);
    const [line] = local.missingCaLines(noEmulator.missing);
    assert.match(line!, /in local\.settings\.json names \/app\/\.lowkey\/lowkey-vault\.pem, which does not exist/);
    assert.match(line!, /npm run vault:start writes it/);

    const staleShell = local.planExtraCaCerts({
      envValue: '/gone.pem',
      settingsValue: '.emulators/vault/ca.pem',
      cwd: '/app',
      settingsDir: '/app',
      exists,
    });
    assert.deepEqual(staleShell.files, ['/app/.emulators/vault/ca.pem']);
    assert.equal(staleShell.restart, true);
    assert.deepEqual(
      staleShell.missing.map((m) => m.from),
      ['environment'],
    );
  });

  test('neither: nothing', () => {
    const plan = local.planExtraCaCerts({
      envValue: ' ',
      settingsValue: '',
      cwd: '/app',
      settingsDir: '/app',
      exists,
    });
    assert.deepEqual(plan, { files: [], missing: [], restart: false });
  });

  test('the bundle holds every certificate of every file, in order, each newline-terminated', () => {
    assert.equal(local.caBundle(['A\n', '  B  ', '', 'C']), 'A\nB\nC\n');
    const [a, b] = [rootCertificates[0]!, rootCertificates[1]!];
    const bundle = local.caBundle([a, `${b}\n\n`]);
    assert.equal(bundle.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2);
    assert.ok(bundle.startsWith(a.trim()) && bundle.includes(`-----\n${b.trim()}`));
  });
});

describe('effective settings: the environment wins, as under func start', () => {
  test('a non-empty environment value wins; an empty one does not; environment-only names are kept', () => {
    const values = { A: 'file', B: 'file', C: 'file' };
    const env = { A: 'env', B: '', D: 'env' };
    assert.deepEqual(local.effectiveSettings(values, env), { A: 'env', B: 'file', C: 'file', D: 'env' });
    assert.equal(local.settingSource('A', values, env), 'environment');
    assert.equal(local.settingSource('B', values, env), 'local.settings.json');
    assert.equal(local.settingSource('E', values, env), undefined);
  });
});

describe('the profile line', () => {
  const emulator = example('emulator');
  const azure = { ...example('azure'), KEY_VAULT_URL: 'https://kv-demo.vault.azure.net/' };

  test('the example with the Go pair running: the token path is named, not an unreachable vault', () => {
    // The facts `npm run vault:start` saves for the Go pair on the default ports.
    const goPair = {
      description: 'azure-keyvault-emulator v0.7.0 + entra-emulator v0.9.0 (go install)',
      vaultUrl: 'https://127.0.0.1:8443/',
      identityEndpoint: 'http://127.0.0.1:8080/msi/token',
      identityHeader: 'local-development',
      tokenAuthority: 'http://127.0.0.1:8080',
      apiVersion: '7.5',
      caFile: '/nonexistent/ca.pem',
      pids: [1],
    };
    const r = local.profileReport({ exists: true, values: emulator, env: {}, emulator: goPair });
    assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
    assert.match(
      r.warnings[0]!,
      /^Warning: IDENTITY_ENDPOINT in local\.settings\.json is http:\/\/127\.0\.0\.1:8080\/metadata\/identity\/oauth2\/token, but the running emulator \(azure-keyvault-emulator .*\) wants http:\/\/127\.0\.0\.1:8080\/msi\/token: no token comes from that path.*npm run vault:status/,
    );
    // Lowkey on the default ports matches the example: nothing to say.
    const lowkey = {
      ...goPair,
      description: 'Lowkey Vault 7.3.74 (jar)',
      identityEndpoint: emulator.IDENTITY_ENDPOINT!,
    };
    assert.deepEqual(local.profileReport({ exists: true, values: emulator, env: {}, emulator: lowkey }).warnings, []);
    // The shell wins, as under func start, and the warning says where the value came from.
    const shell = { IDENTITY_ENDPOINT: 'http://127.0.0.1:8080/msi/token' };
    assert.deepEqual(
      local.profileReport({ exists: true, values: emulator, env: shell, emulator: goPair }).warnings,
      [],
    );
    assert.equal(local.runningVaultEmulator(join(ROOT, 'no-such-project')), undefined);
  });

  test('emulator and azure profiles say so, and where LOCAL_PROFILE came from', () => {
    const e = local.profileReport({ exists: true, values: emulator, env: {} });
    assert.equal(e.profile, 'emulator');
    assert.equal(
      e.line,
      'Local profile: emulator (LOCAL_PROFILE in local.settings.json): a local Key Vault emulator, tokens from its ' +
        'identity endpoint; vault https://127.0.0.1:8443/',
    );
    assert.deepEqual(e.warnings, []);
    const a = local.profileReport({ exists: true, values: azure, env: {} });
    assert.equal(a.profile, 'azure');
    assert.match(
      a.line,
      /^Local profile: azure \(LOCAL_PROFILE in local\.settings\.json\): a real vault, your own sign-in \(az login \/ azd auth login\); vault https:\/\/kv-demo\.vault\.azure\.net\/$/,
    );
    assert.deepEqual(a.warnings, []);
    const fromEnv = local.profileReport({ exists: false, values: {}, env: { LOCAL_PROFILE: 'azure' } });
    assert.match(fromEnv.line, /^Local profile: azure \(LOCAL_PROFILE in the environment\)/);
  });

  test('no local.settings.json: environment only', () => {
    const r = local.profileReport({ exists: false, values: {}, env: { KEY_VAULT_URL: 'https://x.vault.azure.net/' } });
    assert.equal(r.profile, undefined);
    assert.equal(
      r.line,
      'Local profile: none (no local.settings.json): environment only; vault https://x.vault.azure.net/',
    );
  });

  test('a local.settings.json without LOCAL_PROFILE, or with an unknown one, says what to do', () => {
    const none = local.profileReport({ exists: true, values: { KEY_VAULT_URL: 'https://x/' }, env: {} });
    assert.match(
      none.line,
      /none named \(local\.settings\.json has no LOCAL_PROFILE; copy local\.settings\.json\.example or local\.settings\.azure\.json\.example\)/,
    );
    const bad = local.profileReport({ exists: true, values: { LOCAL_PROFILE: 'prod' }, env: {} });
    assert.equal(bad.profile, undefined);
    assert.match(
      bad.line,
      /"prod" is not a profile \(LOCAL_PROFILE in local\.settings\.json must be emulator or azure\)/,
    );
  });

  test('the azure profile with IDENTITY_ENDPOINT still set (file or shell) is warned about, naming where', () => {
    const inFile = local.profileReport({
      exists: true,
      values: { ...azure, IDENTITY_ENDPOINT: 'http://127.0.0.1:8080/msi/token', IDENTITY_HEADER: 'x' },
      env: {},
    });
    assert.equal(inFile.warnings.length, 1);
    assert.match(inFile.warnings[0]!, /IDENTITY_ENDPOINT is set in local\.settings\.json/);
    assert.match(inFile.warnings[0]!, /Remove IDENTITY_ENDPOINT and IDENTITY_HEADER/);
    const inShell = local.profileReport({ exists: true, values: azure, env: { IDENTITY_ENDPOINT: 'http://x/' } });
    assert.match(inShell.warnings[0]!, /IDENTITY_ENDPOINT is set in the environment/);
    // The emulator profile needs it: no warning there.
    assert.deepEqual(local.profileReport({ exists: true, values: emulator, env: {} }).warnings, []);
  });

  test("the azure profile with the emulator's verification switch, or the unedited placeholder, is warned about", () => {
    const r = local.profileReport({
      exists: true,
      values: { ...example('azure'), KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true' },
      env: {},
    });
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings[0]!, /KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION=true, which is for emulators only/);
    assert.match(r.warnings[1]!, /KEY_VAULT_URL is still the example's placeholder/);
  });

  test('an empty or malformed vault name is warned about, with what to run (README sed line without azd)', () => {
    // What `sed "s/<your-vault-name>/$(azd env get-value AZURE_KEY_VAULT_NAME)/g"` writes where azd is missing.
    const sedWithoutAzd = JSON.parse(JSON.stringify(example('azure')).replaceAll('<your-vault-name>', '')) as Record<
      string,
      string
    >;
    assert.equal(sedWithoutAzd.KEY_VAULT_URL, 'https://.vault.azure.net/');
    const empty = local.profileReport({ exists: true, values: sedWithoutAzd, env: {} });
    assert.equal(empty.warnings.length, 1, empty.warnings.join('\n'));
    assert.match(empty.warnings[0]!, /^Warning: KEY_VAULT_URL has no vault name \(https:\/\/\.vault\.azure\.net\/\)/);
    assert.match(empty.warnings[0]!, /azd env get-value AZURE_KEY_VAULT_NAME/);
    assert.match(empty.warnings[0]!, /az keyvault list/);

    const cases: [string, RegExp][] = [
      ['https://vault.azure.net/', /has no vault name/],
      ["https://ERROR: key 'AZURE_KEY_VAULT_NAME' not found.vault.azure.net/", /is not a URL/],
      ['https://kv--demo.vault.azure.net/', /"kv--demo", which is not a Key Vault name/],
      ['https://1kv.vault.azure.cn/', /"1kv", which is not a Key Vault name/],
      ['https://kv.vault.azure.net/', /"kv", which is not a Key Vault name/],
    ];
    for (const [url, expected] of cases) {
      const r = local.profileReport({ exists: true, values: { ...azure, KEY_VAULT_URL: url }, env: {} });
      assert.equal(r.warnings.length, 1, url);
      assert.match(r.warnings[0]!, expected, url);
    }
    // In the shell, or with no profile: still said, naming where it came from.
    const shell = local.profileReport({
      exists: false,
      values: {},
      env: { KEY_VAULT_URL: 'https://.vault.azure.net/' },
    });
    assert.match(shell.warnings[0]!, /has no vault name \(https:\/\/\.vault\.azure\.net\/\) in the environment/);
    // The azure profile with no vault at all.
    const unset = local.profileReport({ exists: true, values: { LOCAL_PROFILE: 'azure' }, env: {} });
    assert.match(unset.warnings[0]!, /^Warning: KEY_VAULT_URL is not set: azd env get-value AZURE_KEY_VAULT_NAME/);
    // Good names, sovereign clouds, emulators on loopback, other hosts (Azure Stack Hub): no warning.
    for (const url of [
      'https://kv-demo.vault.azure.net/',
      'https://kv-demo-2.vault.usgovcloudapi.net/',
      'https://a23456789012345678901234.vault.azure.net/',
      'https://myvault.vault.local.azurestack.external/',
    ]) {
      assert.deepEqual(
        local.profileReport({ exists: true, values: { ...azure, KEY_VAULT_URL: url }, env: {} }).warnings,
        [],
        url,
      );
    }
    assert.deepEqual(local.profileReport({ exists: true, values: emulator, env: {} }).warnings, []);
    assert.equal(
      local.vaultUrlProblem('https://a234567890123456789012345.vault.azure.net/')?.includes('not a Key Vault name'),
      true,
      '25 characters',
    );
  });

  test('the profile it names is the one src/config.ts parses (LOCAL_PROFILE)', () => {
    for (const value of ['emulator', 'azure', 'prod', '', undefined]) {
      const env = value === undefined ? {} : { LOCAL_PROFILE: value };
      const report = local.profileReport({ exists: true, values: env, env: {} });
      const config = parseConfig(env);
      assert.equal(report.profile, config.localProfile, `LOCAL_PROFILE=${String(value)}`);
    }
  });
});

describe('the two profile examples', () => {
  test('emulator: the harness settings npm run vault:start prints, and its certificate path', async () => {
    const values = example('emulator');
    const { appEnvFor } = (await import(pathToFileURL(join(ROOT, 'scripts', 'emulators', 'index.mjs')).href)) as {
      appEnvFor: (facts: Record<string, string>) => Record<string, string>;
    };
    const caFile = join(scratch, 'harness-ca.pem');
    writeFileSync(caFile, rootCertificates[0]!);
    const printed = appEnvFor({
      vaultUrl: 'https://127.0.0.1:8443/',
      apiVersion: '7.5',
      identityEndpoint: 'http://127.0.0.1:8080/metadata/identity/oauth2/token',
      identityHeader: 'local-development',
      tokenAuthority: 'http://127.0.0.1:8080',
      caFile,
    });
    for (const [name, value] of Object.entries(printed)) {
      if (name === 'NODE_EXTRA_CA_CERTS') continue;
      assert.equal(values[name], value, `${name} as npm run vault:start prints it (default ports)`);
    }
    // The harness copies the certificate of whichever emulator runs to <state dir>/ca.pem; vault:start's state dir:
    assert.equal(values.NODE_EXTRA_CA_CERTS, '.emulators/vault/ca.pem');
    assert.match(readFileSync(join(ROOT, 'scripts', 'vault.mjs'), 'utf8'), /join\(ROOT, '\.emulators', 'vault'\)/);
    assert.match(readFileSync(join(ROOT, 'scripts', 'emulators', 'index.mjs'), 'utf8'), /join\(dir, 'ca\.pem'\)/);

    const config = parseConfig(values);
    assert.deepEqual(config.problems, []);
    assert.equal(config.localProfile, 'emulator');
    assert.equal(config.identity.managedIdentityEndpoint, true);
    assert.equal(config.disableChallengeResourceVerification, true);
    assert.equal(config.apiVersion, '7.5');
  });

  test('azure: your own sign-in, nothing of the emulator; an unedited copy is a configuration problem', () => {
    const values = example('azure');
    for (const name of [
      'IDENTITY_ENDPOINT',
      'IDENTITY_HEADER',
      'IMDS_ENDPOINT',
      'AZURE_POD_IDENTITY_AUTHORITY_HOST',
      'KEY_VAULT_API_VERSION',
      'KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION',
      'NODE_EXTRA_CA_CERTS',
    ]) {
      assert.equal(values[name], undefined, `${name} has no place in the azure profile`);
    }
    const edited = JSON.parse(JSON.stringify(values).replaceAll('<your-vault-name>', 'kv-demo')) as Record<
      string,
      string
    >;
    const config = parseConfig(edited);
    assert.deepEqual(config.problems, []);
    assert.equal(config.localProfile, 'azure');
    assert.equal(config.vaultUrl, 'https://kv-demo.vault.azure.net/');
    assert.equal(
      config.identity.managedIdentityEndpoint,
      false,
      'the developer chain (az, azd), not a managed identity',
    );
    assert.equal(config.disableChallengeResourceVerification, false);
    assert.equal(config.apiVersion, undefined);
    assert.deepEqual(
      parseConfig(values).problems.map((p) => p.setting),
      ['KEY_VAULT_URL'],
      'the placeholder is not a vault',
    );
  });

  test('docs/configuration.md explains every setting of both examples', () => {
    const page = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const start = page.indexOf('\n## Every setting of the two local profiles');
    assert.ok(start > 0, "docs/configuration.md has a section for the profiles' settings");
    const end = page.indexOf('\n## ', start + 1);
    const section = page.slice(start, end < 0 ? undefined : end);
    for (const name of new Set([...Object.keys(example('emulator')), ...Object.keys(example('azure'))])) {
      assert.match(section, new RegExp(`\\n\\| \`${name}\` +\\|`), `${name} has a row in the profiles table`);
    }
  });

  test('the example a user copies first is local.settings.json.example, the emulator profile; the azure one is second', () => {
    assert.deepEqual(local.PROFILE_EXAMPLES, {
      emulator: 'local.settings.json.example',
      azure: 'local.settings.azure.json.example',
    });
    assert.equal(example('emulator').LOCAL_PROFILE, 'emulator');
    assert.equal(example('azure').LOCAL_PROFILE, 'azure');
    const examples = readdirSync(ROOT).filter((f) => /^local\.settings\..*example$/.test(f));
    assert.deepEqual(examples.sort(), ['local.settings.azure.json.example', 'local.settings.json.example']);
  });
});

const tls = fixtureTls();
describe(
  'npm run secrets with NODE_EXTRA_CA_CERTS already set in the shell',
  { skip: tls ? false : 'no TLS material for the HTTPS fixture (openssl missing)' },
  () => {
    const NAME = 'demo-fixture';
    const VERSION = '0123456789abcdef0123456789abcdef';
    let vault: FaultProxy;
    let tokens: TokenEndpoint;
    let dir: string;
    let cliTmp: string;

    function settings(withCa: boolean): Record<string, string> {
      return {
        LOCAL_PROFILE: 'emulator',
        KEY_VAULT_URL: `${vault.url}/`,
        KEY_VAULT_API_VERSION: '7.5',
        KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
        KEY_VAULT_TIMEOUT_MS: '30000', // generous: no answer here may become a timeout on a loaded machine
        IDENTITY_ENDPOINT: tokens.url,
        IDENTITY_HEADER: 'local-development',
        IMDS_ENDPOINT: 'http://127.0.0.1:9',
        AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9',
        // Relative, as in the emulator example: resolved against the project directory.
        ...(withCa ? { NODE_EXTRA_CA_CERTS: join('certs', 'vault-ca.pem') } : {}),
      };
    }

    before(async () => {
      vault = await FaultProxy.start('https://127.0.0.1:9', tls);
      tokens = await TokenEndpoint.start();
      dir = project(undefined);
      cliTmp = mkdtempSync(join(scratch, 'tmp-'));
      mkdirSync(join(dir, 'certs'));
      copyFileSync(process.env.TEST_PROXY_CERT!, join(dir, 'certs', 'vault-ca.pem'));
    });
    after(async () => {
      await vault?.close();
      await tokens?.close();
    });

    function get(withCa: boolean, env: Record<string, string>) {
      writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ Values: settings(withCa) }));
      vault.reset();
      vault.fault = {
        kind: 'challenge',
        status: 200,
        body: JSON.stringify({
          value: 'fixture-value',
          id: `${vault.url}/secrets/${NAME}/${VERSION}`,
          contentType: 'text/plain',
          attributes: { enabled: true, created: 1_700_000_000, updated: 1_700_000_000 },
        }),
      };
      // Asynchronously: the fixtures answer from this process. Its temporary directory is this test's own, so the
      // combined-certificate count below sees only this CLI's files, not those of anything else running on the
      // machine (another test run, npm start).
      return runNode([CLI, 'get', NAME], { cwd: dir, env: cleanEnv({ ...privateTmp(), ...env }) });
    }

    const privateTmp = () => ({ TMPDIR: cliTmp, TMP: cliTmp, TEMP: cliTmp });
    const bundlesLeft = () => readdirSync(cliTmp).filter((f) => f.startsWith('local-settings-ca-')).length;

    test('shell unset: the certificate from local.settings.json is trusted', async () => {
      const r = await get(true, {});
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${NAME} version ${VERSION} enabled=true contentType=text/plain`, 'm'));
      assert.equal(r.stderr.match(/Local profile: emulator/g)?.length, 1, 'the profile line, once');
    });

    test('shell set to another CA file: both are trusted (this failed with "self-signed certificate")', async () => {
      const before = bundlesLeft();
      const r = await get(true, { NODE_EXTRA_CA_CERTS: unrelatedCa });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${NAME} version ${VERSION} `, 'm'));
      assert.doesNotMatch(r.stderr, /certificate/i);
      assert.ok(vault.tokens.length >= 1, 'the read carried a token from the identity endpoint');
      assert.ok(tokens.requests >= 1);
      assert.equal(bundlesLeft(), before, 'the combined certificate file is removed afterwards');
    });

    test('control: without the certificate in local.settings.json the fixture is not trusted', async () => {
      const r = await get(false, { NODE_EXTRA_CA_CERTS: unrelatedCa });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^Local profile: emulator/);
      assert.doesNotMatch(r.stdout, /fixture-value|version/);
    });
  },
);

describe('the secrets CLI prints the profile line before anything else', () => {
  test('azure profile with IDENTITY_ENDPOINT left in: the line and the warning, then the usual error', () => {
    const dir = project({
      ...example('azure'),
      KEY_VAULT_URL: 'https://kv-demo.vault.azure.net/',
      IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token',
      IDENTITY_HEADER: 'x',
    });
    const r = spawnSync(process.execPath, [CLI, 'get', 'bad_name'], { cwd: dir, encoding: 'utf8', env: cleanEnv() });
    assert.equal(r.status, 2);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0]!, /^Local profile: azure \(LOCAL_PROFILE in local\.settings\.json\)/);
    assert.match(
      lines[1]!,
      /^Warning: the azure profile signs in as you, but IDENTITY_ENDPOINT is set in local\.settings\.json/,
    );
    assert.match(lines[2]!, /not a valid secret name/);
  });

  test('no local.settings.json: environment only', () => {
    const r = spawnSync(process.execPath, [CLI, 'list'], {
      cwd: project(undefined),
      encoding: 'utf8',
      env: cleanEnv(),
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^Local profile: none \(no local\.settings\.json\): environment only; vault not set\n/);
    assert.match(r.stderr, /KEY_VAULT_URL is not set/);
  });
});

describe(
  'npm start (scripts/start.mjs) with a stand-in func',
  { skip: process.platform === 'win32' ? 'the stand-in func is a shebang script' : false },
  () => {
    let bin: string;
    before(() => {
      bin = mkdtempSync(join(scratch, 'bin-'));
      const fake = join(bin, 'func');
      // Answers --version; for `start`, records its arguments, directory and NODE_EXTRA_CA_CERTS (and that file).
      writeFileSync(
        fake,
        `#!${process.execPath}\n` +
          `const fs = require('node:fs');\n` +
          `if (process.argv[2] === '--version') { console.log('4.0.0-stand-in'); process.exit(0); }\n` +
          `const ca = process.env.NODE_EXTRA_CA_CERTS;\n` +
          `fs.writeFileSync(process.env.FAKE_FUNC_OUT, JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd(), ca,\n` +
          `  caText: ca && fs.existsSync(ca) ? fs.readFileSync(ca, 'utf8') : null }));\n`,
      );
      chmodSync(fake, 0o755);
    });

    function start(dir: string, env: Record<string, string>) {
      const out = join(scratch, `func-${randomUUID()}.json`);
      const r = spawnSync(process.execPath, [START, '--port', '7079'], {
        cwd: dir,
        encoding: 'utf8',
        env: cleanEnv({ ...env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, FAKE_FUNC_OUT: out }),
      });
      const seen = existsSync(out)
        ? (JSON.parse(readFileSync(out, 'utf8')) as { args: string[]; cwd: string; ca?: string; caText: string | null })
        : undefined;
      return { ...r, seen };
    }

    test('both set: func gets one file with both certificates, removed when func exits; the profile line first', () => {
      const dir = project({ ...example('emulator'), NODE_EXTRA_CA_CERTS: join('certs', 'emulator.pem') });
      mkdirSync(join(dir, 'certs'));
      writeFileSync(join(dir, 'certs', 'emulator.pem'), rootCertificates[1]!);
      const r = start(dir, { NODE_EXTRA_CA_CERTS: unrelatedCa });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /^Local profile: emulator \(LOCAL_PROFILE in local\.settings\.json\)/);
      assert.match(
        r.stderr,
        /NODE_EXTRA_CA_CERTS is set in your shell and in local\.settings\.json; func would keep only the shell's/,
      );
      assert.deepEqual(r.seen?.args, ['start', '--port', '7079']);
      assert.equal(resolve(r.seen.cwd), resolve(dir));
      assert.equal(r.seen?.caText, local.caBundle([rootCertificates[0]!, rootCertificates[1]!]));
      assert.equal(existsSync(r.seen.ca!), false, 'the combined file is removed after func exits');
    });

    test('only local.settings.json names one: left to func, which sets it from the file', () => {
      const dir = project({ ...example('emulator'), NODE_EXTRA_CA_CERTS: 'emulator.pem' });
      writeFileSync(join(dir, 'emulator.pem'), rootCertificates[1]!);
      const r = start(dir, {});
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.seen?.ca, undefined);
      assert.doesNotMatch(r.stderr, /NODE_EXTRA_CA_CERTS/);
    });

    test('no local.settings.json, or the azure profile with IDENTITY_ENDPOINT: said before func starts', () => {
      const none = start(project(undefined), {});
      assert.equal(none.status, 0, none.stderr);
      assert.match(none.stderr, /^Local profile: none \(no local\.settings\.json\): environment only/);
      assert.match(none.stderr, /copy local\.settings\.json\.example .* or local\.settings\.azure\.json\.example/);
      const azure = start(project({ ...example('azure'), KEY_VAULT_URL: 'https://kv-demo.vault.azure.net/' }), {
        IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token',
      });
      assert.match(azure.stderr, /^Local profile: azure/);
      assert.match(azure.stderr, /IDENTITY_ENDPOINT is set in the environment/);
    });
  },
);
