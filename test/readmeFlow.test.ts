/**
 * The emulator profile of docs/local-development.md (the README quickstart's first path) as a tested path: against
 * the Key Vault emulator the test harness started (standing in for `npm run vault:start`), copy
 * local.settings.json.example to a project's local.settings.json with the harness's ports, run the secrets CLI there
 * (set, get, list), read through the secret function and the config check with the settings func start would load
 * from that file, then delete. Twice: with NODE_EXTRA_CA_CERTS unset in the shell, and set to the system CA bundle
 * (the emulator's certificate must be trusted either way). The emulator's start and stop are the harness's
 * (scripts/run-tests.mjs). Skipped without an emulator.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { configureKeyVault, declareSetting, resolveSetting } from 'functions-keyvault/internal/keyVault/index.js';
import { emulator, skipUnlessEmulator, uniqueName } from './support/emulator.js';
import { runNode } from './support/runNode.js';
import { body, capturingContext, get } from 'functions-keyvault/testing';

// Read with resolveSetting() below, as a function would: declared first.
declareSetting('DEMO_SECRET_REFERENCE', 'the demo Key Vault reference, read as a function would');

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'scripts', 'secrets.js');
const CALL = join(ROOT, 'dist', 'scripts', 'call.js');
const EXAMPLE = join(ROOT, 'local.settings.json.example');
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

const scratch = mkdtempSync(join(tmpdir(), 'readme-flow-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The system CA bundle; where there is none at the Debian path, Node's own root store written to a file. */
function systemBundle(): string {
  if (existsSync(SYSTEM_BUNDLE)) return SYSTEM_BUNDLE;
  const file = join(scratch, 'system-roots.pem');
  writeFileSync(file, rootCertificates.join('\n'));
  return file;
}

/** A developer's shell: none of the settings the test runner points at loopback, no extra certificates. */
function shell(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(IDENTITY_|IMDS_ENDPOINT|AZURE_|KEY_VAULT_|SECRET|NODE_EXTRA_CA_CERTS|LOCAL_|CONFIG_CHECK_)/.test(k))
      continue;
    if (/^TEST_PROXY_/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** `npm run secrets -- <args>` in `dir` (what npm runs after the build, with the project as working directory). */
function secrets(dir: string, env: Record<string, string>, args: string[]) {
  return runNode([CLI, ...args], { cwd: dir, env });
}

/**
 * `cp local.settings.json.example local.settings.json` in a new project directory, with what a user would
 * change for the emulator that runs: its ports (and, on the Go pair, its identity path), the identity header, the
 * API version, and the demo secret's name. The certificate goes where vault:start writes it, so the example's
 * relative NODE_EXTRA_CA_CERTS stays as it is.
 */
function projectFromExample(name: string): { dir: string; values: Record<string, string> } {
  const e = emulator!;
  const text = readFileSync(EXAMPLE, 'utf8');
  const original = (JSON.parse(text) as { Values: Record<string, string> }).Values;
  // The example is written for vault:start's defaults; only those are replaced.
  assert.equal(original.KEY_VAULT_URL, 'https://127.0.0.1:8443/');
  assert.equal(original.IDENTITY_ENDPOINT, 'http://127.0.0.1:8080/metadata/identity/oauth2/token');
  assert.equal(original.IDENTITY_HEADER, 'local-development');
  assert.equal(original.KEY_VAULT_API_VERSION, '7.5');
  assert.equal(original.NODE_EXTRA_CA_CERTS, '.emulators/vault/ca.pem');
  const adapted = text
    .replaceAll('https://127.0.0.1:8443/', e.vaultUrl)
    .replaceAll('http://127.0.0.1:8080/metadata/identity/oauth2/token', e.identityEndpoint)
    .replaceAll('http://127.0.0.1:8080', e.tokenAuthority)
    .replaceAll('"local-development"', JSON.stringify(e.identityHeader))
    .replaceAll('"KEY_VAULT_API_VERSION": "7.5"', `"KEY_VAULT_API_VERSION": ${JSON.stringify(e.apiVersion)}`)
    .replaceAll('demo-secret', name);
  const dir = mkdtempSync(join(scratch, 'project-'));
  writeFileSync(join(dir, 'local.settings.json'), adapted);
  assert.ok(e.caFile && existsSync(e.caFile), 'the harness reports the certificate file it wrote');
  mkdirSync(join(dir, '.emulators', 'vault'), { recursive: true });
  copyFileSync(e.caFile, join(dir, '.emulators', 'vault', 'ca.pem'));
  const values = (JSON.parse(adapted) as { Values: Record<string, string> }).Values;
  assert.deepEqual(Object.keys(values), Object.keys(original), 'same settings as the example');
  return { dir, values };
}

/**
 * What func start does with local.settings.json: every value becomes an environment variable of the host (and so of
 * the worker) unless the environment already defines it. Applied to this process for the duration of `fn`.
 */
async function asTheHost<T>(shellEnv: Record<string, string>, values: Record<string, string>, fn: () => Promise<T>) {
  const saved = { ...process.env };
  const hostEnv: Record<string, string> = { ...shellEnv };
  for (const [k, v] of Object.entries(values)) if (!hostEnv[k]) hostEnv[k] = v;
  for (const k of Object.keys(process.env)) if (!(k in hostEnv)) delete process.env[k];
  Object.assign(process.env, hostEnv);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('README local flow (emulator profile, docs/local-development.md) against the Key Vault emulator', () => {
  for (const variant of [
    { label: 'NODE_EXTRA_CA_CERTS unset in the shell', ca: () => undefined },
    { label: 'NODE_EXTRA_CA_CERTS set to the system CA bundle', ca: systemBundle },
  ]) {
    test(
      `set, get, list, read through the functions, delete: ${variant.label}`,
      { skip: skipUnlessEmulator },
      async () => {
        const name = uniqueName('demo');
        const value = `readme-flow-${Math.random().toString(36).slice(2)}`;
        const { dir, values } = projectFromExample(name);
        const ca = variant.ca();
        const env = shell(ca ? { NODE_EXTRA_CA_CERTS: ca } : {});

        const set = await secrets(dir, env, ['set', name, value]);
        assert.equal(set.status, 0, set.stderr);
        assert.match(set.stdout, new RegExp(`^set ${name} version [0-9a-f]{32} in ${emulator!.vaultUrl}`, 'm'));
        assert.equal(set.stdout.includes(value), false, 'set never prints the value');
        assert.equal(
          set.stderr.match(/^Local profile: emulator \(LOCAL_PROFILE in local\.settings\.json\)/gm)?.length,
          1,
        );
        assert.doesNotMatch(set.stderr, /certificate|Ignoring extra certs/i);

        const hidden = await secrets(dir, env, ['get', name]);
        assert.equal(hidden.status, 0, hidden.stderr);
        assert.match(hidden.stdout, /value hidden/);
        assert.equal(hidden.stdout.includes(value), false);
        const shown = await secrets(dir, env, ['get', name, '--show']);
        assert.equal(shown.status, 0, shown.stderr);
        assert.equal(shown.stdout.trim().split('\n').at(-1), value);
        const list = await secrets(dir, env, ['list']);
        assert.equal(list.status, 0, list.stderr);
        assert.match(list.stdout, new RegExp(`^${name} `, 'm'));
        assert.equal(list.stdout.includes(value), false);

        // npm run call: a function in this process, with the settings func start would load from local.settings.json.
        const called = await runNode([CALL, 'GET', `/api/secrets/${name}`], { cwd: dir, env });
        assert.equal(called.status, 0, called.stderr);
        assert.match(called.stdout, /^HTTP\/1\.1 200$/m);
        assert.equal((JSON.parse(called.stdout.split('\n\n')[1]!) as { value: string }).value, value);
        assert.match(called.stderr, /not a host/);

        // npm start: the host loads local.settings.json into its environment; the functions read through the app.
        await asTheHost(env, values, async () => {
          const config = parseConfig(process.env);
          assert.deepEqual(config.problems, []);
          assert.equal(config.localProfile, 'emulator');
          assert.equal(config.vaultUrl, emulator!.vaultUrl);
          configureKeyVault({ config, log: { warn: () => undefined, info: () => undefined } });

          const { context } = capturingContext('getSecret');
          const read = await getSecretModule.getSecret(
            get(`http://localhost:7071/api/secrets/${name}`, { name }),
            context,
          );
          assert.equal(read.status, 200, JSON.stringify(read.jsonBody));
          assert.equal(body(read).value, value);

          const { context: checkContext } = capturingContext('configCheck');
          const check = await configCheckModule.configCheck(
            get('http://localhost:7071/api/config/check'),
            checkContext,
          );
          const report = body(check) as {
            keyVault: { configured: boolean; reachable: boolean; canReadSecrets: boolean };
            settings: Array<{ name: string; state: string; detail: string | null }>;
          };
          assert.deepEqual(
            {
              configured: report.keyVault.configured,
              reachable: report.keyVault.reachable,
              canReadSecrets: report.keyVault.canReadSecrets,
            },
            { configured: true, reachable: true, canReadSecrets: true },
            JSON.stringify(report.keyVault),
          );
          const reference = report.settings.find((s) => s.name === 'DEMO_SECRET_REFERENCE');
          assert.ok(reference, 'CONFIG_CHECK_SETTINGS from local.settings.json is reported');
          // Locally, a reference the app reads itself is healthy.
          assert.equal(reference.state, 'resolved-by-app', reference.detail ?? '');
          assert.equal(check.status, 200, 'the emulator profile is healthy as the README says');
          assert.equal(JSON.stringify(report).includes(value), false, 'the config check never carries a value');
          // What func start leaves a reference (Core Tools' own attempt fails against the emulator), the app resolves.
          assert.equal(await resolveSetting('DEMO_SECRET_REFERENCE'), value);
        });

        const deleted = await secrets(dir, env, ['delete', name]);
        assert.equal(deleted.status, 0, deleted.stderr);
        assert.match(deleted.stdout, new RegExp(`^deleted ${name} `, 'm'));
        const gone = await secrets(dir, env, ['get', name]);
        assert.equal(gone.status, 1);
        assert.match(gone.stderr, /SecretNotFound|not-found|no secret/i);
      },
    );
  }
});
