/**
 * The azd postdeploy gate (scripts/postdeploy-gate.mjs, scripts/postdeploy.mjs) against a stub of the two deployed
 * endpoints on 127.0.0.1: ping, and the config check (200/503 with the report src/diagnostics/configReport.ts builds).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/identity';
import { parse } from 'yaml';
import type * as ArmModule from '../scripts/arm.mjs';
import type * as KeysModule from '../scripts/function-keys.mjs';
import type * as GateModule from '../scripts/postdeploy-gate.mjs';
import { type ArmStub, armStubAvailable, fakeAzd, hookEnv, startArmStub } from './support/armStub.js';
import { ROOT } from './support/projectRoot.js';
import { runNode } from './support/runNode.js';

const HOOK = join(ROOT, 'scripts', 'postdeploy.mjs');
const gate = (await import(pathToFileURL(join(ROOT, 'scripts', 'postdeploy-gate.mjs')).href)) as typeof GateModule;
const arm = (await import(pathToFileURL(join(ROOT, 'scripts', 'arm.mjs')).href)) as typeof ArmModule;
const keys = (await import(pathToFileURL(join(ROOT, 'scripts', 'function-keys.mjs')).href)) as typeof KeysModule;

const KEY = 'stub-function-key-7f3a9c';
const TENANT = '11111111-1111-1111-1111-111111111111';
const SECRET_VALUE = 'the-secret-value-must-never-print';

// ---------------------------------------------------------------------------------------------
// Bodies shaped like the config check's (src/diagnostics/configReport.ts)
// ---------------------------------------------------------------------------------------------

const vaultOk = {
  configured: true,
  url: 'https://kv-test.vault.azure.net/',
  credential: 'ManagedIdentityCredential',
  reachable: true,
  canReadSecrets: true,
  detail: 'Key Vault answered and accepts the system-assigned managed identity for reading secrets.',
};
const cache = { entries: 0, hits: 0, misses: 0 };
const healthy = {
  status: 'ok',
  health: 'ok',
  keyVault: vaultOk,
  settings: [{ name: 'DEMO_SECRET_REFERENCE', state: 'loaded', detail: null }],
  cache,
};

function problem(health: string, keyVault: Record<string, unknown>, settings: object[]) {
  return {
    type: 'https://example.invalid/problems/config-check-failed',
    title: `Configuration ${health}`,
    status: 503,
    detail: 'summary',
    health,
    keyVault,
    settings,
    cache,
  };
}
const unresolved = problem('degraded', vaultOk, [
  {
    name: 'DEMO_SECRET_REFERENCE',
    state: 'unresolved-reference',
    detail:
      'The platform left this Key Vault reference unresolved, but the app\'s own identity can read secret "demo-secret".',
  },
]);
const missing = problem('degraded', vaultOk, [
  { name: 'SECRETS_ALLOWED', state: 'missing', detail: 'The app setting is not set.' },
  { name: 'DEMO_SECRET_REFERENCE', state: 'loaded', detail: null },
]);
const deniedDetail = 'AccessToKeyVaultDenied: Key Vault answered 403 for the system-assigned managed identity.';
const denied = problem('failed', { ...vaultOk, canReadSecrets: false, detail: deniedDetail }, [
  { name: 'DEMO_SECRET_REFERENCE', state: 'loaded', detail: null },
]);

// ---------------------------------------------------------------------------------------------
// Stub of the deployed app
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  body?: unknown;
}

interface Stub {
  url: string;
  requests: { path: string; query: string; keyHeader: string | undefined }[];
  close(): Promise<void>;
}

/** Each endpoint answers its replies in order and repeats the last one; a wrong or missing key gets 401. */
async function stub(plan: { ping: Reply[]; check: Reply[]; key?: string }): Promise<Stub> {
  const requests: Stub['requests'] = [];
  let pings = 0;
  let checks = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const keyHeader = req.headers['x-functions-key'] as string | undefined;
    requests.push({ path: url.pathname, query: url.search, keyHeader });
    let reply: Reply;
    if (url.pathname === '/api/ping') reply = plan.ping[Math.min(pings++, plan.ping.length - 1)]!;
    else if (url.pathname === '/api/config/check') {
      reply =
        keyHeader === (plan.key ?? KEY) ? plan.check[Math.min(checks++, plan.check.length - 1)]! : { status: 401 };
    } else reply = { status: 404 };
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

/**
 * The gate's own clock, virtual: its waits between attempts take no real time and its deadline counts only those
 * waits, so how many attempts fit in `timeoutMs` does not depend on how fast the machine answers the stub.
 */
function virtualClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
}

async function runAgainst(s: Stub, options: Partial<GateModule.GateOptions> = {}) {
  const lines: string[] = [];
  const result = await gate.runGate({
    pingUrl: `${s.url}/api/ping`,
    configCheckUrl: `${s.url}/api/config/check`,
    getKey: () => KEY,
    timeoutMs: 800,
    intervalMs: 20,
    requestTimeoutMs: 30_000,
    ...virtualClock(),
    log: (line) => lines.push(line),
    ...options,
  });
  const printed = [...lines, result.summary, ...result.diagnosis].join('\n');
  assert.ok(!printed.includes(KEY), 'the function key is never printed');
  assert.ok(!printed.includes(SECRET_VALUE), 'no secret value is printed');
  for (const r of s.requests) assert.ok(!r.query.includes(KEY), 'the key never travels in a URL');
  return { result, lines, printed };
}

test('azure.yaml runs the gate as the postdeploy hook on every OS', () => {
  const doc = parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
    hooks?: { postdeploy?: Record<string, { shell?: string; run?: string; continueOnError?: boolean }> };
  };
  const hook = doc.hooks?.postdeploy ?? assert.fail('azure.yaml has no postdeploy hook');
  for (const os of ['posix', 'windows']) {
    assert.equal(hook[os]?.run, 'node scripts/postdeploy.mjs', `${os} hook`);
    assert.notEqual(hook[os]?.continueOnError, true, `${os}: a failed check fails the deployment`);
  }
  assert.ok(existsSync(HOOK));
});

// ---------------------------------------------------------------------------------------------
// Pure parts
// ---------------------------------------------------------------------------------------------

test('SKIP_POSTDEPLOY_CHECK=true skips; anything else does not', () => {
  for (const value of ['true', 'TRUE', '1', 'yes'])
    assert.equal(gate.shouldSkip({ SKIP_POSTDEPLOY_CHECK: value }), true);
  for (const value of [undefined, '', 'false', '0', 'no', 'skip']) {
    assert.equal(gate.shouldSkip({ SKIP_POSTDEPLOY_CHECK: value }), false, String(value));
  }
});

test('endpoints come from PING_URL; the key is only ever sent over https (or to loopback)', () => {
  assert.deepEqual(gate.endpointsFrom({ PING_URL: 'https://func-api-x.azurewebsites.net/api/ping' }), {
    pingUrl: 'https://func-api-x.azurewebsites.net/api/ping',
    configCheckUrl: 'https://func-api-x.azurewebsites.net/api/config/check',
  });
  assert.throws(() => gate.endpointsFrom({}), /PING_URL is not set/);
  assert.throws(
    () => gate.endpointsFrom({ PING_URL: 'http://func-api-x.azurewebsites.net/api/ping' }),
    /must be https/,
  );
  assert.throws(() => gate.endpointsFrom({ PING_URL: 'https://x.azurewebsites.net/api/ping?code=abc' }), /query/);
  assert.throws(() => gate.endpointsFrom({ PING_URL: 'https://x.azurewebsites.net/api/other' }), /end with \/ping/);
  assert.equal(gate.checkedUrl('http://127.0.0.1:8080/api/ping', 'x').port, '8080');
});

test('redact removes every occurrence of the key and caps the length', () => {
  assert.equal(gate.redact(`a ${KEY} b ${KEY}`, [KEY]), 'a *** b ***');
  assert.ok(gate.redact('x'.repeat(5000)).length < 500);
});

test('classifyConfigCheck: what waiting can fix waits, what it cannot fails, and only names/states/details are kept', () => {
  const body = (b: unknown) => JSON.stringify(b);
  assert.equal(gate.classifyConfigCheck({ status: 200, body: body(healthy) }).verdict, 'ok');
  assert.equal(gate.classifyConfigCheck({ status: 503, body: body(unresolved) }).verdict, 'wait');
  assert.equal(gate.classifyConfigCheck({ status: 503, body: body(denied) }).verdict, 'wait');
  assert.equal(gate.classifyConfigCheck({ status: 401 }).verdict, 'wait');
  assert.equal(gate.classifyConfigCheck({ status: 404, body: 'not found' }).verdict, 'wait');
  assert.equal(gate.classifyConfigCheck({ error: 'ECONNREFUSED' }).verdict, 'wait');
  const notSet = gate.classifyConfigCheck({ status: 503, body: body(missing) });
  assert.equal(notSet.verdict, 'fail');
  assert.deepEqual(notSet.diagnosis, ['SECRETS_ALLOWED: missing', '    The app setting is not set.']);
  const noVault = gate.classifyConfigCheck({
    status: 503,
    body: body(
      problem(
        'degraded',
        { ...vaultOk, configured: false, canReadSecrets: null, detail: 'KEY_VAULT_URL is not set.' },
        [],
      ),
    ),
  });
  assert.equal(noVault.verdict, 'fail');
  assert.deepEqual(noVault.diagnosis, ['Key Vault: KEY_VAULT_URL is not set.']);
  // A body that (against the contract) carries values: only the known fields are used.
  const leaky = gate.classifyConfigCheck({
    status: 503,
    body: body({ ...unresolved, value: SECRET_VALUE, settings: [{ name: 'X', state: 'empty', value: SECRET_VALUE }] }),
  });
  assert.equal(leaky.verdict, 'fail');
  assert.ok(!JSON.stringify(leaky).includes(SECRET_VALUE));
  assert.deepEqual(leaky.diagnosis, ['X: empty']);
});

// ---------------------------------------------------------------------------------------------
// The gate against the stub
// ---------------------------------------------------------------------------------------------

describe('runGate against a stub of ping and the config check on 127.0.0.1', () => {
  const stubs: Stub[] = [];
  const make = async (plan: Parameters<typeof stub>[0]) => {
    const s = await stub(plan);
    stubs.push(s);
    return s;
  };
  after(async () => {
    await Promise.all(stubs.map((s) => s.close()));
  });

  test('passes once the app is up and the Key Vault reference resolved, with a progress line while waiting', async () => {
    const s = await make({
      ping: [{ status: 503 }, { status: 200, body: { status: 'ok' } }],
      check: [
        { status: 503, body: unresolved },
        { status: 503, body: unresolved },
        { status: 200, body: healthy },
      ],
    });
    const { result, lines } = await runAgainst(s, { timeoutMs: 10_000 });
    assert.equal(result.ok, true, result.summary);
    assert.ok(
      lines.some((line) => /ping answered HTTP 503/.test(line)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) => /waiting for Key Vault references to resolve/.test(line)),
      lines.join('\n'),
    );
    const checks = s.requests.filter((r) => r.path === '/api/config/check');
    assert.equal(checks.length, 3);
    assert.ok(
      checks.every((r) => r.keyHeader === KEY),
      'the key goes in the x-functions-key header',
    );
    assert.ok(
      s.requests.filter((r) => r.path === '/api/ping').every((r) => r.keyHeader === undefined),
      'ping is called without a key',
    );
  });

  test('a setting waiting cannot fix fails at once with the check own diagnosis', async () => {
    const s = await make({ ping: [{ status: 200 }], check: [{ status: 503, body: missing }] });
    const { result } = await runAgainst(s, { timeoutMs: 10_000 });
    assert.equal(result.ok, false);
    assert.equal(result.attempts, 1);
    assert.match(result.summary, /configuration error/);
    assert.deepEqual(result.diagnosis, ['SECRETS_ALLOWED: missing', '    The app setting is not set.']);
  });

  test('an unresolved reference that stays unresolved fails when the wait runs out, naming the setting', async () => {
    const s = await make({ ping: [{ status: 200 }], check: [{ status: 503, body: unresolved }] });
    const { result, lines } = await runAgainst(s);
    assert.equal(result.ok, false);
    assert.match(result.summary, /^gave up after \d+ s: waiting for Key Vault references to resolve/);
    assert.equal(result.diagnosis[0], 'DEMO_SECRET_REFERENCE: unresolved-reference');
    assert.ok(result.attempts > 1 && lines.length === result.attempts - 1, 'it waited, one progress line per retry');
  });

  test('an identity Key Vault keeps refusing fails with the Key Vault diagnosis', async () => {
    const s = await make({ ping: [{ status: 200 }], check: [{ status: 503, body: denied }] });
    const { result } = await runAgainst(s);
    assert.equal(result.ok, false);
    assert.match(result.summary, /waiting for Key Vault to accept the app identity/);
    assert.deepEqual(result.diagnosis, [`Key Vault: ${deniedDetail}`]);
  });

  test('a refused key is fetched again, and never printed', async () => {
    const s = await make({
      ping: [{ status: 200 }],
      check: [{ status: 200, body: healthy }],
      key: 'another-key-entirely',
    });
    let calls = 0;
    const { result } = await runAgainst(s, {
      getKey: () => {
        calls += 1;
        return KEY;
      },
    });
    assert.equal(result.ok, false);
    assert.match(result.summary, /refused the function key \(HTTP 401\)/);
    assert.ok(calls > 1, 'the key was fetched again after the refusal');
  });

  test('no key from az yet: the gate keeps trying and passes once az returns one', async () => {
    const s = await make({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
    let calls = 0;
    const { result } = await runAgainst(s, {
      getKey: () => {
        calls += 1;
        if (calls < 3) throw new Error('az functionapp keys list failed: host not started');
        return KEY;
      },
    });
    assert.equal(result.ok, true, result.summary);
    assert.equal(calls, 3);
  });

  test('an ARM error waiting cannot clear fails the gate at once, with its fix', async () => {
    const s = await make({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
    let calls = 0;
    const { result, lines } = await runAgainst(s, {
      timeoutMs: 60_000,
      getKey: () => {
        calls += 1;
        throw new arm.HookError('AuthorizationFailed: no permission to list the function keys', {
          final: true,
          fix: 'grant Contributor',
        });
      },
    });
    assert.equal(result.ok, false);
    assert.equal(calls, 1, 'asked once');
    assert.equal(result.attempts, 1);
    assert.deepEqual(lines, [], 'no progress lines: nothing to wait for');
    assert.match(result.summary, /AuthorizationFailed/);
    assert.ok(result.diagnosis.includes('Fix: grant Contributor'));
  });

  test('ping never answering fails with the last ping status', async () => {
    const s = await make({ ping: [{ status: 502 }], check: [{ status: 200, body: healthy }] });
    const { result } = await runAgainst(s);
    assert.equal(result.ok, false);
    assert.match(result.summary, /ping answered HTTP 502/);
    assert.equal(
      s.requests.filter((r) => r.path === '/api/config/check').length,
      0,
      'no key is sent before ping works',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// scripts/arm.mjs: final vs. can-become-ready failures; the environment values that go into ARM paths
// ---------------------------------------------------------------------------------------------

const SUB = '00000000-0000-0000-0000-000000000000';

test('ARM failures: azd missing or signed out, another tenant, AuthorizationFailed, no subscription are final', () => {
  const named = (name: string, message: string) => Object.assign(new Error(message), { name });
  const rest = (statusCode: number, code: string, message = code) =>
    Object.assign(new Error(message), { name: 'RestError', statusCode, code });
  for (const [error, fix] of [
    [named('CredentialUnavailableError', "Azure Developer CLI couldn't be found."), /install the Azure Developer CLI/],
    [named('CredentialUnavailableError', "Please run 'azd auth login' from a command prompt"), /`azd auth login`/],
    [rest(401, 'InvalidAuthenticationTokenTenant', 'The access token is from the wrong issuer'), /--tenant-id 1{8}-/],
    [rest(403, 'AuthorizationFailed'), /lacks a permission/],
    [rest(404, 'SubscriptionNotFound'), /AZURE_SUBSCRIPTION_ID/],
  ] as const) {
    const verdict = arm.classifyArmFailure(error, { AZURE_TENANT_ID: TENANT });
    assert.equal(verdict.final, true, error.message);
    assert.match(verdict.fix, fix);
  }
  for (const error of [rest(404, 'ResourceNotFound'), rest(500, 'InternalServerError'), new Error('ECONNRESET')]) {
    assert.equal(arm.classifyArmFailure(error).final, false, `can become ready: ${error.message}`);
  }
});

test('the ARM endpoint is an https origin; the app scope is validated before it goes into a path', () => {
  assert.equal(arm.armEndpoint({}), 'https://management.azure.com');
  assert.equal(
    arm.armEndpoint({ AZURE_RESOURCE_MANAGER_ENDPOINT: 'https://management.usgovcloudapi.net/' }),
    'https://management.usgovcloudapi.net',
  );
  for (const bad of ['http://management.azure.com', 'https://x/path', 'https://u:p@x', 'not a url']) {
    assert.throws(() => arm.armEndpoint({ AZURE_RESOURCE_MANAGER_ENDPOINT: bad }), /AZURE_RESOURCE_MANAGER_ENDPOINT/);
  }
  const env = {
    AZURE_RESOURCE_GROUP: 'rg-a',
    AZURE_FUNCTION_APP_NAME: 'func-a',
    AZURE_SUBSCRIPTION_ID: SUB,
    AZURE_TENANT_ID: TENANT,
  };
  assert.deepEqual(arm.functionAppScope(env), { subscriptionId: SUB, resourceGroup: 'rg-a', appName: 'func-a' });
  for (const [name, value] of [
    ['AZURE_RESOURCE_GROUP', 'rg/../other'],
    ['AZURE_FUNCTION_APP_NAME', 'func?x=1'],
    ['AZURE_SUBSCRIPTION_ID', 'not-a-guid'],
    ['AZURE_TENANT_ID', 'not-a-tenant'],
  ] as const) {
    assert.throws(() => arm.functionAppScope({ ...env, [name]: value }), new RegExp(`${name} is not a valid name`));
  }
});

// ---------------------------------------------------------------------------------------------
// The function key through @azure/arm-appservice, against an HTTPS stub of ARM
// ---------------------------------------------------------------------------------------------

const skipArm = armStubAvailable ? false : 'needs openssl (the HTTPS stub of ARM)';
const SITE = `/subscriptions/${SUB}/resourceGroups/rg-test/providers/Microsoft.Web/sites/func-api-test`;
const credential: TokenCredential = {
  getToken: async () => ({ token: 'stub-arm-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** An ARM stub for the two key operations: `functionKeys` answers listkeys of configCheck, `hostKeys` the host's. */
async function keysStub(
  functionKeys: { status: number; body?: unknown },
  hostKeys: { status: number; body?: unknown },
) {
  return startArmStub((req, reply) => {
    if (req.method === 'POST' && req.path === `${SITE}/functions/configCheck/listkeys`) {
      return reply(functionKeys.status, functionKeys.body);
    }
    if (req.method === 'POST' && req.path === `${SITE}/host/default/listkeys`)
      return reply(hostKeys.status, hostKeys.body);
    return reply(404, { error: { code: 'NotFound', message: req.path } });
  });
}

const scope = { resourceGroup: 'rg-test', appName: 'func-api-test' };
const webAppsAt = (origin: string) => new WebSiteManagementClient(credential, SUB, arm.clientOptions(origin)).webApps;

test(
  'functionKey: the configCheck key in either answer shape, else the host key; a 403 is final',
  { skip: skipArm },
  async () => {
    const stubs: ArmStub[] = [];
    try {
      const topLevel = await keysStub({ status: 200, body: { default: KEY } }, { status: 500 });
      stubs.push(topLevel);
      assert.equal(await keys.functionKey(webAppsAt(topLevel.origin), scope), KEY);
      assert.equal(topLevel.requests[0]!.authorization, 'Bearer stub-arm-token');

      const wrapped = await keysStub({ status: 200, body: { properties: { default: KEY } } }, { status: 500 });
      stubs.push(wrapped);
      assert.equal(await keys.functionKey(webAppsAt(wrapped.origin), scope), KEY);

      const hostOnly = await keysStub(
        { status: 404, body: { error: { code: 'NotFound', message: 'no function' } } },
        { status: 200, body: { masterKey: 'm', functionKeys: { default: `${KEY}-host` }, systemKeys: {} } },
      );
      stubs.push(hostOnly);
      assert.equal(await keys.functionKey(webAppsAt(hostOnly.origin), scope), `${KEY}-host`);

      const denied = await keysStub(
        { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no listkeys' } } },
        { status: 200, body: { functionKeys: { default: 'never-read' } } },
      );
      stubs.push(denied);
      await assert.rejects(keys.functionKey(webAppsAt(denied.origin), scope), (error: ArmModule.HookError) => {
        assert.equal(error.final, true);
        assert.match(error.fix, /lacks a permission/);
        return true;
      });
      assert.equal(denied.requests.length, 1, 'a final failure is not followed by the host key');
    } finally {
      await Promise.all(stubs.map((s) => s.close()));
    }
  },
);

// ---------------------------------------------------------------------------------------------
// The hook as azd runs it: a stand-in `azd` on PATH (AzureDeveloperCliCredential), ARM and the app stubbed
// ---------------------------------------------------------------------------------------------

describe(
  'scripts/postdeploy.mjs (the azd hook)',
  { skip: process.platform === 'win32' ? 'the stand-in azd is a sh script' : skipArm },
  () => {
    const TOKEN = 'stub-azd-arm-token-91c2';
    const stubs: { close(): Promise<void> }[] = [];
    let armStub: ArmStub;
    let azd: ReturnType<typeof fakeAzd>;
    let signedOut: ReturnType<typeof fakeAzd>;
    let tenantRefused = false;
    before(async () => {
      azd = fakeAzd(TOKEN);
      signedOut = fakeAzd('unused', { signedOut: true });
      armStub = await startArmStub((req, reply) => {
        if (tenantRefused) {
          return reply(401, {
            error: { code: 'InvalidAuthenticationTokenTenant', message: 'The access token is from the wrong issuer' },
          });
        }
        if (req.method === 'POST' && req.path === `${SITE}/functions/configCheck/listkeys`) {
          return reply(200, { default: KEY });
        }
        return reply(404, { error: { code: 'NotFound', message: req.path } });
      });
    });
    after(async () => {
      await Promise.all(stubs.map((s) => s.close()));
      await armStub.close();
      azd.cleanup();
      signedOut.cleanup();
    });

    const envFor = (s: Stub, bin = azd.dir) => ({
      ...hookEnv(bin, armStub.origin),
      PING_URL: `${s.url}/api/ping`,
      AZURE_FUNCTION_APP_NAME: 'func-api-test',
      AZURE_RESOURCE_GROUP: 'rg-test',
      AZURE_SUBSCRIPTION_ID: SUB,
      AZURE_TENANT_ID: TENANT,
      // Every case here ends on the first attempt; the limit only matters if one did not.
      POSTDEPLOY_CHECK_TIMEOUT_SECONDS: '60',
      POSTDEPLOY_CHECK_INTERVAL_SECONDS: '0.05',
    });
    const runHook = async (env: Record<string, string>) => {
      const { status, stdout, stderr } = await runNode([HOOK], { cwd: ROOT, env });
      return { code: status, out: stdout + stderr };
    };

    test('passes against a healthy app, reading the configCheck key through ARM, signed in as azd is', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
      stubs.push(s);
      armStub.requests.length = 0;
      const { code, out } = await runHook(envFor(s));
      assert.equal(code, 0, out);
      assert.match(out, /postdeploy check: passed/);
      assert.ok(!out.includes(KEY) && !out.includes(TOKEN), 'neither the key nor the token is printed');
      assert.deepEqual(
        armStub.requests.map((r) => `${r.method} ${r.path} ${r.authorization}`),
        [`POST ${SITE}/functions/configCheck/listkeys Bearer ${TOKEN}`],
      );
    });

    test('fails the deployment (exit 1) with the diagnosis when a setting is missing', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 503, body: missing }] });
      stubs.push(s);
      const { code, out } = await runHook(envFor(s));
      assert.equal(code, 1, out);
      assert.match(out, /postdeploy check FAILED: the config check reports a configuration error/);
      assert.match(out, /SECRETS_ALLOWED: missing/);
      assert.ok(!out.includes(KEY));
    });

    test('azd not signed in fails at once with the fix, before any request or wait', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
      stubs.push(s);
      armStub.requests.length = 0;
      const { code, out } = await runHook({ ...envFor(s, signedOut.dir), POSTDEPLOY_CHECK_TIMEOUT_SECONDS: '300' });
      assert.equal(code, 1, out);
      assert.match(out, /postdeploy check FAILED: no ARM token from azd/);
      assert.match(out, /Fix: sign azd in: `azd auth login`/);
      assert.doesNotMatch(out, /attempt \d/, 'no waiting');
      assert.equal(s.requests.length, 0, 'nothing called');
      assert.equal(armStub.requests.length, 0);
    });

    test('a token for another tenant fails at once, naming the tenant to sign in to', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
      stubs.push(s);
      tenantRefused = true;
      try {
        const { code, out } = await runHook(envFor(s));
        assert.equal(code, 1, out);
        assert.match(out, new RegExp(`azd auth login --tenant-id ${TENANT}`));
        assert.doesNotMatch(out, /attempt \d/, 'no waiting');
      } finally {
        tenantRefused = false;
      }
    });

    test('an azd environment value that is not an ARM name is refused before anything is sent', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
      stubs.push(s);
      armStub.requests.length = 0;
      const { code, out } = await runHook({ ...envFor(s), AZURE_RESOURCE_GROUP: 'rg-test&calc' });
      assert.equal(code, 1, out);
      assert.match(out, /AZURE_RESOURCE_GROUP is not a valid name: "rg-test&calc"/);
      assert.equal(armStub.requests.length, 0);
      assert.equal(s.requests.length, 0);
    });

    test('SKIP_POSTDEPLOY_CHECK=true skips without calling anything', async () => {
      const s = await stub({ ping: [{ status: 500 }], check: [{ status: 500 }] });
      stubs.push(s);
      const { code, out } = await runHook({ ...envFor(s), SKIP_POSTDEPLOY_CHECK: 'true' });
      assert.equal(code, 0, out);
      assert.match(out, /skipped/);
      assert.equal(s.requests.length, 0);
    });
  },
);
