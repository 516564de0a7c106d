/**
 * What only a token-validating emulator can prove: roles, token expiry and audience, against azure-keyvault-emulator
 * (which checks every token's signature, issuer, audience and expiry, and enforces built-in roles by name) and
 * entra-emulator (whose managed-identity endpoint issues the tokens). Both are driven through their documented
 * control surfaces: the vault's /_emulator (clock, rbac, permissions) and entra's /admin/api (clock, token forge).
 * Every change to either is undone after each test, whatever happened.
 *
 * Lowkey Vault accepts any bearer token: there one test proves exactly that (so the day it validates tokens, this
 * file is where to look), and the Go-pair tests are not registered. Without an emulator they are skipped.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, mock, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as configCheckModule from '../src/functions/configCheck.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { configureKeyVault } from 'functions-keyvault/internal/keyVault/index.js';
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
import { runNode } from './support/runNode.js';
import { body, capturingContext, get, header } from 'functions-keyvault/testing';
import { ManualClock } from 'functions-keyvault/testing';

const CLI = fileURLToPath(new URL('../scripts/secrets.js', import.meta.url));
const API_VERSION = emulator?.apiVersion ?? '7.5';
/** A principal that is not the app's: assigning a role to it alone leaves the app's identity with none. */
const SOMEONE_ELSE = '00000000-0000-0000-0000-00000000beef';

async function send(url: string, method: string, payload?: unknown): Promise<unknown> {
  const r = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${url} answered ${r.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** POST to the vault's /_emulator control surface (docs/10-testing.md, 09-authentication.md of the vault). */
const vaultControl = (path: string, payload: unknown) => send(`${emulator!.vaultControlUrl}/${path}`, 'POST', payload);
/** entra-emulator's admin API (docs/11-admin-api.md). */
const entraAdmin = (path: string, method: string, payload?: unknown) =>
  send(`${emulator!.identityAdminUrl}/${path}`, method, payload);

/** GET a secret straight from the vault with a given bearer token: the vault's own verdict on that token. */
async function vaultVerdict(name: string, token: string): Promise<number> {
  const r = await fetch(`${emulator!.vaultUrl}secrets/${name}?api-version=${API_VERSION}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await r.arrayBuffer();
  return r.status;
}

if (emulator?.kind === 'lowkey') {
  test('Lowkey accepts any bearer token: the role, expiry and audience tests run on the Go pair only', async () => {
    const name = uniqueName('any-token');
    await seedClient().setSecret(name, 'lowkey-value');
    assert.equal(await vaultVerdict(name, 'not-a-token-at-all'), 200);
  });
} else {
  describe('only on the token-validating Go pair: roles, token expiry, audience', () => {
    const name = uniqueName('guarded');
    const VALUE = `guarded-${Math.random().toString(36).slice(2)}-value`;
    let tokenProxy: FaultProxy;
    let scratch: string;

    before(async () => {
      if (!emulator) return;
      tokenProxy = await FaultProxy.start(emulator.tokenAuthority);
      useEmulatorIdentity(identityEndpointVia(tokenProxy.url));
      await seedClient().setSecret(name, VALUE);
      scratch = mkdtempSync(join(tmpdir(), 'tokens-emulator-'));
    });

    afterEach(async () => {
      if (!emulator) return;
      mock.timers.reset();
      tokenProxy.reset();
      await vaultControl('permissions', {}); // {} restores full access
      await vaultControl('clock', { offset: 0, freeze: false });
      await entraAdmin('clock', 'DELETE');
    });

    after(async () => {
      await tokenProxy?.close();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    function configure(extra: Record<string, string> = {}, clock = new ManualClock()) {
      return configureKeyVault({
        config: parseConfig({
          ...process.env,
          ...vaultSettings(),
          SECRETS_ALLOWED: 'guarded-*',
          KEY_VAULT_TIMEOUT_MS: '30000',
          ...extra,
        }),
        clock,
        log: { warn: () => undefined, info: () => undefined },
      });
    }

    function read(secret: string) {
      const { context } = capturingContext('getSecret');
      return getSecretModule.getSecret(get(`http://localhost/api/secrets/${secret}`, { name: secret }), context);
    }

    async function configCheck() {
      const { context } = capturingContext('configCheck');
      const r = await configCheckModule.configCheck(get('http://localhost/api/config/check'), context);
      return body(r) as { keyVault: { reachable: boolean | null; canReadSecrets: boolean; detail: string } };
    }

    /** The secrets CLI in a directory without local.settings.json, pointed at the emulator by environment. */
    function cli(args: string[]) {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
      return runNode([CLI, ...args], {
        cwd: scratch,
        env: { ...env, ...useEmulatorIdentity(emulator!.identityEndpoint), ...vaultSettings() },
      });
    }

    /** A token from the managed-identity endpoint, asked for directly (not through the app), and its client id. */
    async function managedIdentityToken(): Promise<{ token: string; clientId: string }> {
      const url = `${emulator!.identityEndpoint}?resource=${encodeURIComponent('https://vault.azure.net')}&api-version=2019-08-01`;
      const r = await fetch(url, { headers: { 'X-IDENTITY-HEADER': emulator!.identityHeader } });
      assert.equal(r.status, 200);
      const answer = (await r.json()) as { access_token: string; client_id: string };
      return { token: answer.access_token, clientId: answer.client_id };
    }

    test(
      'only "Key Vault Secrets User": the app reads, the secrets CLI `set` is refused with an authorization error (exit 1)',
      { skip: skipUnlessEmulator },
      async () => {
        await vaultControl('rbac', {
          assignments: [{ principalId: emulator!.principalId, role: 'Key Vault Secrets User' }],
        });
        configure();
        const r = await read(name);
        assert.equal(r.status, 200, JSON.stringify(r.jsonBody));
        assert.equal(body(r).value, VALUE);

        const set = await cli(['set', name, 'overwritten-by-the-cli']);
        assert.equal(set.status, 1, set.stderr);
        assert.match(set.stderr, /^access-denied \(AccessToKeyVaultDenied\): Key Vault refused the request \(403/m);
        assert.match(set.stderr, /Key Vault Secrets Officer/, 'says which role setting secrets needs');
        assert.doesNotMatch(set.stderr, /\n\s+at /, 'no stack trace');
        assert.equal((await seedClient().getSecret(name)).value, VALUE, 'the value was not changed');
      },
    );

    test(
      'no role assignment: the read is 502 naming the identity and the role, the config check says AccessToKeyVaultDenied, nothing stale is served',
      { skip: skipUnlessEmulator },
      async () => {
        const clock = new ManualClock();
        configure({}, clock);
        assert.equal((await read(name)).status, 200, 'read while the identity still had access');

        await vaultControl('rbac', { assignments: [{ principalId: SOMEONE_ELSE, role: 'Key Vault Secrets User' }] });
        clock.advance(301_000); // past the default TTL (300 s), well within the default max stale (24 h)
        const denied = await read(name);
        assert.equal(denied.status, 502);
        assert.equal(body(denied).kind, 'access-denied');
        assert.match(
          String(body(denied).detail),
          /answered 403 when the Function App's system-assigned managed identity read secret/,
        );
        assert.match(String(body(denied).detail), /"Key Vault Secrets User"/);
        assert.equal(JSON.stringify(denied).includes(VALUE), false, 'the cached value was not served');

        const report = await configCheck();
        assert.equal(report.keyVault.reachable, true);
        assert.equal(report.keyVault.canReadSecrets, false);
        assert.match(
          report.keyVault.detail,
          /^AccessToKeyVaultDenied: Key Vault answered 403 for the Function App's system-assigned/,
        );

        clock.advance(6_000); // past the remembered refusal: Key Vault is asked again, and refuses again
        const again = await read(name);
        assert.equal(again.status, 502);
        assert.equal(JSON.stringify(again).includes(VALUE), false);
      },
    );

    test(
      'a token past its expiry (two hours on every clock) is replaced by a new one and reads go on',
      { skip: skipUnlessEmulator },
      async () => {
        const { token: old, clientId } = await managedIdentityToken();
        assert.equal(await vaultVerdict(name, old), 200);
        // The same identity named by its client id: its tokens get a cache entry of their own (the token cache is
        // process-wide, per client id), so the token from "two hours later" kept there after this test is never
        // handed to another test.
        const clock = new ManualClock();
        configure({ AZURE_CLIENT_ID: clientId }, clock);
        assert.equal((await read(name)).status, 200);
        const asked = tokenProxy.count(new URL(emulator!.identityEndpoint).pathname);

        // Two hours pass for the vault, for the identity endpoint and for the app (its Date, which the SDK and the
        // token cache read; the cache's own clock is the injected one): every token issued before is expired.
        await vaultControl('clock', { advance: 7200 });
        await entraAdmin('clock', 'POST', { advanceSeconds: 7200 });
        mock.timers.enable({ apis: ['Date'], now: Date.now() + 7_200_000 });
        clock.advance(7_200_000);
        assert.equal(await vaultVerdict(name, old), 401, 'the vault now rejects the old token');

        const r = await read(name);
        assert.equal(r.status, 200, JSON.stringify(r.jsonBody));
        assert.equal(body(r).value, VALUE);
        assert.equal(header(r, 'x-cache'), 'miss', 'Key Vault was asked, with a token it accepted');
        assert.ok(
          tokenProxy.count(new URL(emulator!.identityEndpoint).pathname) > asked,
          'the app asked the identity endpoint for a new token',
        );
      },
    );

    test(
      'a token for another audience is rejected by the vault and reported as an authorization failure',
      { skip: skipUnlessEmulator },
      async () => {
        const forge = async (audience: string) =>
          ((await entraAdmin('tokens', 'POST', { audience, expiresInSeconds: 3600 })) as { token: string }).token;
        const wrong = await forge('https://management.azure.com');
        // Control: the same forge with the vault's audience is accepted, so what is rejected is the audience.
        assert.equal(await vaultVerdict(name, await forge('https://vault.azure.net')), 200);
        assert.equal(await vaultVerdict(name, wrong), 401);

        // The identity endpoint hands out the wrong-audience token. A user-assigned client id of its own keeps the
        // token cache (process-wide, per client id) from answering with an earlier, good token.
        tokenProxy.fault = {
          kind: 'respond',
          status: 200,
          body: JSON.stringify({
            access_token: wrong,
            expires_on: String(Math.floor(Date.now() / 1000) + 3600),
            resource: 'https://vault.azure.net',
            token_type: 'Bearer',
          }),
        };
        configure({ AZURE_CLIENT_ID: randomUUID() });
        const r = await read(name);
        assert.equal(r.status, 502, JSON.stringify(r.jsonBody));
        assert.equal(body(r).kind, 'access-denied');
        assert.match(
          String(body(r).detail),
          /answered 401 when the user-assigned managed identity .* rejected the token/,
        );
        assert.doesNotMatch(String(body(r).detail), /Grant that identity the role/, 'a role does not fix a 401');
        assert.equal(JSON.stringify(r).includes(wrong), false, 'the token is never shown');
        const report = await configCheck();
        assert.equal(report.keyVault.canReadSecrets, false);
        assert.match(report.keyVault.detail, /^AccessToKeyVaultDenied: Key Vault answered 401 .* rejected the token/);
      },
    );

    test(
      'the config check probe needs only "get": it says canReadSecrets with a Get-only permission',
      { skip: skipUnlessEmulator },
      async () => {
        await vaultControl('permissions', { [emulator!.principalId!]: ['secrets/get'] });
        const list = await cli(['list']);
        assert.equal(list.status, 1, 'listing is refused: the permission really is Get only');
        assert.match(list.stderr, /access-denied/);

        configure();
        const report = await configCheck();
        assert.equal(report.keyVault.reachable, true);
        assert.equal(report.keyVault.canReadSecrets, true, report.keyVault.detail);
        assert.equal((await read(name)).status, 200);
      },
    );
  });
}
