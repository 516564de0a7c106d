/**
 * Lowkey Vault adapter (https://github.com/nagyesta/lowkey-vault): the Key Vault REST API plus a managed-identity
 * token endpoint, in one Java app. It accepts any bearer token, so token validation, RBAC and token expiry are not
 * tested against it; everything else the integration and fault suites prove is.
 *
 * The app jar is the one LOWKEY_VAULT_JAR names, else the pinned one (com.github.nagyesta.lowkey-vault:
 * lowkey-vault-app, below) from the local Maven repository, fetched from Maven Central with `mvn dependency:get`
 * when missing; it runs with the newest JDK found. No other jar is ever picked up. Without a jar (or Java) it falls
 * back to the Docker image nagyesta/lowkey-vault when a Docker engine answers.
 *
 * Binding: the HTTPS (vault) port binds 127.0.0.1 through Spring Boot's `server.address`; the token port is an extra
 * Tomcat connector Lowkey creates without an address, so it listens on every interface (with Docker, both are
 * published on 127.0.0.1 only).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { hasProgram, oneLine, serverCertificatePem, tryFetch, waitUntil } from './common.mjs';

export const LOWKEY_VERSION = process.env.LOWKEY_VERSION || '3.4.33';
export const LOWKEY_COORDINATES = ['com.github.nagyesta.lowkey-vault', 'lowkey-vault-app'];
/** Highest Key Vault API version the pinned Lowkey serves (the SDK default, 2025-07-01, is newer). */
export const LOWKEY_API_VERSION = process.env.LOWKEY_API_VERSION || '7.5';
const MVN_TIMEOUT_MS = Number(process.env.LOWKEY_MVN_TIMEOUT_MS ?? 180_000);

/** The Maven coordinates of the pinned app jar. */
export const LOWKEY_ARTIFACT = `${LOWKEY_COORDINATES.join(':')}:${LOWKEY_VERSION}`;

/**
 * Why `mvn dependency:get` did not fetch the jar, in one line: "artifact not found" with the repository Maven
 * asked, or Maven's own "Could not ..." sentence.
 */
export function mavenReason(output) {
  const text = oneLine(output);
  const notFound = /Could not find artifact \S+ in (\S+) \(([^)]+)\)/.exec(text);
  if (notFound) return `artifact not found: ${LOWKEY_ARTIFACT} is not in ${notFound[1]} (${notFound[2]})`;
  const why = /(Could(?:n't| not) [^[]*)/.exec(text)?.[1]?.trim() ?? text.slice(0, 300);
  return `mvn dependency:get ${LOWKEY_ARTIFACT}: ${why || 'failed without a message'}`;
}

/** { jar } or { error } (one line): LOWKEY_VAULT_JAR, else the local Maven repository, fetched with mvn if needed. */
export function resolveJar() {
  const named = process.env.LOWKEY_VAULT_JAR?.trim();
  if (named) return existsSync(named) ? { jar: named } : { error: `LOWKEY_VAULT_JAR=${named} does not exist` };
  const [group, artifact] = LOWKEY_COORDINATES;
  const m2Dir = join(homedir(), '.m2', 'repository', ...group.split('.'), artifact, LOWKEY_VERSION);
  const jarFile = join(m2Dir, `${artifact}-${LOWKEY_VERSION}.jar`);
  if (existsSync(jarFile)) return { jar: jarFile };
  // -U: ask the repository again instead of trusting a cached "not found".
  const mvn = spawnSync(
    'mvn',
    ['-U', '-q', '-B', 'dependency:get', `-Dartifact=${LOWKEY_ARTIFACT}`, '-Dtransitive=false'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: MVN_TIMEOUT_MS },
  );
  if (mvn.error?.code === 'ENOENT')
    return { error: `no LOWKEY_VAULT_JAR, and no Maven (mvn) to fetch ${LOWKEY_ARTIFACT}` };
  if (mvn.error) return { error: `mvn dependency:get ${LOWKEY_ARTIFACT}: ${mvn.error.message}` };
  if (existsSync(jarFile)) return { jar: jarFile };
  return { error: mavenReason(`${mvn.stdout}\n${mvn.stderr}`) };
}

/** The Lowkey version a jar's file name states (lowkey-vault-app-<version>.jar), else the pinned one. */
function jarVersion(jar) {
  return /^lowkey-vault-app-(\d[\w.-]*)\.jar$/.exec(basename(jar))?.[1] ?? LOWKEY_VERSION;
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
  const java = findJava();
  if (java) {
    const { jar, error } = resolveJar();
    if (jar) {
      const args = [`--server.address=127.0.0.1`, `--server.port=${vaultPort}`, `--app.token.port=${identityPort}`];
      return {
        how: 'jar',
        version: jarVersion(jar),
        command: java,
        args: ['-Xmx512m', '-jar', jar, ...args, '--LOWKEY_VAULT_RELAXED_PORTS=true'],
      };
    }
    reasons.push(error);
  } else {
    reasons.push('no Java (17+) found');
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
        `nagyesta/lowkey-vault:${LOWKEY_VERSION}`,
      ],
    };
  }
  reasons.push('no Docker engine answers');
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
