/**
 * Lowkey Vault adapter (https://github.com/nagyesta/lowkey-vault): the Key Vault REST API plus a managed-identity
 * token endpoint, in one Java app. It accepts any bearer token, so token validation, RBAC and token expiry are not
 * tested against it; everything else the integration and fault suites prove is.
 *
 * Two ways to run it, in this order:
 *   - the app jar LOWKEY_VAULT_JAR names (one you built from Lowkey's source: Maven Central publishes only
 *     lowkey-vault-client, never lowkey-vault-app), run with the newest JDK found; Lowkey 7.x needs Java 25;
 *   - else Lowkey's Docker image nagyesta/lowkey-vault:<LOWKEY_VERSION>, when a Docker engine answers.
 * No other jar is ever picked up, and nothing is fetched from Maven (the app is not there to fetch).
 *
 * Binding: the HTTPS (vault) port binds 127.0.0.1 through Spring Boot's `server.address`; the token port
 * (`app.token.port`, default 8080) is an extra Tomcat connector Lowkey creates without an address, so it listens on
 * every interface (with Docker, both are published on 127.0.0.1 only).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { hasProgram, serverCertificatePem, tryFetch, waitUntil } from './common.mjs';

/** The pinned Lowkey release (v7.3.74, nagyesta/lowkey-vault), for the Docker image tag and the facts. */
export const LOWKEY_VERSION = process.env.LOWKEY_VERSION || '7.3.74';
/** The Java release Lowkey 7.x is built for (its app's Gradle toolchain). */
export const LOWKEY_JAVA = 25;
/**
 * The Key Vault API version the tests use against Lowkey: the SDK's default, which Lowkey 7.x serves for secrets
 * (its README: secrets 7.3 to 2025-07-01).
 */
export const LOWKEY_API_VERSION = process.env.LOWKEY_API_VERSION || '2025-07-01';
/** Lowkey's Docker image at the pinned version. */
export const LOWKEY_IMAGE = `nagyesta/lowkey-vault:${LOWKEY_VERSION}`;

/** { jar } or { error } (one line): the jar LOWKEY_VAULT_JAR names; there is no other source of the app jar. */
export function resolveJar() {
  const named = process.env.LOWKEY_VAULT_JAR?.trim();
  if (named) return existsSync(named) ? { jar: named } : { error: `LOWKEY_VAULT_JAR=${named} does not exist` };
  return { error: 'no LOWKEY_VAULT_JAR (lowkey-vault-app is not on Maven Central: name a jar you built)' };
}

/** The Lowkey version a jar's file name states (lowkey-vault-app-<version>.jar), else the pinned one. */
function jarVersion(jar) {
  return /^lowkey-vault-app-(\d[\w.-]*)\.jar$/.exec(basename(jar))?.[1] ?? LOWKEY_VERSION;
}

/** The major version `java -version` reports (17, 25), or undefined. */
export function javaMajor(java) {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  const version = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!version) return undefined;
  return version[1] === '1' ? Number(version[2]) : Number(version[1]);
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
  return hasProgram('java', ['-version']) ? 'java' : undefined;
}

/** How Lowkey can run here: { command, args } or throws with why not (one line). */
function launcher(vaultPort, identityPort) {
  const reasons = [];
  const { jar, error } = resolveJar();
  if (jar) {
    const java = findJava();
    const major = java && javaMajor(java);
    if (!java) reasons.push(`no Java (${LOWKEY_JAVA}+) found to run ${jar}`);
    else if (major !== undefined && major < LOWKEY_JAVA) {
      reasons.push(`Lowkey 7.x needs Java ${LOWKEY_JAVA}+; the newest Java found (${java}) is ${major}`);
    } else {
      const args = [`--server.address=127.0.0.1`, `--server.port=${vaultPort}`, `--app.token.port=${identityPort}`];
      return {
        how: 'jar',
        version: jarVersion(jar),
        command: java,
        args: ['-Xmx512m', '-jar', jar, ...args, '--LOWKEY_VAULT_RELAXED_PORTS=true'],
      };
    }
  } else {
    reasons.push(error);
  }
  if (hasProgram('docker', ['info'])) {
    return {
      how: 'docker',
      version: LOWKEY_VERSION,
      command: 'docker',
      args: [
        'run',
        '--rm',
        '-p',
        `127.0.0.1:${vaultPort}:8443`,
        '-p',
        `127.0.0.1:${identityPort}:8080`,
        '-e',
        'LOWKEY_ARGS=--LOWKEY_VAULT_RELAXED_PORTS=true',
        LOWKEY_IMAGE,
      ],
    };
  }
  reasons.push(`no Docker engine answers (for ${LOWKEY_IMAGE})`);
  throw new Error(reasons.join('; '));
}

/** Start Lowkey on the given loopback ports; resolves to the harness's emulator facts once its token endpoint serves. */
export async function startLowkey({ dir, vaultPort, identityPort, identityHeader, detached, timeoutMs = 120_000 }) {
  const { how, version, command, args } = launcher(vaultPort, identityPort);
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'lowkey.log');
  const log = openSync(logPath, 'w');
  const child = spawn(command, args, { stdio: ['ignore', log, log], detached });
  if (detached) child.unref();
  const watch = { exited: null };
  child.on('exit', (code) => (watch.exited = code ?? -1));
  child.on('error', () => (watch.exited = -1));

  const tokenAuthority = `http://127.0.0.1:${identityPort}`;
  const identityEndpoint = `${tokenAuthority}/metadata/identity/oauth2/token`;
  const vaultUrl = `https://127.0.0.1:${vaultPort}/`;
  try {
    // Ready when the managed-identity token endpoint (what the app needs first) answers.
    await waitUntil(async () => (await tryFetch(`${identityEndpoint}?resource=${encodeURIComponent(vaultUrl)}`))?.ok, {
      timeoutMs,
      watch,
      what: 'Lowkey Vault',
      logPath,
    });
  } catch (error) {
    child.kill();
    throw error;
  }
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, await serverCertificatePem(vaultPort));
  return {
    kind: 'lowkey',
    description: `Lowkey Vault ${version} (${how})`,
    vaultUrl,
    identityEndpoint,
    identityHeader,
    tokenAuthority,
    caFile,
    apiVersion: LOWKEY_API_VERSION,
    validatesTokens: false,
    pids: [child.pid],
    logPaths: [logPath],
  };
}
