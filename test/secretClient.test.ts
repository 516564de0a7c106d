/**
 * The real SDK path (ManagedIdentityCredential + SecretClient) where no Key Vault server is needed: a vault that
 * refuses connections, one that never answers, and lazy loading of the SDK. Loopback only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as getSecretModule from '../src/functions/getSecret.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { configureKeyVault } from 'functions-keyvault/internal/keyVault/index.js';
import { FaultProxy, fixtureTls } from './support/faultProxy.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { captureConsole } from './support/captureConsole.js';
import { entryFiles } from './support/entryFiles.js';

let closedPort = 0;
let blackhole: Server;
let blackholePort = 0;
const sockets: Socket[] = [];

before(async () => {
  // A port that was free a moment ago: nothing listens there.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  // Accepts TCP connections and never says a word (a vault that hangs).
  blackhole = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  blackholePort = (blackhole.address() as { port: number }).port;
});

after(() => {
  sockets.forEach((s) => s.destroy());
  blackhole.close();
});

function env(vaultPort: number, timeoutMs = 500) {
  return {
    KEY_VAULT_URL: `https://127.0.0.1:${vaultPort}/`,
    SECRETS_ALLOWED: 'db-password',
    KEY_VAULT_TIMEOUT_MS: String(timeoutMs),
    KEY_VAULT_API_VERSION: '7.5',
    KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    IDENTITY_ENDPOINT: `http://127.0.0.1:${closedPort}/metadata/identity/oauth2/token`,
    IDENTITY_HEADER: 'x',
  };
}

async function read() {
  const { context } = capturingContext('getSecret');
  return getSecretModule.getSecret(get('http://localhost/api/secrets/db-password', { name: 'db-password' }), context);
}

test('vault refusing connections: 503 with Retry-After, real SecretClient', async () => {
  // Long enough for the SDK's own retries (2, short back-off) to give up before the app's timeout does, however
  // loaded the machine.
  configureKeyVault({ config: parseConfig(env(closedPort, 30_000)) });
  const response = await read();
  assert.equal(response.status, 503);
  assert.ok(header(response, 'retry-after'));
  assert.match(String(body(response).detail), /ECONNREFUSED/);
});

test('vault that never answers: 503 within the timeout (KEY_VAULT_TIMEOUT_MS), real SecretClient', async () => {
  configureKeyVault({ config: parseConfig(env(blackholePort)) });
  const response = await read();
  assert.equal(response.status, 503);
  assert.equal(body(response).reason, 'FetchTimedOut');
  assert.match(String(body(response).detail), /timed out/);
});

test('config check against an unreachable vault: reachable false, canReadSecrets false', async () => {
  configureKeyVault({ config: parseConfig(env(closedPort)) });
  const { context } = capturingContext('configCheck');
  const response = await configCheckModule.configCheck(get('http://localhost/api/config/check'), context);
  assert.equal(response.status, 503);
  const kv = (body(response) as { keyVault: { reachable: boolean; canReadSecrets: boolean; detail: string } }).keyVault;
  assert.equal(kv.reachable, false);
  assert.equal(kv.canReadSecrets, false);
  assert.match(kv.detail, /FetchTimedOut/);
});

test('cold start: loading the app and calling ping loads no Key Vault SDK, cache or identity library', () => {
  const dist = fileURLToPath(new URL('../src/', import.meta.url));
  const hooks = pathToFileURL(fileURLToPath(new URL('./support/loadHooks.js', import.meta.url))).href;
  const log = join(mkdtempSync(join(tmpdir(), 'loads-')), 'loads.txt');
  const script = `
    import { register } from 'node:module';
    register(${JSON.stringify(hooks)});
    const { ping } = await import(${JSON.stringify(pathToFileURL(join(dist, 'functions/ping.js')).href)});
    for (const file of ${JSON.stringify(entryFiles().map((f) => pathToFileURL(f).href))}) await import(file);
    const { InvocationContext, HttpRequest } = (await import('@azure/functions')).default;
    const r = await ping(new HttpRequest({ method: 'GET', url: 'http://localhost/api/ping' }), new InvocationContext());
    const fs = await import('node:fs');
    fs.appendFileSync(process.env.LOAD_LOG, 'PING ' + r.status + '\\n');
    if (process.argv.includes('--touch-vault')) {
      const { keyVault } = await import('functions-keyvault');
      await keyVault().probeAccess('https://127.0.0.1:${closedPort}/').catch(() => {});
    }`;
  const run = (touch: boolean) => {
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script, ...(touch ? ['--', '--touch-vault'] : [])],
      {
        env: {
          ...process.env,
          LOAD_LOG: log,
          KEY_VAULT_URL: `https://127.0.0.1:${closedPort}/`,
          KEY_VAULT_TIMEOUT_MS: '300',
        },
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(log, 'utf8');
  };
  const pingOnly = run(false);
  assert.match(pingOnly, /PING 200/);
  assert.match(pingOnly, /@azure\/functions/);
  for (const heavy of [
    '@azure/identity',
    '@azure/keyvault-secrets',
    '@azure/core-rest-pipeline',
    'lru-cache',
    'p-limit',
    '@opentelemetry/api',
    '@azure/monitor-opentelemetry',
  ]) {
    assert.equal(pingOnly.includes(`node_modules/${heavy}/`), false, `${heavy} was loaded by ping`);
  }
  const touched = run(true);
  assert.match(touched, /node_modules\/@azure\/identity\//, 'the first Key Vault call does load the SDK');
  assert.match(touched, /node_modules\/lru-cache\//);
});

test('the real ManagedIdentityCredential: its failures classify as refused (4xx) or unavailable (down)', async () => {
  const { createServer: createHttpServer } = await import('node:http');
  const { randomUUID } = await import('node:crypto');
  const { createCredential } = await import('functions-keyvault/internal/keyVault/credential.js');
  const { chooseIdentity } = await import('functions-keyvault/internal/keyVault/identity.js');
  const { classifyError } = await import('functions-keyvault/internal/keyVault/classify.js');
  // A token endpoint that refuses, as App Service does for an identity that is not assigned to the app.
  const refusing = createHttpServer((_req, res) => {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ statusCode: 400, message: 'Unable to load the proper Managed Identity.' }));
  });
  await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
  const refusingUrl = `http://127.0.0.1:${(refusing.address() as { port: number }).port}/msi/token`;
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
  const tokenFailure = async (endpoint: string) => {
    process.env.IDENTITY_ENDPOINT = endpoint;
    process.env.IDENTITY_HEADER = 'x';
    // A fresh client id each time: msal-node caches managed-identity tokens process-wide by client id.
    const { identity } = parseConfig({
      IDENTITY_ENDPOINT: endpoint,
      IDENTITY_HEADER: 'x',
      AZURE_CLIENT_ID: randomUUID(),
    });
    const credential = createCredential(chooseIdentity(identity), identity);
    try {
      await credential.getToken('https://vault.azure.net/.default');
      return undefined;
    } catch (error) {
      return classifyError(error);
    }
  };
  try {
    const refused = await tokenFailure(refusingUrl);
    assert.equal(refused?.kind, 'identity-refused');
    // Same URL (msal-node remembers the managed-identity source process-wide), endpoint now down.
    await new Promise<void>((r) => refusing.close(() => r()));
    const down = await tokenFailure(refusingUrl);
    assert.equal(down?.kind, 'identity-unavailable');
  } finally {
    process.env.IDENTITY_ENDPOINT = saved.endpoint;
    process.env.IDENTITY_HEADER = saved.header;
    refusing.close();
  }
});

test(
  'no secret value in any response, header, log line or config check when Key Vault answers 200 with broken JSON or 500 with data',
  { skip: fixtureTls() ? false : 'no TLS material for the HTTPS fixture (openssl missing)' },
  async () => {
    const CANARY = `canary-${Math.random().toString(36).slice(2)}-value`;
    const fixture = await FaultProxy.start('https://127.0.0.1:9', fixtureTls());
    try {
      const cases = [
        { status: 200, body: `{"value":"${CANARY}","id":"https://x/secrets/db-password/0` },
        {
          status: 500,
          body: JSON.stringify({ error: { code: 'InternalError', message: `Failed while returning ${CANARY}` } }),
        },
      ];
      for (const c of cases) {
        fixture.fault = { kind: 'respond', status: c.status, body: c.body, headers: { 'x-ms-request-id': 'req-42' } };
        const settings = {
          // Generous: the answer must come from the fixture (with its request id), never from the timeout.
          ...env(fixture.port, 30_000),
          KEY_VAULT_URL: `${fixture.url}/`,
          CONFIG_CHECK_SETTINGS: 'REF',
          REF: `@Microsoft.KeyVault(SecretUri=${fixture.url}/secrets/db-password)`,
        };
        configureKeyVault({ config: parseConfig(settings) });
        const seen: string[] = [];
        const { result, output } = await captureConsole(async () => {
          const read = capturingContext('getSecret');
          const r = await getSecretModule.getSecret(
            get('http://localhost/api/secrets/db-password', { name: 'db-password' }),
            read.context,
          );
          const cc = capturingContext('configCheck');
          const report = await configCheckModule.configCheck(get('http://localhost/api/config/check'), cc.context);
          seen.push(...read.lines, ...cc.lines);
          return { r, report };
        });
        seen.push(output, JSON.stringify(result.r), JSON.stringify(result.report));
        assert.ok(result.r.status === 502 || result.r.status === 503, `HTTP ${c.status} → ${result.r.status}`);
        assert.equal(body(result.r).requestId, 'req-42', 'the request id is kept for support');
        const report = body(result.report) as { cache: { vaults: Record<string, { lastError: unknown }> } };
        assert.ok(
          Object.values(report.cache.vaults).some((v) => v.lastError !== null),
          'lastError was recorded',
        );
        assert.equal(seen.join('\n').includes(CANARY), false, `the canary leaked for HTTP ${c.status}`);
      }
    } finally {
      await fixture.close();
    }
  },
);
