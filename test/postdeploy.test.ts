/**
 * The azd postdeploy gate (scripts/postdeploy-gate.mjs, scripts/postdeploy.mjs) against a stub of the two deployed
 * endpoints on 127.0.0.1: ping, and the config check (200/503 with the report src/diagnostics/configReport.ts builds).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import type * as AzCli from '../scripts/az-cli.mjs';
import type * as GateModule from '../scripts/postdeploy-gate.mjs';
import { ROOT } from './support/projectRoot.js';

const HOOK = join(ROOT, 'scripts', 'postdeploy.mjs');
const gate = (await import(pathToFileURL(join(ROOT, 'scripts', 'postdeploy-gate.mjs')).href)) as typeof GateModule;
const azCli = (await import(pathToFileURL(join(ROOT, 'scripts', 'az-cli.mjs')).href)) as typeof AzCli;

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

  test('an az error waiting cannot clear fails the gate at once, with its fix', async () => {
    const s = await make({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
    let calls = 0;
    const { result, lines } = await runAgainst(s, {
      timeoutMs: 60_000,
      getKey: () => {
        calls += 1;
        throw new azCli.AzError('az functionapp function keys failed: (AuthorizationFailed) no permission', {
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
// scripts/az-cli.mjs: final vs. can-become-ready failures, and the Windows command line
// ---------------------------------------------------------------------------------------------

test('az failures: not installed, not signed in, wrong tenant, AuthorizationFailed, no subscription are final', () => {
  const final: [string, RegExp][] = [
    ["'az' is not recognized as an internal or external command,", /install the Azure CLI/],
    ['/bin/sh: 1: az: not found', /install the Azure CLI/],
    ["ERROR: Please run 'az login' to setup account.", /az login/],
    ['AADSTS700082: The refresh token has expired due to inactivity.', /az login/],
    ['(InvalidAuthenticationTokenTenant) The access token is from the wrong issuer', /az login --tenant/],
    ["(AuthorizationFailed) The client 'x' does not have authorization to perform action", /permission/],
    ["(SubscriptionNotFound) The subscription '0000' could not be found.", /AZURE_SUBSCRIPTION_ID/],
  ];
  for (const [stderr, fix] of final) {
    const verdict = azCli.classifyAzFailure(stderr);
    assert.equal(verdict.final, true, stderr);
    assert.match(verdict.fix, fix, stderr);
  }
  for (const stderr of [
    '(NotFound) The function app was not found yet',
    'ERROR: (ServiceUnavailable) The service is unavailable',
    'Operation returned an invalid status code: Too Many Requests',
    '',
  ]) {
    assert.equal(azCli.classifyAzFailure(stderr).final, false, `can become ready: ${stderr}`);
  }
});

test('az(): a failure carries final and fix; on Windows cmd.exe runs one quoted command line', () => {
  const calls: { command: string; args: readonly string[]; shell: unknown }[] = [];
  const spawn = (answer: { status: number | null; stdout?: string; stderr?: string; error?: Error }) =>
    ((command: string, args: readonly string[], options: { shell?: unknown }) => {
      calls.push({ command, args, shell: options.shell });
      return answer;
    }) as Parameters<typeof azCli.az>[1] extends infer O
      ? NonNullable<O> extends { spawn?: infer S }
        ? S
        : never
      : never;

  assert.equal(azCli.az(['account', 'show'], { platform: 'linux', spawn: spawn({ status: 0, stdout: '{}' }) }), '{}');
  assert.deepEqual(calls.pop(), { command: 'az', args: ['account', 'show'], shell: undefined }, 'no shell on POSIX');

  const missing = Object.assign(new Error('spawnSync az ENOENT'), { code: 'ENOENT' });
  assert.throws(
    () => azCli.az(['account', 'show'], { platform: 'linux', spawn: spawn({ status: null, error: missing }) }),
    (error: AzCli.AzError) => error.final && /install the Azure CLI/.test(error.fix),
  );
  assert.throws(
    () => azCli.az(['account', 'show'], { platform: 'win32', spawn: spawn({ status: 9009, stderr: '' }) }),
    (error: AzCli.AzError) => error.final && /install the Azure CLI/.test(error.fix),
    'cmd.exe exit 9009: az is not on PATH',
  );
  assert.throws(
    () =>
      azCli.az(['account', 'show'], {
        platform: 'linux',
        spawn: spawn({ status: 1, stderr: "WARNING: x\nERROR: Please run 'az login' to setup account.\n" }),
      }),
    (error: AzCli.AzError) => error.final && /Please run 'az login'/.test(error.message),
  );
  assert.throws(
    () =>
      azCli.az(['functionapp', 'keys', 'list'], {
        platform: 'linux',
        spawn: spawn({ status: 1, stderr: 'ERROR: (NotFound) x' }),
      }),
    (error: AzCli.AzError) => !error.final,
  );

  azCli.az(['rest', '--url', '/subscriptions/x?api-version=1&y=2'], { platform: 'win32', spawn: spawn({ status: 0 }) });
  const windows = calls.pop()!;
  assert.equal(windows.shell, true);
  assert.deepEqual(windows.args, [], 'one command line, no argument list for Node to join');
  assert.equal(windows.command, 'az rest --url "/subscriptions/x?api-version=1&y=2"');
});

/**
 * How cmd.exe reads a command line: outside double quotes `& | < > ( ) ^` are operators; `%` and `!` expand even
 * inside quotes. Returns the characters that would act as operators, and whether a quote is left open.
 */
function cmdOperatorsOutsideQuotes(line: string): { operators: string[]; unbalanced: boolean } {
  const operators: string[] = [];
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === '%' || ch === '!') operators.push(ch);
    else if (!quoted && '&|<>()^'.includes(ch)) operators.push(ch);
  }
  return { operators, unbalanced: quoted };
}

test('Windows quoting: no cmd.exe operator ends up outside quotes, whatever the argument', () => {
  assert.deepEqual(
    cmdOperatorsOutsideQuotes('a & b "c & d"'),
    { operators: ['&'], unbalanced: false },
    'the checker sees operators',
  );
  const hostile = [
    'rg&calc',
    'rg|whoami',
    'a>out.txt',
    'a<in.txt',
    '(x)',
    'x^y',
    'two words',
    '/subscriptions/x/eventSubscriptions/y?api-version=2022-06-15&z=1',
    'C:\\Users\\me\\AppData\\Local\\Temp\\kv events\\',
    'trailing\\\\',
    '',
    'rg-(prod).v2',
    'systemKeys.eventgrid_extension',
    '--subscription',
    'a=b,c;d',
  ];
  for (const arg of hostile) {
    const line = azCli.windowsCommandLine(['functionapp', 'keys', 'list', '--name', arg]);
    const { operators, unbalanced } = cmdOperatorsOutsideQuotes(line);
    assert.deepEqual(operators, [], `${JSON.stringify(arg)} -> ${line}`);
    assert.equal(unbalanced, false, `${JSON.stringify(arg)} -> ${line}`);
    // The quoted form reaches the program as the same argument (MSVC rule: 2n backslashes before " give n).
    const last = line.slice(line.indexOf('--name ') + '--name '.length);
    const unquoted = last.startsWith('"') ? last.slice(1, -1).replace(/(\\+)$/, (m) => m.slice(0, m.length / 2)) : last;
    assert.equal(unquoted, arg, `round trip of ${JSON.stringify(arg)}`);
  }
  for (const arg of ['a"&calc&"', '%PATH%', '!x!', 'line\nbreak', 'nul\0']) {
    assert.throws(
      () => azCli.windowsCommandLine(['functionapp', '--name', arg]),
      (error: AzCli.AzError) => error.final && /refusing to pass an argument/.test(error.message),
      JSON.stringify(arg),
    );
  }
});

test('checkAzAccount: once, up front; another tenant or an unseen subscription is final', () => {
  const sub = '00000000-0000-0000-0000-000000000000';
  const seen: string[][] = [];
  const ok = azCli.checkAzAccount(
    (args) => {
      seen.push(args);
      return JSON.stringify({ id: sub, tenantId: TENANT.toUpperCase() });
    },
    { AZURE_SUBSCRIPTION_ID: sub, AZURE_TENANT_ID: TENANT },
  );
  assert.deepEqual(ok, { subscriptionId: sub, tenantId: TENANT.toUpperCase() });
  assert.deepEqual(seen, [['account', 'show', '--output', 'json', '--subscription', sub]]);
  assert.throws(
    () => azCli.checkAzAccount(() => JSON.stringify({ id: sub, tenantId: sub }), { AZURE_TENANT_ID: TENANT }),
    (error: AzCli.AzError) => error.final && error.fix.includes(`az login --tenant ${TENANT}`),
  );
  assert.throws(
    () =>
      azCli.checkAzAccount(
        () => {
          throw new azCli.AzError(`az account show failed: Subscription '${sub}' not found.`);
        },
        { AZURE_SUBSCRIPTION_ID: sub },
      ),
    (error: AzCli.AzError) => error.final && /AZURE_SUBSCRIPTION_ID/.test(error.fix),
  );
  assert.deepEqual(azCli.functionAppScope({ AZURE_RESOURCE_GROUP: 'rg-a', AZURE_FUNCTION_APP_NAME: 'func-a' }), [
    '--resource-group',
    'rg-a',
    '--name',
    'func-a',
  ]);
  for (const [name, value] of [
    ['AZURE_RESOURCE_GROUP', 'rg"&calc'],
    ['AZURE_FUNCTION_APP_NAME', 'app & del'],
    ['AZURE_SUBSCRIPTION_ID', '%COMSPEC%'],
    ['AZURE_TENANT_ID', 'not-a-tenant'],
  ] as const) {
    assert.throws(
      () =>
        azCli.functionAppScope({
          AZURE_RESOURCE_GROUP: 'rg-a',
          AZURE_FUNCTION_APP_NAME: 'func-a',
          AZURE_SUBSCRIPTION_ID: sub,
          AZURE_TENANT_ID: TENANT,
          [name]: value,
        }),
      new RegExp(`${name} is not a valid name`),
    );
  }
});

// ---------------------------------------------------------------------------------------------
// The hook as azd runs it, with a stand-in `az` on PATH
// ---------------------------------------------------------------------------------------------

function runHook(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [HOOK], { env: { ...process.env, ...env }, cwd: ROOT });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', (code) => done({ code, out }));
  });
}

describe(
  'scripts/postdeploy.mjs (the azd hook)',
  { skip: process.platform === 'win32' && 'the stand-in az is a sh script' },
  () => {
    let bin: string;
    let azLog: string;
    const stubs: Stub[] = [];
    before(() => {
      bin = mkdtempSync(join(tmpdir(), 'kv-fake-az-'));
      azLog = join(bin, 'az.log');
      writeFileSync(
        join(bin, 'az'),
        [
          '#!/bin/sh',
          `echo "$*" >> "${azLog}"`,
          'case "$*" in',
          '  "account show"*)',
          '    if [ -n "$FAKE_AZ_LOGGED_OUT" ]; then echo "ERROR: Please run \'az login\' to setup account." >&2; exit 1; fi',
          `    echo '{"id":"00000000-0000-0000-0000-000000000000","tenantId":"${TENANT}"}' ;;`,
          `  *"function keys list"*) echo "${KEY}" ;;`,
          '  *) echo "unexpected az call" >&2; exit 2 ;;',
          'esac',
          '',
        ].join('\n'),
      );
      chmodSync(join(bin, 'az'), 0o755);
    });
    after(async () => {
      await Promise.all(stubs.map((s) => s.close()));
      rmSync(bin, { recursive: true, force: true });
    });

    const envFor = (s: Stub) => ({
      PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
      PING_URL: `${s.url}/api/ping`,
      AZURE_FUNCTION_APP_NAME: 'func-api-test',
      AZURE_RESOURCE_GROUP: 'rg-test',
      AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      AZURE_TENANT_ID: TENANT,
      FAKE_AZ_LOGGED_OUT: '',
      // Every case here ends on the first attempt; the limit only matters if one did not.
      POSTDEPLOY_CHECK_TIMEOUT_SECONDS: '60',
      POSTDEPLOY_CHECK_INTERVAL_SECONDS: '0.05',
      SKIP_POSTDEPLOY_CHECK: '',
    });

    test('passes against a healthy app, reading the configCheck key through az', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
      stubs.push(s);
      const { code, out } = await runHook(envFor(s));
      assert.equal(code, 0, out);
      assert.match(out, /postdeploy check: passed/);
      assert.ok(!out.includes(KEY), 'the key is not printed');
      const call = readFileSync(azLog, 'utf8').trim().split('\n').pop()!;
      assert.match(
        call,
        /functionapp function keys list --resource-group rg-test --name func-api-test --subscription 0{8}-/,
      );
      assert.match(call, /--function-name configCheck --query default --output tsv/);
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

    test('az not signed in fails at once with the fix, before any request or wait', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
      stubs.push(s);
      writeFileSync(azLog, '');
      const { code, out } = await runHook({
        ...envFor(s),
        FAKE_AZ_LOGGED_OUT: '1',
        POSTDEPLOY_CHECK_TIMEOUT_SECONDS: '300',
      });
      assert.equal(code, 1, out);
      assert.match(out, /postdeploy check FAILED: az account show failed: ERROR: Please run 'az login'/);
      assert.match(out, /Fix: sign the Azure CLI in: `az login`/);
      assert.doesNotMatch(out, /attempt \d/, 'no waiting');
      assert.equal(s.requests.length, 0, 'nothing called');
      assert.deepEqual(readFileSync(azLog, 'utf8').trim().split('\n'), [
        'account show --output json --subscription 00000000-0000-0000-0000-000000000000',
      ]);
    });

    test('signed in to another tenant fails at once, naming the tenant to sign in to', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
      stubs.push(s);
      const { code, out } = await runHook({ ...envFor(s), AZURE_TENANT_ID: '22222222-2222-2222-2222-222222222222' });
      assert.equal(code, 1, out);
      assert.match(out, /az login --tenant 22222222-2222-2222-2222-222222222222/);
      assert.equal(s.requests.length, 0);
    });

    test('an azd environment value with a shell operator is refused before az runs', async () => {
      const s = await stub({ ping: [{ status: 200 }], check: [{ status: 200, body: healthy }] });
      stubs.push(s);
      writeFileSync(azLog, '');
      const { code, out } = await runHook({ ...envFor(s), AZURE_RESOURCE_GROUP: 'rg-test&calc' });
      assert.equal(code, 1, out);
      assert.match(out, /AZURE_RESOURCE_GROUP is not a valid name: "rg-test&calc"/);
      assert.equal(readFileSync(azLog, 'utf8'), '', 'az never ran');
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
