/**
 * `npm test` (after `npm run build`): starts a Key Vault emulator through the shared harness (scripts/emulators/),
 * then runs every compiled test file with node's test runner in a child process whose environment trusts the
 * emulator's certificate (NODE_EXTRA_CA_CERTS is read only at process start) and points every identity endpoint at
 * loopback. Without an emulator the integration tests are skipped; SKIP_INTEGRATION=true skips them on purpose.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startEmulator } from './emulators/index.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const TEST_DIR = join(ROOT, 'dist', 'test');
const STATE_DIR = join(ROOT, '.emulators', 'test');

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

// Trust exactly: the emulator's certificate, the fault proxy's, and whatever the caller already trusted (a
// corporate proxy's CA, say) when that file exists.
mkdirSync(STATE_DIR, { recursive: true });
const proxyTls = emulator ? proxyCertificate(STATE_DIR) : undefined;
const trusted = [emulator?.caFile, proxyTls?.cert, process.env.NODE_EXTRA_CA_CERTS].filter((f) => f && existsSync(f));
if (trusted.length > 0) {
  const bundle = join(STATE_DIR, 'trusted.pem');
  writeFileSync(bundle, trusted.map((f) => readFileSync(f, 'utf8')).join('\n'));
  env.NODE_EXTRA_CA_CERTS = bundle;
}
if (emulator) {
  const { kind, description, vaultUrl, identityEndpoint, identityHeader, tokenAuthority, apiVersion } = emulator;
  const { validatesTokens, principalId, vaultControlUrl, identityAdminUrl } = emulator;
  env.KEY_VAULT_EMULATOR_FACTS = JSON.stringify({
    ...{ kind, description, vaultUrl, identityEndpoint, identityHeader, tokenAuthority, apiVersion },
    ...{ validatesTokens, principalId, vaultControlUrl, identityAdminUrl },
  });
  if (proxyTls) Object.assign(env, { TEST_PROXY_KEY: proxyTls.key, TEST_PROXY_CERT: proxyTls.cert });
}

let status = 1;
try {
  const files = testFiles(TEST_DIR).sort();
  // One test file at a time: the integration files share one emulator, and their fault and timing checks must not
  // compete with each other for it.
  const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    env,
    stdio: 'inherit',
  });
  status = run.status ?? 1;
} finally {
  emulator?.stop();
}
if (!emulator) console.error(`[emulator] integration tests skipped: no Key Vault emulator (${unavailable})`);
process.exit(status);
