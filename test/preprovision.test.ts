/**
 * The `preprovision` hook (scripts/preprovision.mjs, logic in scripts/resource-providers.mjs): Microsoft.App is
 * registered before anything is created, or the hook stops with the command to run. The logic runs against a fake
 * `providers` client on a virtual clock; the hook itself runs in a child process against an HTTPS stub of ARM on
 * 127.0.0.1, signed in through a stand-in `azd` (AzureDeveloperCliCredential), with no `az` on PATH.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import type * as Providers from '../scripts/resource-providers.mjs';
import { armStubAvailable, fakeAzd, hookEnv, startArmStub } from './support/armStub.js';
import { ROOT } from './support/projectRoot.js';
import { runNode } from './support/runNode.js';

const providers = (await import(
  pathToFileURL(join(ROOT, 'scripts', 'resource-providers.mjs')).href
)) as typeof Providers;
const SUB = '00000000-0000-0000-0000-000000000000';
const TENANT = '11111111-1111-1111-1111-111111111111';

function fakeProviders(states: string[], registerError?: Error) {
  const calls: string[] = [];
  let n = 0;
  return {
    calls,
    client: {
      get: async (namespace: string) => {
        calls.push(`get ${namespace}`);
        return { registrationState: states[Math.min(n++, states.length - 1)] };
      },
      register: async (namespace: string) => {
        calls.push(`register ${namespace}`);
        if (registerError) throw registerError;
        return {};
      },
    },
  };
}

/** The preprovision hook in a child process, for the deployment's subscription. */
const runHook = (env: Record<string, string>) =>
  runNode([join(ROOT, 'scripts', 'preprovision.mjs')], { cwd: ROOT, env: { AZURE_SUBSCRIPTION_ID: SUB, ...env } });

function clock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

test('azure.yaml runs the provider check before provisioning, on every OS, and it can stop provisioning', () => {
  const yaml = parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
    hooks?: Record<string, Record<string, { run?: string; continueOnError?: boolean }>>;
  };
  for (const os of ['posix', 'windows']) {
    const hook = yaml.hooks?.preprovision?.[os];
    assert.equal(hook?.run, 'node scripts/preprovision.mjs', `${os}: preprovision runs the check`);
    assert.notEqual(hook?.continueOnError, true, `${os}: a missing provider stops provisioning`);
  }
  assert.deepEqual(providers.REQUIRED_PROVIDERS, ['Microsoft.App']);
});

test('Registered passes with one read; NotRegistered is registered once and waited for', async () => {
  const ready = fakeProviders(['Registered']);
  const ok = await providers.runProviderCheck({ providers: ready.client, subscriptionId: SUB, ...clock() });
  assert.equal(ok.ok, true);
  assert.deepEqual(ready.calls, ['get Microsoft.App']);

  const fresh = fakeProviders(['NotRegistered', 'Registering', 'Registering', 'Registered']);
  const lines: string[] = [];
  const registered = await providers.runProviderCheck({
    providers: fresh.client,
    subscriptionId: SUB,
    log: (l) => lines.push(l),
    ...clock(),
  });
  assert.equal(registered.ok, true, registered.summary);
  assert.deepEqual(registered.registered, ['Microsoft.App']);
  assert.equal(fresh.calls.filter((c) => c.startsWith('register')).length, 1, 'registered once');
  assert.equal(fresh.calls.length, 5);
  assert.match(lines[0]!, /NotRegistered .*registering it/);
});

test('no permission to register stops at once with the command; a registration that never ends is bounded', async () => {
  const forbidden = Object.assign(new Error('does not have authorization to perform action register'), {
    statusCode: 403,
    code: 'AuthorizationFailed',
  });
  const denied = fakeProviders(['NotRegistered'], forbidden);
  const result = await providers.runProviderCheck({ providers: denied.client, subscriptionId: SUB, ...clock() });
  assert.equal(result.ok, false);
  assert.match(result.summary, /registering Microsoft\.App failed: AuthorizationFailed/);
  assert.match(
    result.diagnosis.join(' '),
    new RegExp(`az provider register --namespace Microsoft\\.App --subscription ${SUB} --wait`),
  );

  const stuck = fakeProviders(['NotRegistered', 'Registering']);
  const c = clock();
  const slow = await providers.runProviderCheck({
    providers: stuck.client,
    subscriptionId: SUB,
    timeoutMs: 60_000,
    intervalMs: 10_000,
    ...c,
  });
  assert.equal(slow.ok, false);
  assert.match(slow.summary, /still Registering after 60 s/);
  assert.ok(c.now() <= 60_000, 'never waits past the bound');
  assert.equal(stuck.calls.filter((x) => x.startsWith('register')).length, 1);
});

test('a signed-out account or another tenant is final, with the azd command that fixes it', async () => {
  const signedOut = Object.assign(new Error('not logged in, run `azd auth login` to login'), {
    name: 'CredentialUnavailableError',
  });
  const out = await providers.runProviderCheck({
    providers: {
      get: () => Promise.reject(signedOut),
      register: () => Promise.reject(new Error('not called')),
    },
    subscriptionId: SUB,
    ...clock(),
  });
  assert.equal(out.ok, false);
  assert.match(out.diagnosis.join(' '), /Fix: sign azd in: `azd auth login`/);
  const wrongTenant = Object.assign(new Error('token from the wrong issuer'), {
    statusCode: 401,
    code: 'InvalidAuthenticationTokenTenant',
  });
  const other = await providers.runProviderCheck({
    providers: { get: () => Promise.reject(wrongTenant), register: () => Promise.reject(new Error('no')) },
    subscriptionId: SUB,
    env: { AZURE_TENANT_ID: TENANT },
    ...clock(),
  });
  assert.match(other.diagnosis.join(' '), new RegExp(`azd auth login --tenant-id ${TENANT}`));
});

test(
  'the hook: signed in as azd is, through the SDK to ARM, no az on PATH, and the token never printed',
  { skip: !armStubAvailable || process.platform === 'win32' ? 'needs openssl and a POSIX shell' : false },
  async () => {
    let state = 'NotRegistered';
    const arm = await startArmStub((req, reply) => {
      const base = `/subscriptions/${SUB}/providers/Microsoft.App`;
      if (req.method === 'GET' && req.path === base) {
        const answer = { namespace: 'Microsoft.App', registrationState: state };
        if (state === 'Registering') state = 'Registered';
        return reply(200, answer);
      }
      if (req.method === 'POST' && req.path === `${base}/register`) {
        state = 'Registering';
        return reply(200, { namespace: 'Microsoft.App', registrationState: 'Registering' });
      }
      return reply(404, { error: { code: 'NotFound', message: req.path } });
    });
    const TOKEN = 'fake-azd-arm-token-6b1c9d';
    const azd = fakeAzd(TOKEN);
    try {
      const run = await runHook({
        ...hookEnv(azd.dir, arm.origin),
        AZURE_TENANT_ID: TENANT,
        PROVIDER_CHECK_INTERVAL_SECONDS: '0.01',
      });
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /resource providers: Microsoft\.App registered Microsoft\.App/);
      assert.ok(!(run.stdout + run.stderr).includes(TOKEN), 'the token is never printed');
      assert.deepEqual(
        arm.requests.map((r) => `${r.method} ${r.path.replace(`/subscriptions/${SUB}`, '')}`),
        [
          'GET /providers/Microsoft.App',
          'POST /providers/Microsoft.App/register',
          'GET /providers/Microsoft.App',
          'GET /providers/Microsoft.App',
        ],
      );
      for (const r of arm.requests) assert.equal(r.authorization, `Bearer ${TOKEN}`);
      const args = readFileSync(join(azd.dir, 'args.log'), 'utf8');
      assert.match(
        args,
        new RegExp(`auth token --output json --no-prompt --scope ${arm.origin}/\\.default --tenant-id ${TENANT}`),
      );
    } finally {
      azd.cleanup();
      await arm.close();
    }
  },
);

test(
  'the hook: azd signed out fails at once with `azd auth login`, before any ARM request',
  { skip: !armStubAvailable || process.platform === 'win32' ? 'needs openssl and a POSIX shell' : false },
  async () => {
    const arm = await startArmStub((_req, reply) => reply(500, {}));
    const azd = fakeAzd('unused', { signedOut: true });
    try {
      const run = await runHook(hookEnv(azd.dir, arm.origin));
      assert.equal(run.status, 1);
      assert.match(run.stderr, /Fix: sign azd in: `azd auth login`/);
      assert.equal(arm.requests.length, 0);
    } finally {
      azd.cleanup();
      await arm.close();
    }
  },
);
