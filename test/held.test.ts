/**
 * What held in the red-team pass, kept holding: through the real handlers, the real ManagedIdentityCredential and
 * SecretClient, against loopback fixtures (an HTTPS vault fixture speaking the bearer challenge, a token endpoint),
 * with in-memory OpenTelemetry providers so spans and metrics are searched too.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { configureKeyVault } from 'functions-keyvault/internal/keyVault/index.js';
import { InMemoryVault } from 'functions-keyvault/testing';
import { FaultProxy, fixtureTls } from './support/faultProxy.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { captureConsole } from './support/captureConsole.js';
import { runNode } from './support/runNode.js';
import { TokenEndpoint } from './support/tokenEndpoint.js';
import { CollectingReader } from './support/collectingReader.js';

const skip = fixtureTls() ? false : 'no TLS material for the HTTPS fixture (openssl missing)';

const reader = new CollectingReader();
const spans = new InMemorySpanExporter();
let vault: FaultProxy;
let tokens: TokenEndpoint;
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
const unique = () => `${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
const IDENTITY_HEADER = `canaryheader${unique()}`;

before(async () => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  if (skip) return;
  vault = await FaultProxy.start('https://127.0.0.1:9', fixtureTls());
  tokens = await TokenEndpoint.start();
  // ManagedIdentityCredential reads the endpoint and header from the process environment itself.
  process.env.IDENTITY_ENDPOINT = tokens.url;
  process.env.IDENTITY_HEADER = IDENTITY_HEADER;
});

after(async () => {
  process.env.IDENTITY_ENDPOINT = saved.endpoint;
  process.env.IDENTITY_HEADER = saved.header;
  metrics.disable();
  trace.disable();
  await vault?.close();
  await tokens?.close();
});

function configure(extra: Record<string, string> = {}) {
  vault.reset();
  tokens.hang = false;
  tokens.fail = undefined;
  tokens.token = undefined;
  configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: `${vault.url}/`,
      SECRETS_ALLOWED: 'db-*',
      KEY_VAULT_API_VERSION: '7.5',
      KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
      IDENTITY_ENDPOINT: tokens.url,
      IDENTITY_HEADER,
      // msal-node keeps managed-identity tokens process-wide per client id: a fresh one asks the endpoint again.
      AZURE_CLIENT_ID: randomUUID(),
      KEY_VAULT_TIMEOUT_MS: '10000',
      ...extra,
    }),
    // The service's own log goes to the console, which the test captures.
  });
}

async function read(name: string, lines: string[]) {
  const { context, lines: own } = capturingContext('getSecret');
  const r = await getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}`, { name }), context);
  lines.push(...own);
  return r;
}

async function check(lines: string[]) {
  const { context, lines: own } = capturingContext('configCheck');
  const r = await configCheckModule.configCheck(get('http://localhost/api/config/check'), context);
  lines.push(...own);
  return r;
}

test(
  'canaries (value, 500 echo, malformed 200, reference query, identity error, token, identity header) appear nowhere',
  { skip },
  async () => {
    const canaries = {
      value: `canaryvalue${unique()}`,
      echo: `canaryecho${unique()}`,
      malformed: `canarymalformed${unique()}`,
      query: `canaryquery${unique()}`,
      identityError: `canaryidentity${unique()}`,
      token: `eyJcanarytoken${unique()}`,
    };
    const seen: string[] = [];
    const secretId = `${'1'.repeat(32)}`;
    const { output } = await captureConsole(async () => {
      // A value, read with a canary token.
      configure({
        CONFIG_CHECK_SETTINGS: 'REF',
        REF: `@Microsoft.KeyVault(SecretUri=${vault.url}/secrets/db-ref?sig=${canaries.query})`,
      });
      tokens.token = canaries.token;
      vault.fault = {
        kind: 'challenge',
        status: 200,
        body: JSON.stringify({ value: canaries.value, id: `${vault.url}/secrets/db-value/${secretId}` }),
      };
      const ok = await read('db-value', seen);
      assert.equal(ok.status, 200);
      seen.push(JSON.stringify({ ...(ok.jsonBody as object), value: undefined }), JSON.stringify(ok.headers));
      seen.push(JSON.stringify((await check(seen)).jsonBody));
      assert.ok(
        vault.tokens.some((t) => t.includes(canaries.token)),
        'the token canary did reach the vault',
      );
      assert.equal(tokens.lastHeader, IDENTITY_HEADER, 'the identity header canary did reach the endpoint');

      // A 500 echoing data, and a 200 whose JSON is broken.
      for (const fault of [
        { status: 500, body: JSON.stringify({ error: { code: 'InternalError', message: canaries.echo } }) },
        { status: 200, body: `{"value":"${canaries.malformed}","id":"${vault.url}/secrets/x/0` },
      ]) {
        configure();
        vault.fault = { kind: 'challenge', ...fault };
        const r = await read('db-broken', seen);
        assert.ok([502, 503].includes(r.status ?? 0), `HTTP ${fault.status} -> ${r.status}`);
        seen.push(JSON.stringify(r), JSON.stringify((await check(seen)).jsonBody));
      }

      // The identity endpoint failing with data in its error.
      configure();
      tokens.fail = {
        status: 500,
        body: JSON.stringify({ error: 'internal', error_description: canaries.identityError }),
      };
      vault.fault = { kind: 'challenge', status: 404, body: '{}' };
      const noToken = await read('db-value', seen);
      assert.equal(noToken.status, 503);
      seen.push(JSON.stringify(noToken), JSON.stringify((await check(seen)).jsonBody));
    });
    seen.push(output);
    const { resourceMetrics } = await reader.collect();
    seen.push(JSON.stringify(resourceMetrics));
    seen.push(
      JSON.stringify(spans.getFinishedSpans().map((s) => ({ n: s.name, a: s.attributes, st: s.status, e: s.events }))),
    );
    assert.ok(spans.getFinishedSpans().length >= 4, 'spans were recorded');
    const all = seen.join('\n');
    for (const [what, canary] of [...Object.entries(canaries), ['identityHeader', IDENTITY_HEADER]]) {
      assert.equal(all.includes(canary!), false, `the ${what} canary leaked`);
    }
  },
);

test(
  '1,000 concurrent cold reads through the real SDK: 404 → 1 GET; 500 → 3 GETs (the SDK retries twice)',
  { skip },
  async () => {
    for (const [status, expected] of [
      [404, 1],
      [500, 3],
    ] as const) {
      configure();
      vault.fault = {
        kind: 'challenge',
        status,
        body: JSON.stringify({ error: { code: status === 404 ? 'SecretNotFound' : 'InternalError', message: 'x' } }),
      };
      const lines: string[] = [];
      const responses = await Promise.all(Array.from({ length: 1000 }, () => read('db-cold', lines)));
      assert.ok(
        responses.every((r) => r.status === (status === 404 ? 404 : 503)),
        `HTTP ${status}`,
      );
      const gets = vault.requests.filter((r) => r.authorized && r.path.startsWith('/secrets/db-cold')).length;
      assert.equal(gets, expected, `HTTP ${status}: ${gets} GETs with a token`);
    }
  },
);

test('a vault dripping its body one byte at a time is cut at KEY_VAULT_TIMEOUT_MS', { skip }, async () => {
  configure({ KEY_VAULT_TIMEOUT_MS: '1000' });
  vault.fault = { kind: 'drip', everyMs: 50 };
  const r = await read('db-drip', []);
  assert.equal(r.status, 503);
  assert.equal(body(r).kind, 'timeout');
  assert.equal(body(r).reason, 'FetchTimedOut');
  assert.ok(header(r, 'retry-after'));
});

/** Names a caller may try: traversal, shell, encodings, control characters, non-ASCII, too long, empty. */
const HOSTILE_NAMES = [
  '../etc/passwd',
  '..',
  'a/b',
  'a%2Fb',
  'a b',
  '$(id)',
  '`id`',
  'a;rm -rf',
  'p\u00e4ssword',
  'a\u0000b',
  'a\nb',
  '<script>',
  'x'.repeat(128),
  '',
];
const BAD_VERSIONS = ['latest', '123', 'g'.repeat(32), '0'.repeat(33), `..${'0'.repeat(30)}`];

test('14 hostile names and 5 bad versions: 400 (or 403 when well formed but not allowed), never a vault call', async () => {
  const fake = new InMemoryVault();
  fake.set('db-password', 'v');
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: 'https://held.vault.azure.net/', SECRETS_ALLOWED: 'db-*' }),
    fetchSecret: fake.fetch,
  });
  const ask = async (name: string, query = '') => {
    const { context } = capturingContext('getSecret');
    return getSecretModule.getSecret(get(`http://localhost/api/secrets/x${query}`, { name }), context);
  };
  assert.equal(HOSTILE_NAMES.length, 14);
  for (const name of HOSTILE_NAMES) assert.equal((await ask(name)).status, 400, JSON.stringify(name));
  for (const version of BAD_VERSIONS) {
    assert.equal((await ask('db-password', `?version=${encodeURIComponent(version)}`)).status, 400, version);
  }
  assert.equal((await ask('other-secret')).status, 403);
  assert.equal(fake.calls, 0);
});

const CLI = fileURLToPath(new URL('../scripts/secrets.js', import.meta.url));

test('the CLI refuses shell and traversal names before any call, and hides values unless asked', { skip }, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'held-cli-'));
  try {
    configure();
    const canary = `canarycli${unique()}`;
    vault.fault = {
      kind: 'challenge',
      status: 200,
      body: JSON.stringify({ value: canary, id: `${vault.url}/secrets/db-cli/${'2'.repeat(32)}` }),
    };
    const env = {
      ...(process.env as Record<string, string>),
      KEY_VAULT_URL: `${vault.url}/`,
      KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
      IDENTITY_ENDPOINT: tokens.url,
      IDENTITY_HEADER,
    };
    for (const args of [
      ['get', '../etc/passwd'],
      ['get', '$(id)'],
      ['get', 'a;rm'],
      ['delete', '..'],
      ['set', '`id`', '--stdin'],
    ]) {
      const r = await runNode([CLI, ...args], { cwd, env });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /is not a valid secret name/);
    }
    assert.equal(vault.requests.length, 0, 'no call for a refused name');

    const hidden = await runNode([CLI, 'get', 'db-cli'], { cwd, env });
    assert.equal(hidden.status, 0, hidden.stderr);
    assert.match(hidden.stdout, /^db-cli version 2{32} /m);
    assert.match(hidden.stdout, /\(value hidden; add --show to print it\)/);
    assert.equal(`${hidden.stdout}${hidden.stderr}`.includes(canary), false, 'the value is hidden');
    const shown = await runNode([CLI, 'get', 'db-cli', '--show'], { cwd, env });
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^${canary}$`, 'm'), 'printed when asked');
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
