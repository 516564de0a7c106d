/**
 * Resilience against a real Key Vault API: the emulator the test harness started, behind the tests' fault-injecting
 * HTTPS proxy, and its managed-identity endpoint behind a plain HTTP one. The app runs the real
 * ManagedIdentityCredential and SecretClient.
 *
 * Key Vault GETs are counted only when they carry a bearer token: the SDK's first request to a vault is an
 * unauthenticated challenge (answered 401 with WWW-Authenticate) that is part of the protocol, not a read.
 *
 * The cache runs on an injected clock (TTL, SECRET_CACHE_MIN_REFRESH_SECONDS, remembered failures), so no test
 * sleeps and none depends on how fast the machine or the emulator answers; only the call timeout is real, and it is
 * generous wherever it is not what the test is about.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import * as getSecretModule from '../src/functions/getSecret.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { configureKeyVault, type KeyVaultService } from 'functions-keyvault/internal/keyVault/index.js';
import { FaultProxy } from './support/faultProxy.js';
import {
  emulator,
  identityEndpointVia,
  proxyTls,
  seedClient,
  skipUnlessFaultProxy,
  uniqueName,
  useEmulatorIdentity,
  vaultSettings,
} from './support/emulator.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { captureConsole } from './support/captureConsole.js';
import { ManualClock } from 'functions-keyvault/testing';

describe('faults against the Key Vault emulator', () => {
  let vaultProxy: FaultProxy;
  let tokenProxy: FaultProxy;
  const hot = uniqueName('hot');
  const cached = uniqueName('cached');
  const revoked = uniqueName('revoked');
  const VALUE = `value-${Math.random().toString(36).slice(2)}`;

  before(async () => {
    if (!emulator || !proxyTls) return;
    vaultProxy = await FaultProxy.start(emulator.vaultUrl, proxyTls);
    tokenProxy = await FaultProxy.start(emulator.tokenAuthority);
    useEmulatorIdentity(identityEndpointVia(tokenProxy.url));
    for (const n of [hot, cached, revoked]) await seedClient().setSecret(n, VALUE);
  });

  after(async () => {
    await vaultProxy?.close();
    await tokenProxy?.close();
  });

  beforeEach(() => {
    if (!emulator || !proxyTls) return;
    vaultProxy.reset();
    tokenProxy.reset();
  });

  // The service's warnings here are expected (the faults are injected): kept for assertions, not printed.
  const serviceLog: string[] = [];

  function configure(extra: Record<string, string> = {}, clock = new ManualClock()): KeyVaultService {
    return configureKeyVault({
      config: parseConfig({
        ...process.env,
        ...vaultSettings(`${vaultProxy.url}/`),
        SECRETS_ALLOWED: 'hot-*,cached-*,revoked-*,unauth-*,missing-*,throttled-*,no-identity-*',
        KEY_VAULT_TIMEOUT_MS: '30000',
        ...extra,
      }),
      clock,
      log: { warn: (m) => void serviceLog.push(m), info: (m) => void serviceLog.push(m) },
    });
  }

  function read(name: string, headers: Record<string, string> = {}) {
    const { context } = capturingContext('getSecret');
    return getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}`, { name }, headers), context);
  }

  // Authorised GETs of one secret. Without a version the SDK asks for `/secrets/<name>/` (trailing slash).
  const reads = (name: string) =>
    vaultProxy.requests.filter(
      (r) => r.method === 'GET' && r.authorized && new RegExp(`/secrets/${name}/?$`).test(r.path),
    ).length;

  test(
    '1,000 concurrent cold reads of one name → exactly one Key Vault GET',
    { skip: skipUnlessFaultProxy },
    async () => {
      configure();
      vaultProxy.fault = { kind: 'delay', ms: 200 };
      const responses = await Promise.all(Array.from({ length: 1000 }, () => read(hot)));
      assert.ok(responses.every((r) => r.status === 200 && body(r).value === VALUE));
      assert.equal(reads(hot), 1);
    },
  );

  test(
    'outage: cached values are served stale, uncached names get 503 + Retry-After within the timeout, then recovery',
    { skip: skipUnlessFaultProxy },
    async () => {
      const clock = new ManualClock();
      // The hang below ends with this timeout; a shorter one would only make the warm-up read a race on a slow machine.
      const service = configure({ SECRET_CACHE_TTL_SECONDS: '1', KEY_VAULT_TIMEOUT_MS: '4000' }, clock);
      assert.equal((await read(cached)).status, 200);
      clock.advance(1_100); // past the TTL

      vaultProxy.fault = { kind: 'hang' };
      serviceLog.length = 0;
      const { result: stale, output } = await captureConsole(() => read(cached));
      assert.equal(stale.status, 200);
      assert.equal(header(stale, 'x-cache'), 'stale');
      assert.equal(body(stale).value, VALUE);
      const logged = `${serviceLog.join('\n')}\n${output}`;
      assert.match(logged, /serving the last good value/);
      assert.equal(logged.includes(VALUE), false);

      vaultProxy.fault = { kind: 'drop' };
      const uncached = await read(hot);
      assert.equal(uncached.status, 503);
      assert.ok(header(uncached, 'retry-after'));
      assert.match(String(body(uncached).kind), /^(unreachable|timeout)$/);
      assert.equal(service.stats().staleServes, 1);

      vaultProxy.fault = { kind: 'pass' };
      clock.advance(5_000); // past SECRET_CACHE_MIN_REFRESH_SECONDS since the last answer: no-cache asks Key Vault
      const recovered = await read(cached, { 'cache-control': 'no-cache' });
      assert.equal(recovered.status, 200);
      assert.equal(header(recovered, 'x-cache'), 'miss');
    },
  );

  test('500s from Key Vault also serve stale', { skip: skipUnlessFaultProxy }, async () => {
    const clock = new ManualClock();
    configure({ SECRET_CACHE_TTL_SECONDS: '1' }, clock);
    await read(cached);
    clock.advance(1_100); // past the TTL
    vaultProxy.fault = { kind: 'status', status: 500 };
    const r = await read(cached);
    assert.equal(r.status, 200);
    assert.equal(header(r, 'x-cache'), 'stale');
  });

  test(
    '403 evicts: 502 naming the identity, and nothing stale afterwards',
    { skip: skipUnlessFaultProxy },
    async () => {
      const clock = new ManualClock();
      configure({}, clock);
      assert.equal((await read(revoked)).status, 200);
      vaultProxy.fault = { kind: 'status', status: 403 };
      clock.advance(5_000); // past SECRET_CACHE_MIN_REFRESH_SECONDS: no-cache asks Key Vault
      const denied = await read(revoked, { 'cache-control': 'no-cache' });
      assert.equal(denied.status, 502);
      assert.match(String(body(denied).detail), /system-assigned managed identity/);
      assert.match(String(body(denied).detail), /Key Vault Secrets User/);
      // Past the remembered refusal (SECRET_CACHE_FAILURE_TTL_SECONDS) Key Vault is asked again and fails: the old
      // value would be the last-known-good one, had the 403 not evicted it.
      clock.advance(6_000);
      vaultProxy.fault = { kind: 'status', status: 500 };
      const after403 = await read(revoked);
      assert.equal(after403.status, 503, 'the revoked value was evicted, not served stale');
      assert.equal(JSON.stringify(after403).includes(VALUE), false);
    },
  );

  test('401 from Key Vault is also an identity problem: 502', { skip: skipUnlessFaultProxy }, async () => {
    configure();
    vaultProxy.fault = { kind: 'status', status: 401 };
    const r = await read(uniqueName('unauth'));
    assert.equal(r.status, 502);
  });

  test('404 is negative-cached: a missing name cannot hammer Key Vault', { skip: skipUnlessFaultProxy }, async () => {
    configure();
    const missing = uniqueName('missing');
    for (let i = 0; i < 20; i++) assert.equal((await read(missing)).status, 404);
    assert.equal(reads(missing), 1);
  });

  test('429 throttling: 503 with Retry-After', { skip: skipUnlessFaultProxy }, async () => {
    configure({ KEY_VAULT_TIMEOUT_MS: '8000' });
    vaultProxy.fault = { kind: 'status', status: 429, retryAfter: 1 };
    const r = await read(uniqueName('throttled'));
    assert.equal(r.status, 503);
    assert.equal(header(r, 'retry-after'), '1');
  });

  test(
    'identity endpoint down: 503 + Retry-After for uncached names, quickly',
    { skip: skipUnlessFaultProxy },
    async () => {
      // msal-node keeps managed-identity tokens in a process-wide cache keyed by client id: a fresh client id
      // makes this credential really ask the (now failing) token endpoint, which never sees the request.
      configure({ KEY_VAULT_TIMEOUT_MS: '3000', AZURE_CLIENT_ID: randomUUID() });
      tokenProxy.fault = { kind: 'drop' };
      const r = await read(uniqueName('no-identity'));
      assert.equal(r.status, 503);
      assert.ok(header(r, 'retry-after'));
      assert.ok(tokenProxy.requests.length >= 1, 'the token endpoint was asked');
    },
  );
});
