/**
 * `npm test` (after scripts/compile.mjs): starts a Key Vault emulator through the shared harness (scripts/emulators/),
 * then runs every compiled test file with node's test runner in a child process whose environment trusts the
 * emulator's certificate (NODE_EXTRA_CA_CERTS is read only at process start) and points every identity endpoint at
 * loopback.
 *
 * Skips are quiet but never silent:
 * - no emulator on a developer machine: the integration and fault tests are skipped ("# no Key Vault emulator"),
 *   one "[emulator] <name>: <why>" line per emulator tried says why at the start, one summary line at the end;
 * - CI=true: a run without an emulator, or with any skipped test, fails, unless KEY_VAULT_EMULATOR_BLOCKED="<reason>"
 *   acknowledges that no emulator can be installed (.ci/run sets it); the acknowledgement is printed loudly at the end;
 * - SKIP_INTEGRATION=true skips them on purpose (under CI that counts as a missing emulator).
 *
 * @azure/functions prints "WARNING: Failed to detect the Azure Functions runtime..." and "WARNING: Skipping call to
 * register ..." whenever it is loaded outside the Functions host, i.e. in every test that imports a function module.
 * Exactly those lines (functions-test-mode.mjs) are dropped from the output here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stripVTControlCharacters } from 'node:util';
import { startEmulator } from './emulators/index.mjs';
import { TEST_MODE_NOTICE } from './functions-test-mode.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const TEST_DIR = join(ROOT, 'dist', 'test');
const STATE_DIR = join(ROOT, '.emulators', 'test');
const CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
const BLOCKED = process.env.KEY_VAULT_EMULATOR_BLOCKED?.trim() || undefined;

function testFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return testFiles(path);
    return entry.endsWith('.test.js') ? [path] : [];
  });
}

// Loopback-only identity endpoints for every test, whatever else happens: an unset IDENTITY_ENDPOINT would let
// @azure/identity probe the instance metadata address. Port 9 (discard) on loopback refuses connections.
const env = {
  ...process.env,
  IDENTITY_ENDPOINT: 'http://127.0.0.1:9/metadata/identity/oauth2/token',
  IDENTITY_HEADER: 'unit-tests',
  IMDS_ENDPOINT: 'http://127.0.0.1:9',
  AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9',
};
// The tests, and the dev scripts they start, may reach the package's internals (package.json "./internal/*.js",
// behind this condition); app code cannot: the bundle is built without it.
env.NODE_OPTIONS = [process.env.NODE_OPTIONS, '--conditions=functions-keyvault-internal'].filter(Boolean).join(' ');
for (const name of ['KEY_VAULT_URL', 'KEY_VAULT_URI', 'AZURE_CLIENT_ID', 'SECRETS_ALLOWED', 'NODE_EXTRA_CA_CERTS']) {
  delete env[name];
}

/** A throw-away key and certificate for 127.0.0.1 (the tests' HTTPS fault proxy), made with openssl. */
function proxyCertificate(dir) {
  const key = join(dir, 'proxy-key.pem');
  const cert = join(dir, 'proxy-cert.pem');
  const r = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
    ],
    { stdio: 'ignore' },
  );
  return r.status === 0 ? { key, cert } : undefined;
}

let emulator;
let unavailable;
if (process.env.SKIP_INTEGRATION === 'true') {
  unavailable = 'SKIP_INTEGRATION=true';
  console.error(`[emulator] none started: ${unavailable}`);
} else {
  try {
    emulator = await startEmulator({
      dir: STATE_DIR,
      fresh: true,
      identityHeader: `tests-${process.pid}`,
      report: (line) => console.error(`[emulator] ${line}`),
    });
    console.error(`[emulator] ${emulator.description} at ${emulator.vaultUrl}`);
  } catch (error) {
    // Each emulator's reason is already one [emulator] line; anything else (a bad KEY_VAULT_EMULATOR) is said here.
    if (!error.failures) console.error(`[emulator] ${error.message}`);
    unavailable = error.failures ? 'why: the [emulator] lines at the top' : error.message;
  }
}

// Trust exactly: the emulator's certificate, the fault fixtures' (they serve HTTPS with a throw-away certificate,
// with or without an emulator), and whatever the caller already trusted (a corporate proxy's CA, say) when that
// file exists.
mkdirSync(STATE_DIR, { recursive: true });
const proxyTls = proxyCertificate(STATE_DIR);
if (proxyTls) Object.assign(env, { TEST_PROXY_KEY: proxyTls.key, TEST_PROXY_CERT: proxyTls.cert });
const trusted = [emulator?.caFile, proxyTls?.cert, process.env.NODE_EXTRA_CA_CERTS].filter((f) => f && existsSync(f));
if (trusted.length > 0) {
  const bundle = join(STATE_DIR, 'trusted.pem');
  writeFileSync(bundle, trusted.map((f) => readFileSync(f, 'utf8')).join('\n'));
  env.NODE_EXTRA_CA_CERTS = bundle;
}
if (emulator) {
  const { kind, description, vaultUrl, identityEndpoint, identityHeader, tokenAuthority, apiVersion } = emulator;
  const { validatesTokens, principalId, vaultControlUrl, identityAdminUrl, caFile } = emulator;
  env.KEY_VAULT_EMULATOR_FACTS = JSON.stringify({
    ...{ kind, description, vaultUrl, identityEndpoint, identityHeader, tokenAuthority, apiVersion },
    ...{ validatesTokens, principalId, vaultControlUrl, identityAdminUrl, caFile },
  });
}

let skipped = 0;

/** Copy a child stream line by line, dropping the test-mode notices and noting node's "ℹ skipped N". */
function relay(stream, out) {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const plain = stripVTControlCharacters(line);
    if (TEST_MODE_NOTICE.test(plain)) return;
    const count = /^ℹ skipped (\d+)$/.exec(plain);
    if (count) skipped = Number(count[1]);
    out.write(`${line}\n`);
  });
  return new Promise((done) => lines.on('close', done));
}

let status = 1;
try {
  // `node scripts/run-tests.mjs dist/test/a.test.js ...` runs just those files, with the same emulator and settings.
  const chosen = process.argv.slice(2).map((f) => resolve(f));
  const files = chosen.length > 0 ? chosen : testFiles(TEST_DIR).sort();
  // One test file at a time: the integration files share one emulator, and their fault and timing checks must not
  // compete with each other for it.
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    env,
    stdio: ['inherit', 'pipe', 'pipe'],
  });
  const stopOnSignal = () => child.kill('SIGINT');
  process.on('SIGINT', stopOnSignal);
  process.on('SIGTERM', stopOnSignal);
  const [code] = await Promise.all([
    new Promise((done) => child.on('close', (c) => done(c))),
    relay(child.stdout, process.stdout),
    relay(child.stderr, process.stderr),
  ]);
  status = code ?? 1;
} finally {
  emulator?.stop();
}

// The one closing line about the integration suites.
if (emulator) {
  console.log(`[emulator] integration and fault suites ran against ${emulator.description}`);
  if (BLOCKED) {
    console.log('[emulator] KEY_VAULT_EMULATOR_BLOCKED is set but an emulator started: delete it so CI stays strict');
  }
  if (CI && skipped > 0 && status === 0) {
    console.error(`✖ CI=true: ${skipped} test(s) skipped although an emulator ran; CI does not skip tests.`);
    status = 1;
  }
} else if (CI && !BLOCKED) {
  console.error(
    `✖ CI=true and no Key Vault emulator (${unavailable}): the integration and fault suites did not run ` +
      `(${skipped} skipped), so this run fails. Install one (docs/testing.md, "The Key Vault emulators") ` +
      'or set KEY_VAULT_EMULATOR_BLOCKED="<why>".',
  );
  status = 1;
} else if (BLOCKED) {
  console.log(`!!! KEY_VAULT_EMULATOR_BLOCKED: ${skipped} integration/fault tests NOT run. Reason given: ${BLOCKED}`);
} else {
  console.log(
    `ℹ ${skipped} integration/fault tests skipped: no Key Vault emulator (${unavailable}; ` +
      'how to get one: docs/testing.md, "The Key Vault emulators")',
  );
}
process.exit(status);
