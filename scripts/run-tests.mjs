/**
 * `npm test` (after `npm run build`): starts Lowkey Vault, then runs every compiled test file with node's test
 * runner in a child process whose environment trusts Lowkey's certificate (NODE_EXTRA_CA_CERTS is read only at
 * process start) and points every identity endpoint at loopback.
 *
 * Integration tests need Lowkey (Java + its jar from Maven Central, or Docker). When it cannot be started they
 * are skipped with a loud banner and the reason; with LOWKEY_REQUIRED=true a missing Lowkey fails the run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { appEnvFor, startLowkey, stopLowkey } from './lowkey.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const TEST_DIR = join(ROOT, 'dist', 'test');

function testFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return testFiles(path);
    return entry.endsWith('.test.js') ? [path] : [];
  });
}

// Loopback-only identity endpoints for every test, whatever else happens: an unset IDENTITY_ENDPOINT would let
// @azure/identity probe the instance metadata address. Port 9 (discard) on loopback refuses connections.
const loopbackIdentity = {
  IDENTITY_ENDPOINT: 'http://127.0.0.1:9/metadata/identity/oauth2/token',
  IDENTITY_HEADER: 'unit-tests',
  IMDS_ENDPOINT: 'http://127.0.0.1:9',
  AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9',
};

const env = { ...process.env, ...loopbackIdentity };
for (const name of ['KEY_VAULT_URL', 'KEY_VAULT_URI', 'AZURE_CLIENT_ID', 'SECRETS_ALLOWED']) delete env[name];

/** A self-signed key and certificate for 127.0.0.1 made with openssl, or undefined without openssl. */
function proxyCertificate(dir) {
  const key = join(dir, 'proxy-key.pem');
  const cert = join(dir, 'proxy-cert.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return r.status === 0 ? { key, cert } : undefined;
}

// The tests' HTTPS fault fixtures serve a throw-away certificate of their own (needs openssl); trusted through
// NODE_EXTRA_CA_CERTS together with the emulator's, and nothing else is trusted beyond the system store.
const certDir = join(ROOT, '.lowkey', 'test');
mkdirSync(certDir, { recursive: true });
const proxyTls = proxyCertificate(certDir);
if (proxyTls) {
  Object.assign(env, {
    NODE_EXTRA_CA_CERTS: proxyTls.cert,
    TEST_PROXY_KEY: proxyTls.key,
    TEST_PROXY_CERT: proxyTls.cert,
  });
}

let lowkey;
if (process.env.SKIP_INTEGRATION === 'true') {
  env.LOWKEY_UNAVAILABLE = 'SKIP_INTEGRATION=true';
} else {
  try {
    const dir = certDir;
    lowkey = await startLowkey({ dir });
    const appEnv = appEnvFor(lowkey);
    // Trust exactly the two: the emulator's certificate and the fault fixtures'.
    const caPath = join(dir, 'trusted.pem');
    writeFileSync(
      caPath,
      readFileSync(appEnv.NODE_EXTRA_CA_CERTS, 'utf8') + (proxyTls ? readFileSync(proxyTls.cert, 'utf8') : ''),
    );
    Object.assign(env, {
      NODE_EXTRA_CA_CERTS: caPath,
      LOWKEY_VAULT_URL: lowkey.vaultUrl,
      LOWKEY_TOKEN_URL: lowkey.tokenUrl,
      LOWKEY_TOKEN_AUTHORITY: lowkey.tokenAuthority,
      LOWKEY_API_VERSION: lowkey.apiVersion,
      ...(lowkey.p12Path ? { LOWKEY_CERT_P12: lowkey.p12Path, LOWKEY_CERT_PASSWORD: lowkey.certPassword } : {}),
    });
    console.log(`[tests] Lowkey Vault at ${lowkey.vaultUrl} (token endpoint ${lowkey.tokenUrl})`);
  } catch (error) {
    env.LOWKEY_UNAVAILABLE = error.message;
    const line = '!'.repeat(100);
    console.error(
      `\n${line}\n!!! INTEGRATION TESTS WILL NOT RUN: ${error.message}\n!!! They are reported as skipped below.\n${line}\n`,
    );
    if (process.env.LOWKEY_REQUIRED === 'true') {
      console.error('LOWKEY_REQUIRED=true: failing because Lowkey Vault is unavailable.');
      process.exit(1);
    }
  }
}

let status = 1;
try {
  const files = testFiles(TEST_DIR).sort();
  // One test file at a time: the integration files share one Lowkey, and their fault and timing checks must not
  // compete with each other for it.
  const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    env,
    stdio: 'inherit',
  });
  status = run.status ?? 1;
} finally {
  if (lowkey) stopLowkey({ child: lowkey.child, dir: join(ROOT, '.lowkey', 'test') });
}
process.exit(status);
