/**
 * The HTTP contract against a real Key Vault API: the emulator the test harness started (Lowkey Vault, or
 * azure-keyvault-emulator + entra-emulator), reached by the real ManagedIdentityCredential (App Service-style
 * IDENTITY_ENDPOINT/IDENTITY_HEADER → the emulator's identity endpoint) and the real SecretClient. The identity
 * endpoint sits behind a counting proxy to prove the managed-identity path is the one taken.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { configureKeyVault, declareSetting, resolveSetting } from 'functions-keyvault/internal/keyVault/index.js';
import { FaultProxy } from './support/faultProxy.js';
import {
  emulator,
  identityEndpointVia,
  seedClient,
  skipUnlessEmulator,
  uniqueName,
  useEmulatorIdentity,
  vaultSettings,
} from './support/emulator.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { captureConsole } from './support/captureConsole.js';
import { ManualClock } from 'functions-keyvault/testing';

// Read with resolveSetting() below, as a function would: declared first.
declareSetting('MY_REF', 'a Key Vault reference this test resolves');

describe('against the Key Vault emulator', () => {
  const name = uniqueName('db-password');
  const other = uniqueName('not-allowed');
  const VALUE_1 = `first-${Math.random().toString(36).slice(2)}-value`;
  const VALUE_2 = `second-${Math.random().toString(36).slice(2)}-value`;
  let firstVersion = '';
  let tokenProxy: FaultProxy;
  const logLines: string[] = [];

  before(async () => {
    if (!emulator) return;
    tokenProxy = await FaultProxy.start(emulator.tokenAuthority);
    useEmulatorIdentity(identityEndpointVia(tokenProxy.url));
    const seeded = await seedClient().setSecret(name, VALUE_1, { contentType: 'text/plain' });
    firstVersion = seeded.properties.version!;
    await seedClient().setSecret(other, 'never-returned');
  });

  after(async () => {
    await tokenProxy?.close();
  });

  /** The app against the emulator; the cache on an injected clock (TTLs pass when a test says so, never by sleeping). */
  function configure(extra: Record<string, string> = {}, clock = new ManualClock()) {
    return configureKeyVault({
      config: parseConfig({
        ...process.env,
        ...vaultSettings(),
        SECRETS_ALLOWED: `${name},missing-*`,
        KEY_VAULT_TIMEOUT_MS: '30000',
        ...extra,
      }),
      clock,
    });
  }

  async function read(secret: string, query = '', headers: Record<string, string> = {}) {
    const { context, lines } = capturingContext('getSecret');
    const { result, output } = await captureConsole(() =>
      getSecretModule.getSecret(
        get(`http://localhost/api/secrets/${secret}${query}`, { name: secret }, headers),
        context,
      ),
    );
    logLines.push(...lines, output);
    return result;
  }

  test(
    'reads the latest version through the managed identity token endpoint',
    { skip: skipUnlessEmulator },
    async () => {
      configure();
      const r = await read(name);
      assert.equal(r.status, 200, JSON.stringify(r.jsonBody));
      const b = body(r);
      assert.equal(b.name, name);
      assert.equal(b.value, VALUE_1);
      assert.equal(b.version, firstVersion);
      assert.equal(b.contentType, 'text/plain');
      assert.equal(b.enabled, true);
      assert.match(String(b.createdOn), /^\d{4}-\d{2}-\d{2}T/);
      assert.equal(header(r, 'cache-control'), 'no-store');
      assert.equal(header(r, 'x-cache'), 'miss');
      assert.ok(
        tokenProxy.count(new URL(emulator!.identityEndpoint).pathname) >= 1,
        'ManagedIdentityCredential asked the token endpoint',
      );
    },
  );

  test(
    'rotation: the new version is served once the TTL has passed, a pinned version stays',
    { skip: skipUnlessEmulator },
    async () => {
      const clock = new ManualClock();
      configure({ SECRET_CACHE_TTL_SECONDS: '1' }, clock);
      assert.equal(body(await read(name)).value, VALUE_1);
      const rotated = await seedClient().setSecret(name, VALUE_2);
      const cached = await read(name);
      assert.equal(body(cached).value, VALUE_1);
      assert.equal(header(cached, 'x-cache'), 'hit');
      clock.advance(1_100); // past the TTL
      const fresh = await read(name);
      assert.equal(body(fresh).value, VALUE_2);
      assert.equal(body(fresh).version, rotated.properties.version);
      const pinned = await read(name, `?version=${firstVersion}`);
      assert.equal(pinned.status, 200);
      assert.equal(body(pinned).value, VALUE_1);
    },
  );

  test(
    'Cache-Control: no-cache sees a rotation once SECRET_CACHE_MIN_REFRESH_SECONDS has passed (at once with 0)',
    { skip: skipUnlessEmulator },
    async () => {
      const clock = new ManualClock();
      configure({}, clock); // the default minimum: 5 s between forced refreshes of one name
      const before = body(await read(name)).version;
      const latest = await seedClient().setSecret(name, `${VALUE_2}-again`);
      const limited = await read(name, '', { 'cache-control': 'no-cache' });
      assert.equal(header(limited, 'x-cache'), 'refresh-limited');
      assert.equal(body(limited).version, before);
      clock.advance(5_000);
      const forced = await read(name, '', { 'cache-control': 'no-cache' });
      assert.equal(header(forced, 'x-cache'), 'miss');
      assert.equal(body(forced).version, latest.properties.version);

      configure({ SECRET_CACHE_MIN_REFRESH_SECONDS: '0' });
      await read(name);
      const newest = await seedClient().setSecret(name, VALUE_2);
      const atOnce = await read(name, '', { 'cache-control': 'no-cache' });
      assert.equal(body(atOnce).version, newest.properties.version);
    },
  );

  test('404 for a missing secret and a missing version', { skip: skipUnlessEmulator }, async () => {
    configure();
    const missing = await read('missing-secret-xyz');
    assert.equal(missing.status, 404);
    assert.equal(header(missing, 'content-type'), 'application/problem+json');
    const missingVersion = await read(name, `?version=${'0'.repeat(32)}`);
    assert.equal(missingVersion.status, 404);
  });

  test(
    'deny by default: a secret that exists but is not allowed is 403 and never read',
    { skip: skipUnlessEmulator },
    async () => {
      configure();
      const r = await read(other);
      assert.equal(r.status, 403);
      configure({ SECRETS_ALLOWED: '' });
      assert.equal((await read(name)).status, 403);
    },
  );

  test(
    'config check: loaded, missing, unresolved and invalid settings; vault reachable and readable',
    { skip: skipUnlessEmulator },
    async () => {
      configure({
        CONFIG_CHECK_SETTINGS: 'PLAIN,MISSING,REF_OK,REF_MISSING,REF_BAD',
        PLAIN: 'plain-value',
        REF_OK: `@Microsoft.KeyVault(SecretUri=${emulator!.vaultUrl}secrets/${name}/)`,
        REF_MISSING: `@Microsoft.KeyVault(SecretUri=${emulator!.vaultUrl}secrets/nothing-here)`,
        REF_BAD: '@Microsoft.KeyVault(SecretName=x)',
      });
      const { context, lines } = capturingContext('configCheck');
      const r = await configCheckModule.configCheck(get('http://localhost/api/config/check'), context);
      logLines.push(...lines);
      assert.equal(r.status, 503);
      const b = body(r) as {
        health: string;
        keyVault: { configured: boolean; reachable: boolean; canReadSecrets: boolean; credential: string };
        settings: Array<{ name: string; state: string; detail: string | null }>;
      };
      assert.equal(b.health, 'degraded');
      assert.equal(b.keyVault.configured, true);
      assert.equal(b.keyVault.reachable, true);
      assert.equal(b.keyVault.canReadSecrets, true);
      assert.match(b.keyVault.credential, /ManagedIdentityCredential/);
      const byName = Object.fromEntries(b.settings.map((s) => [s.name, s]));
      assert.equal(byName.PLAIN?.state, 'loaded');
      assert.equal(byName.MISSING?.state, 'missing');
      assert.equal(byName.REF_OK?.state, 'resolved-by-app');
      assert.match(byName.REF_OK?.detail ?? '', /the app reads secret "/);
      assert.equal(byName.REF_MISSING?.state, 'unresolved-reference');
      assert.match(byName.REF_MISSING?.detail ?? '', /SecretNotFound/);
      assert.equal(byName.REF_BAD?.state, 'invalid-reference');
      const text = JSON.stringify(b);
      assert.equal(text.includes(VALUE_1) || text.includes(VALUE_2) || text.includes('plain-value'), false);
    },
  );

  test(
    'resolveSetting resolves an unresolved reference itself, through the cache',
    { skip: skipUnlessEmulator },
    async () => {
      const service = configure({ MY_REF: `@Microsoft.KeyVault(SecretUri=${emulator!.vaultUrl}secrets/${name})` });
      const latest = (await seedClient().getSecret(name)).value;
      assert.equal(await resolveSetting('MY_REF'), latest);
      assert.equal(service.stats().keyVaultCalls, 1);
      assert.equal(await resolveSetting('MY_REF'), latest);
      assert.equal(service.stats().keyVaultCalls, 1);
    },
  );

  test('no secret value reached any captured log line', { skip: skipUnlessEmulator }, () => {
    assert.ok(logLines.length > 0);
    const all = logLines.join('\n');
    assert.equal(all.includes(VALUE_1), false);
    assert.equal(all.includes(VALUE_2), false);
  });
});
