/**
 * The Go pair adapter: azure-keyvault-emulator (Key Vault data plane that validates every bearer token's signature,
 * issuer, audience and expiry, with optional RBAC by built-in role name) + entra-emulator (the token issuer, with an
 * App Service-style managed-identity endpoint, GET /msi/token guarded by X-IDENTITY-HEADER).
 *
 * Run against v0.7.0 + v0.9.0 built from their sources (the integration, fault, README-flow and Go-only suites);
 * written from the two projects' documentation (vault: docs/04-configuration, 05-tls-and-vaults, 09-authentication,
 * 10-testing, 13-entra-companion; entra: README, docs/04-configuration, 11-admin-api).
 *
 * What it does:
 * - the binaries: the ones KEY_VAULT_EMULATOR_GO_BIN and ENTRA_EMULATOR_GO_BIN name (built elsewhere; nothing is
 *   fetched), else both pinned versions installed with `go install <module>/cmd/<name>@<version>` into
 *   .emulators/bin/<name>@<version>/ (GOBIN; never $HOME/go/bin), once. Whatever fails is thrown as one line (both
 *   tools' causes, a module-proxy refusal said as such) and the harness falls through;
 * - entra-emulator: HOST=127.0.0.1, PORT, TLS_ENABLED=false (plain HTTP on loopback, like the real App Service
 *   identity endpoint), PUBLIC_ORIGIN=http://127.0.0.1:<port>, a fixed TENANT_ID, its SQLite store under the state
 *   dir, MANAGED_IDENTITY_SECRET = the IDENTITY_HEADER the app will send;
 * - azure-keyvault-emulator: --addr 127.0.0.1:<port>, --data-dir under the state dir, --entra-issuer pointing at
 *   that entra (JWKS over loopback HTTP, so no --entra-tls-insecure); its self-signed certificate (SANs include
 *   127.0.0.1) is taken from the TLS handshake and trusted through NODE_EXTRA_CA_CERTS;
 * - ready when entra's /health answers, the vault's unauthenticated request gets the documented 401 challenge, and
 *   the MSI endpoint issues a token (whose oid/sub is the principal the vault authorises: `principalId`).
 * Control surfaces for tests that need them: the vault's /_emulator (clock, faults, permissions, rbac) and entra's
 * /admin/api (clock, faults, tokens forge).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { hasProgram, oneLine, ROOT, serverCertificatePem, tryFetch, waitUntil } from './common.mjs';

export const GO_VAULT = {
  module: 'github.com/calvinchengx/azure-keyvault-emulator',
  name: 'azure-keyvault-emulator',
  version: process.env.GO_KEYVAULT_EMULATOR_VERSION || 'v0.7.0',
  /** A prebuilt binary to run instead of installing one. */
  binSetting: 'KEY_VAULT_EMULATOR_GO_BIN',
};
export const GO_ENTRA = {
  module: 'github.com/calvinchengx/entra-emulator',
  name: 'entra-emulator',
  version: process.env.GO_ENTRA_EMULATOR_VERSION || 'v0.9.0',
  binSetting: 'ENTRA_EMULATOR_GO_BIN',
};
export const GO_BIN_ROOT = join(ROOT, '.emulators', 'bin');
const INSTALL_TIMEOUT_MS = Number(process.env.GO_INSTALL_TIMEOUT_MS ?? 300_000);
/**
 * A failed `go install` is remembered here (target, reason, when) so that every `npm test`, and every single test
 * file run, does not ask the module proxy again for `GO_INSTALL_RETRY_HOURS` (default 6); `node
 * scripts/emulators/install.mjs` always asks again. Git-ignored, like everything under .emulators/.
 */
export const INSTALL_FAILURES = join(ROOT, '.emulators', 'install-failures.json');
const RETRY_MS = Number(process.env.GO_INSTALL_RETRY_HOURS ?? 6) * 3_600_000;

function readFailures() {
  try {
    return JSON.parse(readFileSync(INSTALL_FAILURES, 'utf8'));
  } catch {
    return {};
  }
}

/** Record (reason) or forget (undefined) the failure of `target`. */
function rememberFailure(target, reason) {
  const failures = readFailures();
  if (reason === undefined) delete failures[target];
  else failures[target] = { reason, at: new Date().toISOString() };
  mkdirSync(join(ROOT, '.emulators'), { recursive: true });
  writeFileSync(INSTALL_FAILURES, `${JSON.stringify(failures, null, 2)}\n`);
}

/** A failure of `target` remembered less than RETRY_MS ago, as one line, or undefined. */
export function rememberedFailure(target, now = Date.now()) {
  const failure = readFailures()[target];
  if (!failure || !(now - Date.parse(failure.at) < RETRY_MS)) return undefined;
  return (
    `${failure.reason} (a failure remembered for ${RETRY_MS / 3_600_000} h in .emulators/install-failures.json; ` +
    '`node scripts/emulators/install.mjs` retries now)'
  );
}
/** entra-emulator's documented default tenant, set explicitly so the issuer does not depend on its defaults. */
const TENANT_ID = '11111111-1111-1111-1111-111111111111';
const VAULT_AUDIENCE = 'https://vault.azure.net';
const API_VERSION = '7.5';

/**
 * Why `go install` failed, in one line without go's repetitions ("go: <target>: <target>: reading <url>: ..."): a
 * module proxy's refusal is said as "<status> from the module proxy <host>: <its message>".
 */
export function goInstallReason(output) {
  const text = oneLine(output);
  const refused = /reading (https?:\/\/[^/\s]+)\/\S*: (\d{3}) ([A-Za-z][\w -]*?) server response:? ?(.*)$/.exec(text);
  if (refused) {
    const [, proxy, status, statusText, message] = refused;
    return `${status} ${statusText} from the module proxy ${new URL(proxy).host}${message ? `: ${message}` : ''}`;
  }
  // Drop go's own "go: " and every "<module path>@<version>: " it puts in front of the cause.
  return (
    text
      .replace(/^go: /, '')
      .replace(/(?:\S+@v[\w.+-]+: )+/g, '')
      .trim() || 'failed without a message'
  );
}

/** The version a binary reports (`<bin> version`), or undefined. */
function reportedVersion(bin) {
  const r = spawnSync(bin, ['version'], { encoding: 'utf8', timeout: 10_000 });
  return /\bv\d+\.\d+\.\d+\S*/.exec(r.stdout ?? '')?.[0];
}

/**
 * { bin, how } or { error } for one tool: its prebuilt binary setting, else .emulators/bin, else `go install` (unless
 * it failed recently and `retry` is false).
 */
function locate(tool, hasGo, retry) {
  const named = process.env[tool.binSetting]?.trim();
  if (named) {
    return existsSync(named)
      ? { bin: named, how: tool.binSetting }
      : { error: `${tool.binSetting}=${named} does not exist` };
  }
  const gobin = join(GO_BIN_ROOT, `${tool.name}@${tool.version}`);
  const bin = join(gobin, tool.name);
  if (existsSync(bin)) return { bin, how: 'go install' };
  if (!hasGo) return { error: `no ${tool.binSetting}, and no Go toolchain for go install` };
  const target = `${tool.module}/cmd/${tool.name}@${tool.version}`;
  const remembered = retry ? undefined : rememberedFailure(target);
  if (remembered) return { error: remembered };
  const r = spawnSync('go', ['install', target], {
    env: { ...process.env, GOBIN: gobin },
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
  });
  let error;
  if (r.error) error = `go install: ${r.error.message}`;
  else if (r.status !== 0 || !existsSync(bin)) error = `go install: ${goInstallReason(r.stderr || r.stdout || '')}`;
  rememberFailure(target, error);
  return error ? { error } : { bin, how: 'go install' };
}

/**
 * Both binaries: { bins: { [name]: path }, versions, how }; or throws one Error whose message is one line naming
 * each tool that is missing and why (one shared cause said once).
 */
export function installGoPair({ retry = false } = {}) {
  const hasGo = hasProgram('go', ['version']);
  const found = [GO_VAULT, GO_ENTRA].map((tool) => ({ tool, ...locate(tool, hasGo, retry) }));
  const failed = found.filter((f) => f.error);
  if (failed.length > 0) {
    const label = (f) => `${f.tool.name} ${f.tool.version}`;
    const sameCause = failed.length > 1 && failed.every((f) => f.error === failed[0].error);
    const message = sameCause
      ? `${failed.map(label).join(' and ')}: ${failed[0].error}`
      : failed.map((f) => `${label(f)}: ${f.error}`).join('; ');
    throw new Error(message);
  }
  const bins = {};
  const versions = {};
  for (const { tool, bin } of found) {
    bins[tool.name] = bin;
    versions[tool.name] = reportedVersion(bin) ?? tool.version;
  }
  return { bins, versions, how: [...new Set(found.map((f) => f.how))].join(', ') };
}

/** A clean environment for the emulators: PATH and HOME only, plus what is passed (no stray PORT, HOST, KV_*). */
function cleanEnv(extra) {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extra };
}

function launch(bin, args, { env, cwd, logPath, detached }) {
  const log = openSync(logPath, 'w');
  const child = spawn(bin, args, { cwd, env, stdio: ['ignore', log, log], detached });
  if (detached) child.unref();
  const watch = { exited: null };
  child.on('exit', (code) => (watch.exited = code ?? -1));
  child.on('error', () => (watch.exited = -1));
  return { child, watch };
}

/** Status and WWW-Authenticate of an unauthenticated GET, trusting only `ca`. */
function challenge(url, ca) {
  return new Promise((resolveResult, reject) => {
    const req = httpsRequest(url, { ca, timeout: 2_000 }, (res) => {
      res.resume();
      resolveResult({ status: res.statusCode, wwwAuthenticate: String(res.headers['www-authenticate'] ?? '') });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function jwtClaims(token) {
  const payload = String(token).split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

export async function startGoPair({ dir, vaultPort, identityPort, identityHeader, detached, timeoutMs = 60_000 }) {
  const { bins, versions, how } = installGoPair();
  const entraDir = join(dir, 'entra');
  const vaultDir = join(dir, 'vault');
  mkdirSync(entraDir, { recursive: true });
  mkdirSync(vaultDir, { recursive: true });

  const origin = `http://127.0.0.1:${identityPort}`;
  const issuer = `${origin}/${TENANT_ID}/v2.0`;
  const entraLog = join(dir, 'entra-emulator.log');
  const entra = launch(bins[GO_ENTRA.name], [], {
    cwd: entraDir,
    logPath: entraLog,
    detached,
    env: cleanEnv({
      HOST: '127.0.0.1',
      PORT: String(identityPort),
      TLS_ENABLED: 'false',
      PUBLIC_ORIGIN: origin,
      TENANT_ID,
      DB_PATH: join(entraDir, 'entra-emulator.db'),
      TLS_CERT_DIR: join(entraDir, 'tls'),
      CONFIG_FILE: join(entraDir, 'entra-emulator.config.json'),
      MANAGED_IDENTITY_SECRET: identityHeader,
    }),
  });
  const started = [entra.child];
  try {
    await waitUntil(async () => (await tryFetch(`${origin}/health`))?.ok, {
      timeoutMs,
      watch: entra.watch,
      what: 'entra-emulator',
      logPath: entraLog,
    });

    const vaultLog = join(dir, 'azure-keyvault-emulator.log');
    const vault = launch(
      bins[GO_VAULT.name],
      ['--addr', `127.0.0.1:${vaultPort}`, '--data-dir', vaultDir, '--entra-issuer', issuer],
      { cwd: vaultDir, logPath: vaultLog, detached, env: cleanEnv({}) },
    );
    started.push(vault.child);
    const vaultUrl = `https://127.0.0.1:${vaultPort}/`;
    const pem = await waitUntil(() => serverCertificatePem(vaultPort), {
      timeoutMs,
      watch: vault.watch,
      what: 'azure-keyvault-emulator',
      logPath: vaultLog,
    });
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, pem);
    // The documented handshake: an unauthenticated request is 401 with a Bearer challenge naming the authority.
    const first = await challenge(`${vaultUrl}secrets?api-version=${API_VERSION}`, pem);
    if (first.status !== 401 || !/authorization/i.test(first.wwwAuthenticate)) {
      throw new Error(`azure-keyvault-emulator answered ${first.status} without a Bearer challenge; see ${vaultLog}`);
    }

    const msi = await tryFetch(
      `${origin}/msi/token?resource=${encodeURIComponent(VAULT_AUDIENCE)}&api-version=2019-08-01`,
      { headers: { 'X-IDENTITY-HEADER': identityHeader } },
    );
    if (!msi?.ok) throw new Error(`entra-emulator /msi/token answered ${msi?.status ?? 'nothing'}; see ${entraLog}`);
    const claims = jwtClaims((await msi.json()).access_token);

    return {
      kind: 'go',
      description: `azure-keyvault-emulator ${versions[GO_VAULT.name]} + entra-emulator ${versions[GO_ENTRA.name]} (${how})`,
      vaultUrl,
      identityEndpoint: `${origin}/msi/token`,
      identityHeader,
      tokenAuthority: origin,
      caFile,
      apiVersion: API_VERSION,
      validatesTokens: true,
      principalId: claims.oid ?? claims.sub,
      vaultControlUrl: `${vaultUrl}_emulator`,
      identityAdminUrl: `${origin}/admin/api`,
      pids: started.map((c) => c.pid),
      logPaths: [entraLog, vaultLog],
    };
  } catch (error) {
    for (const c of started) c.kill();
    throw error;
  }
}
