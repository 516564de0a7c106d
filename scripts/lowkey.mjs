/**
 * Lowkey Vault (Key Vault REST API + managed-identity token endpoint emulator) for tests and local development.
 * One implementation shared by `npm test` (scripts/run-tests.mjs) and `npm run vault:start` / `vault:stop`.
 *
 * Lowkey is fetched from Maven Central with `mvn dependency:get` (pinned version below), or taken from
 * LOWKEY_VAULT_JAR, and run with the newest JDK found (JAVA_HOME, /usr/lib/jvm/*, or `java` on PATH).
 * Without Java it falls back to the Docker image `nagyesta/lowkey-vault` when a Docker engine answers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOWKEY_VERSION = process.env.LOWKEY_VERSION || '3.4.33';
/** Maven Central coordinates of the Lowkey app jar (the group has always been this one). */
export const LOWKEY_COORDINATES = [['com.github.nagyesta.lowkey-vault', 'lowkey-vault-app']];
/** Highest Key Vault API version the pinned Lowkey serves (the SDK default, 2025-07-01, is newer). */
export const LOWKEY_API_VERSION = process.env.LOWKEY_API_VERSION || '7.5';

const ROOT = resolve(import.meta.dirname, '..');
export const STATE_DIR = join(ROOT, '.lowkey');

function m2Path(group, artifact, version) {
  return join(homedir(), '.m2', 'repository', ...group.split('.'), artifact, version, `${artifact}-${version}.jar`);
}

/**
 * A Lowkey app jar dropped into the workspace's shared/ folder (beside the clone, as CI has it), for machines whose
 * Maven mirror does not serve it: shared/lowkey-vault-app-<version>.jar or shared/lowkey/lowkey-vault-app-*.jar.
 */
function sharedJar() {
  for (const dir of [join(ROOT, '..', 'shared'), join(ROOT, '..', 'shared', 'lowkey')]) {
    if (!existsSync(dir)) continue;
    const jars = readdirSync(dir)
      .filter((f) => /^lowkey-vault-app-[\d.]+\.jar$/.test(f))
      .sort();
    if (jars.length > 0) return join(dir, jars[jars.length - 1]);
  }
  return undefined;
}

/**
 * The Lowkey jar path: LOWKEY_VAULT_JAR, else a jar in shared/, else the pinned version from the local Maven
 * repository, downloading it with `mvn dependency:get` when needed. Returns { jar } or { error }.
 */
export function resolveJar({ quiet = false } = {}) {
  if (process.env.LOWKEY_VAULT_JAR) {
    return existsSync(process.env.LOWKEY_VAULT_JAR)
      ? { jar: process.env.LOWKEY_VAULT_JAR }
      : { error: `LOWKEY_VAULT_JAR=${process.env.LOWKEY_VAULT_JAR} does not exist` };
  }
  const shared = sharedJar();
  if (shared) return { jar: shared };
  const tried = [];
  for (const [group, artifact] of LOWKEY_COORDINATES) {
    const jar = m2Path(group, artifact, LOWKEY_VERSION);
    if (existsSync(jar)) return { jar };
    const coords = `${group}:${artifact}:${LOWKEY_VERSION}`;
    tried.push(coords);
    if (!quiet) console.error(`[lowkey] fetching ${coords} with mvn dependency:get ...`);
    const mvn = spawnSync('mvn', ['-q', '-B', 'dependency:get', `-Dartifact=${coords}`, '-Dtransitive=false'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (mvn.error) return { error: `mvn is not available (${mvn.error.message})` };
    if (existsSync(jar)) return { jar };
  }
  return {
    error:
      `Maven could not fetch ${tried.join(' or ')} from the configured repositories, and neither ` +
      'LOWKEY_VAULT_JAR nor shared/lowkey-vault-app-<version>.jar provides the jar',
  };
}

/** The newest java binary: $JAVA_HOME, then /usr/lib/jvm/* (highest version), then PATH. */
export function findJava() {
  const candidates = [];
  if (process.env.JAVA_HOME) candidates.push(join(process.env.JAVA_HOME, 'bin', 'java'));
  if (existsSync('/usr/lib/jvm')) {
    const dirs = readdirSync('/usr/lib/jvm')
      .map((d) => ({ d, v: Number((/(\d+)/.exec(d) ?? [])[1] ?? 0) }))
      .sort((a, b) => b.v - a.v);
    for (const { d } of dirs) candidates.push(join('/usr/lib/jvm', d, 'bin', 'java'));
  }
  for (const c of candidates) if (existsSync(c)) return c;
  const which = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return which.error ? undefined : 'java';
}

export function dockerAvailable() {
  const r = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
  return !r.error && r.status === 0;
}

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

async function fetchOk(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return r.ok ? r : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lowkey's TLS certificate as PEM, read from the TLS handshake itself (works the same for the jar and the Docker
 * image, needs no keytool). Only this one self-signed certificate is then trusted, via NODE_EXTRA_CA_CERTS.
 */
export function serverCertificatePem(port) {
  return new Promise((resolvePem, reject) => {
    // rejectUnauthorized: false only for this one handshake whose purpose is to fetch the certificate to trust.
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const der = socket.getPeerCertificate().raw;
      socket.end();
      const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
      resolvePem(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
    });
    socket.on('error', reject);
  });
}

/**
 * Start Lowkey on free loopback ports and wait until it serves. Returns the connection facts:
 * { vaultUrl, tokenUrl, certPath, pid, httpsPort, tokenPort, apiVersion, logPath }.
 */
export async function startLowkey({
  dir = STATE_DIR,
  httpsPort,
  tokenPort,
  detached = false,
  timeoutMs = 120_000,
} = {}) {
  mkdirSync(dir, { recursive: true });
  httpsPort ??= await freePort();
  tokenPort ??= await freePort();
  const args = [`--server.port=${httpsPort}`, `--app.token.port=${tokenPort}`, '--LOWKEY_VAULT_RELAXED_PORTS=true'];
  const logPath = join(dir, 'lowkey.log');
  const log = openSync(logPath, 'w');

  const java = findJava();
  let child;
  if (java) {
    const { jar, error } = resolveJar();
    if (!jar) throw new Error(`Lowkey Vault jar unavailable: ${error}`);
    child = spawn(java, ['-Xmx512m', '-jar', jar, ...args], { stdio: ['ignore', log, log], detached });
  } else if (dockerAvailable()) {
    child = spawn(
      'docker',
      [
        'run',
        '--rm',
        '-p',
        `127.0.0.1:${httpsPort}:8443`,
        '-p',
        `127.0.0.1:${tokenPort}:8080`,
        '-e',
        `LOWKEY_ARGS=--LOWKEY_VAULT_RELAXED_PORTS=true`,
        `nagyesta/lowkey-vault:${LOWKEY_VERSION}`,
      ],
      { stdio: ['ignore', log, log], detached },
    );
  } else {
    throw new Error('Neither Java nor a Docker engine is available to run Lowkey Vault');
  }
  if (detached) child.unref();
  let exited = null;
  child.on('exit', (code) => {
    exited = code ?? -1;
  });

  const tokenBase = `http://127.0.0.1:${tokenPort}`;
  const tokenUrl = `${tokenBase}/metadata/identity/oauth2/token`;
  // Ready when the managed-identity token endpoint (the feature the tests need) answers.
  const deadline = Date.now() + timeoutMs;
  let ready = false;
  while (!ready && Date.now() < deadline) {
    if (exited !== null) throw new Error(`Lowkey Vault exited with ${exited}; see ${logPath}`);
    ready =
      (await fetchOk(`${tokenUrl}?resource=${encodeURIComponent(`https://127.0.0.1:${httpsPort}`)}`)) !== undefined;
    if (!ready) await sleep(500);
  }
  if (!ready) {
    child.kill();
    throw new Error(`Lowkey Vault did not serve its token endpoint within ${timeoutMs} ms; see ${logPath}`);
  }
  const certPath = join(dir, 'lowkey-vault.pem');
  writeFileSync(certPath, await serverCertificatePem(httpsPort));
  // Lowkey's key store (for the fault proxy's TLS when openssl is missing); best effort.
  let p12Path;
  let password;
  const pw = await fetchOk(`${tokenBase}/metadata/default-cert/password`);
  const p12 = pw && (await fetchOk(`${tokenBase}/metadata/default-cert/lowkey-vault.p12`));
  if (pw && p12) {
    password = (await pw.text()).trim();
    p12Path = join(dir, 'lowkey-vault.p12');
    writeFileSync(p12Path, Buffer.from(await p12.arrayBuffer()));
  }

  const facts = {
    pid: child.pid,
    httpsPort,
    tokenPort,
    vaultUrl: `https://127.0.0.1:${httpsPort}/`,
    tokenUrl,
    tokenAuthority: tokenBase,
    certPath,
    p12Path,
    certPassword: password,
    apiVersion: LOWKEY_API_VERSION,
    logPath,
  };
  writeFileSync(join(dir, 'state.json'), JSON.stringify(facts, null, 2));
  return { ...facts, child };
}

/** Stop a Lowkey started with `startLowkey` (by child handle, or by the pid saved in .lowkey/state.json). */
export function stopLowkey({ child, dir = STATE_DIR } = {}) {
  const statePath = join(dir, 'state.json');
  let pid = child?.pid;
  if (pid === undefined && existsSync(statePath)) pid = JSON.parse(readFileSync(statePath, 'utf8')).pid;
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(statePath, { force: true });
  return pid;
}

/**
 * The environment that points the app (and @azure/identity) at this Lowkey: every identity endpoint on loopback,
 * so no test can reach the real instance metadata address.
 */
export function appEnvFor(facts) {
  return {
    KEY_VAULT_URL: facts.vaultUrl,
    KEY_VAULT_API_VERSION: facts.apiVersion,
    KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    IDENTITY_ENDPOINT: facts.tokenUrl,
    IDENTITY_HEADER: 'lowkey',
    IMDS_ENDPOINT: facts.tokenAuthority,
    AZURE_POD_IDENTITY_AUTHORITY_HOST: facts.tokenAuthority,
    NODE_EXTRA_CA_CERTS: facts.certPath,
  };
}
