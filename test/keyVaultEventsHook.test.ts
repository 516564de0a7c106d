/**
 * The azd hook that subscribes secretEvents to Key Vault's events (scripts/key-vault-events-subscription.mjs), with a
 * stand-in for the Azure CLI (records every call, answers like az would) and a stub of the deployed ping on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as AzCli from '../scripts/az-cli.mjs';
import type * as HookModule from '../scripts/key-vault-events-subscription.mjs';
import { KEY_VAULT_SECRET_EVENT_TYPES } from '../src/events/keyVaultEvents.js';

function findUp(start: string): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'azure.yaml'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
const ROOT =
  findUp(dirname(fileURLToPath(import.meta.url))) ?? findUp(process.cwd()) ?? assert.fail('azure.yaml not found');
const hook = (await import(
  pathToFileURL(join(ROOT, 'scripts', 'key-vault-events-subscription.mjs')).href
)) as typeof HookModule;

/** A system key as Functions makes them (base64 with padding: encodes in a URL). */
const SYSTEM_KEY = 'stubEventGridKey/8Hq+Zw==';
const ARM_TOKEN = 'stub-arm-token-eyJ0eXAiOiJKV1Qi';
const SUB = '00000000-0000-0000-0000-000000000000';
const TENANT = '11111111-1111-1111-1111-111111111111';
const ENV = { AZURE_SUBSCRIPTION_ID: SUB, AZURE_TENANT_ID: TENANT };
const OPERATION_PATH = `/subscriptions/${SUB}/providers/Microsoft.EventGrid/locations/eastus2/operationsStatus/op-1`;

let server: Server;
let pingStatus = 200;
let pingUrl = '';
let arm: Arm;

/** What the ARM stub answers: PUTs, operation statuses and GETs in turn (the last one repeats). */
interface ArmPlan {
  puts: { status: number; body?: unknown; asyncOperation?: string }[];
  operations: { status: string; error?: { code: string; message: string } }[];
  gets: ({ status: 404 } | { provisioningState: string })[];
}

interface Arm {
  origin: string;
  plan: ArmPlan;
  requests: { method: string; path: string; authorization: string | undefined; body: string }[];
  counts: { puts: number; operations: number; gets: number };
  close(): Promise<void>;
}

/** A stand-in for ARM on 127.0.0.1: the event subscription resource and its Azure-AsyncOperation status URL. */
async function startArm(): Promise<Arm> {
  const state: Omit<Arm, 'origin' | 'close'> = {
    plan: { puts: [], operations: [], gets: [] },
    requests: [],
    counts: { puts: 0, operations: 0, gets: 0 },
  };
  const pick = <T>(list: T[], n: number) => list[Math.min(n, list.length - 1)]!;
  const armServer = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      state.requests.push({
        method: req.method ?? '',
        path: url.pathname,
        authorization: req.headers.authorization,
        body,
      });
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      if (url.pathname === OPERATION_PATH) {
        const op = pick(state.plan.operations, state.counts.operations++);
        return json(200, {
          id: OPERATION_PATH,
          name: 'op-1',
          status: op.status,
          ...(op.error ? { error: op.error } : {}),
        });
      }
      if (url.searchParams.get('api-version') !== hook.API_VERSION)
        return json(400, { error: { code: 'NoApiVersion' } });
      if (req.method === 'PUT') {
        const put = pick(state.plan.puts, state.counts.puts++);
        const headers: Record<string, string> = put.asyncOperation
          ? { 'azure-asyncoperation': put.asyncOperation }
          : {};
        return json(put.status, put.body ?? { properties: { provisioningState: 'Creating' } }, headers);
      }
      if (req.method === 'GET') {
        const got = pick(state.plan.gets, state.counts.gets++);
        if ('status' in got) return json(404, { error: { code: 'ResourceNotFound', message: 'not found' } });
        return json(200, { properties: { provisioningState: got.provisioningState } });
      }
      return json(405, {});
    });
  });
  await new Promise<void>((r) => armServer.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(armServer.address() as AddressInfo).port}`;
  return Object.assign(state, {
    origin,
    close: () => new Promise<void>((r) => armServer.close(() => r())),
  });
}

before(async () => {
  server = createServer((req, res) => {
    res.statusCode = req.url === '/api/ping' ? pingStatus : 404;
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  pingUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/ping`;
  arm = await startArm();
});
after(async () => {
  server.close();
  await arm.close();
});

interface Scenario {
  /** Answers of `az functionapp keys list` in turn (last one repeats); an Error is thrown. */
  keys?: (string | Error)[];
  /** `az account show` answer, or an Error to throw. */
  account?: string | Error;
  arm?: Partial<ArmPlan>;
  deadLetter?: HookModule.DeadLetter;
}

const succeeded: ArmPlan = {
  puts: [{ status: 201, asyncOperation: '' }],
  operations: [{ status: 'InProgress' }, { status: 'Succeeded' }],
  gets: [{ provisioningState: 'Succeeded' }],
};

async function run(scenario: Scenario, options: Partial<HookModule.SubscribeOptions> = {}) {
  const calls: string[][] = [];
  const fetched: string[] = [];
  const lines: string[] = [];
  let keyCalls = 0;
  let clock = 0;
  arm.plan = {
    ...succeeded,
    puts: [{ status: 201, asyncOperation: `${arm.origin}${OPERATION_PATH}?api-version=${hook.API_VERSION}` }],
    ...scenario.arm,
  };
  arm.requests.length = 0;
  arm.counts = { puts: 0, operations: 0, gets: 0 };
  const az = (args: string[]): string => {
    calls.push(args);
    const command = args.slice(0, 2).join(' ');
    if (command === 'account show') {
      const answer = scenario.account ?? JSON.stringify({ id: SUB, tenantId: TENANT });
      if (answer instanceof Error) throw answer;
      return answer;
    }
    if (command === 'functionapp keys') {
      const answers = scenario.keys ?? [`${SYSTEM_KEY}\n`];
      const answer = answers[Math.min(keyCalls++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return answer;
    }
    if (command === 'cloud show') return `${arm.origin}/\n`;
    if (command === 'account get-access-token') return `${ARM_TOKEN}\n`;
    throw new Error(`unexpected az ${args.join(' ')}`);
  };
  const settings: HookModule.SubscribeSettings = {
    subscriptionId: SUB,
    resourceGroup: 'rg-events',
    appName: 'func-api-abc',
    pingUrl,
    functionHost: 'func-api-abc.azurewebsites.net',
    subscriptionResourceId:
      `/subscriptions/${SUB}/resourceGroups/rg-events/providers/Microsoft.EventGrid/systemTopics/evgt-kv-abc` +
      `/eventSubscriptions/${hook.SUBSCRIPTION_NAME}`,
    ...(scenario.deadLetter ? { deadLetter: scenario.deadLetter } : {}),
  };
  const result = await hook.runSubscribe({
    settings,
    az,
    env: ENV,
    fetchImpl: (input, init) => {
      fetched.push(input instanceof Request ? input.url : input.toString());
      return fetch(input, init);
    },
    timeoutMs: 60_000,
    intervalMs: 10_000,
    log: (line) => lines.push(line),
    now: () => clock,
    sleep: async (ms) => void (clock += ms),
    ...options,
  });
  const puts = arm.requests.filter((r) => r.method === 'PUT');
  return { result, calls, fetched, lines, puts, requests: [...arm.requests], elapsedMs: clock };
}

function assertNothingSecretShown(outcome: { result: HookModule.SubscribeResult; calls: string[][]; lines: string[] }) {
  const shown = [outcome.result.summary, ...outcome.result.diagnosis, ...outcome.lines, ...outcome.calls.flat()];
  for (const text of shown) {
    assert.ok(!text.includes(SYSTEM_KEY), `the system key was shown: ${text}`);
    assert.ok(!text.includes(encodeURIComponent(SYSTEM_KEY)), `the encoded system key was shown: ${text}`);
    assert.ok(!text.includes(ARM_TOKEN), `the ARM token was shown: ${text}`);
  }
}

const echoed = `https://func-api-abc.azurewebsites.net/runtime/webhooks/eventgrid?functionName=secretEvents&code=${encodeURIComponent(SYSTEM_KEY)}`;
const validationFailed = {
  status: 'Failed',
  error: { code: 'Url validation', message: `Webhook validation handshake failed for ${echoed}. Http POST timed out.` },
};

test('the hook subscribes exactly the event types the function handles, to the function it registers', () => {
  assert.deepEqual([...hook.EVENT_TYPES], [...KEY_VAULT_SECRET_EVENT_TYPES]);
  const source = readFileSync(join(ROOT, 'src', 'functions', 'secretEvents.ts'), 'utf8');
  assert.match(source, new RegExp(`app\\.eventGrid\\('${hook.FUNCTION_NAME}'`));
  const body = hook.subscriptionBody(hook.webhookUrl('func-api-abc.azurewebsites.net', SYSTEM_KEY));
  assert.deepEqual(body.properties.filter, { includedEventTypes: [...KEY_VAULT_SECRET_EVENT_TYPES] });
  assert.equal(body.properties.destination.endpointType, 'WebHook');
  const url = new URL(body.properties.destination.properties.endpointUrl);
  assert.equal(url.origin, 'https://func-api-abc.azurewebsites.net');
  assert.equal(url.pathname, '/runtime/webhooks/eventgrid');
  assert.equal(url.searchParams.get('functionName'), 'secretEvents');
  assert.equal(url.searchParams.get('code'), SYSTEM_KEY, 'the key survives URL encoding');
  assert.equal(body.properties.destination.properties.maxEventsPerBatch, 1);
  assert.equal(body.properties.eventDeliverySchema, 'EventGridSchema');
  assert.equal(body.properties.deadLetterWithResourceIdentity, undefined, 'no dead-letter unless asked');
});

test('happy path: az checked once, ping, key, PUT to ARM, async operation followed to Succeeded, GET Succeeded', async () => {
  const outcome = await run({});
  assert.equal(outcome.result.ok, true, outcome.result.summary);
  assert.match(outcome.result.summary, /^3 secret event types deliver to secretEvents/);
  assert.deepEqual(outcome.calls[0], ['account', 'show', '--output', 'json', '--subscription', SUB]);
  assert.equal(outcome.calls.filter((c) => c[0] === 'account' && c[1] === 'show').length, 1, 'checked once');
  assert.deepEqual(
    outcome.calls.find((c) => c[1] === 'get-access-token'),
    [
      'account',
      'get-access-token',
      '--resource-type',
      'arm',
      '--subscription',
      SUB,
      '--query',
      'accessToken',
      '--output',
      'tsv',
    ],
    "a token for ARM in the deployment subscription's tenant",
  );
  assert.equal(outcome.puts.length, 1);
  const put = outcome.puts[0]!;
  assert.equal(
    put.path,
    `/subscriptions/${SUB}/resourceGroups/rg-events/providers/Microsoft.EventGrid/systemTopics/evgt-kv-abc` +
      `/eventSubscriptions/${hook.SUBSCRIPTION_NAME}`,
  );
  const body = JSON.parse(put.body) as HookModule.SubscriptionBody;
  assert.equal(new URL(body.properties.destination.properties.endpointUrl).searchParams.get('code'), SYSTEM_KEY);
  assert.deepEqual(body.properties.filter.includedEventTypes, [...KEY_VAULT_SECRET_EVENT_TYPES]);
  for (const r of outcome.requests) assert.equal(r.authorization, `Bearer ${ARM_TOKEN}`, 'token only in the header');
  assert.equal(
    outcome.requests.filter((r) => r.path === OPERATION_PATH).length,
    2,
    'the operation was polled to its end',
  );
  assert.ok(outcome.lines.some((l) => /waiting for Event Grid to validate the endpoint: operation InProgress/.test(l)));
  assertNothingSecretShown(outcome);
});

test('the async operation error is what is printed, redacted; a validation failure is retried with bounded PUTs', async () => {
  const failing = await run({ arm: { operations: [{ status: 'InProgress' }, validationFailed] } });
  assert.equal(failing.result.ok, false);
  assert.equal(failing.puts.length, hook.PUT_ATTEMPTS, `${hook.PUT_ATTEMPTS} PUTs, then it stops`);
  assert.match(
    failing.result.summary,
    /the event subscription failed: Url validation: Webhook validation handshake failed/,
  );
  assert.match(failing.result.summary, /code=\*\*\*/, 'the key in the echoed URL is redacted');
  assert.match(failing.result.diagnosis.join(' '), /could not validate the webhook/);
  assert.ok(failing.lines.some((l) => /trying again \(PUT 2 of 3\)/.test(l)));
  assertNothingSecretShown(failing);

  const cold = await run({ arm: { operations: [validationFailed, { status: 'Succeeded' }] } });
  assert.equal(cold.result.ok, true, cold.result.summary);
  assert.equal(cold.puts.length, 2);
  assert.match(cold.result.summary, /2 PUTs/);

  const canceled = await run({ arm: { operations: [{ status: 'Canceled' }] } });
  assert.equal(canceled.result.ok, false);
  assert.equal(canceled.puts.length, 1, 'only a validation failure is retried');
  assert.match(canceled.result.summary, /the operation ended Canceled/);
});

test('404 after a successful PUT and AwaitingManualAction are failures, not waits', async () => {
  const gone = await run({ arm: { gets: [{ status: 404 }] } });
  assert.equal(gone.result.ok, false);
  assert.equal(gone.result.summary, 'the event subscription does not exist after a successful PUT');
  assert.equal(gone.elapsedMs, 10_000, 'no waiting on a 404 (one interval: the operation poll)');

  const manual = await run({ arm: { gets: [{ provisioningState: 'AwaitingManualAction' }] } });
  assert.equal(manual.result.ok, false);
  assert.equal(manual.result.summary, 'the event subscription is AwaitingManualAction');
  assert.match(manual.result.diagnosis.join(' '), /manual validation/);

  const updating = await run({
    arm: { gets: [{ provisioningState: 'Updating' }, { provisioningState: 'Succeeded' }] },
  });
  assert.equal(updating.result.ok, true, 'Creating/Updating still wait');
});

test('a PUT ARM refuses fails at once with the permission it needs; an operation URL on another host is not followed', async () => {
  const denied = await run({
    arm: {
      puts: [
        {
          status: 403,
          body: { error: { code: 'AuthorizationFailed', message: 'The client does not have authorization' } },
        },
      ],
    },
  });
  assert.equal(denied.result.ok, false);
  assert.equal(denied.puts.length, 1);
  assert.match(denied.result.summary, /creating the event subscription failed: AuthorizationFailed/);
  assert.match(denied.result.diagnosis.join(' '), /eventSubscriptions\/write/);

  const elsewhere = await run({
    arm: { puts: [{ status: 201, asyncOperation: 'https://attacker.invalid/operationsStatus/op-1' }] },
  });
  assert.equal(elsewhere.result.ok, true, elsewhere.result.summary);
  assert.ok(!elsewhere.fetched.some((u) => u.includes('attacker.invalid')), 'the token never goes to another host');
});

test('az failures waiting cannot clear stop the hook at once, with the fix', async () => {
  const { AzError } = (await import(pathToFileURL(join(ROOT, 'scripts', 'az-cli.mjs')).href)) as typeof AzCli;
  const notSignedIn = await run({
    account: new AzError("az account show failed: Please run 'az login' to setup account.", {
      final: false,
    }),
  });
  assert.equal(notSignedIn.result.ok, false);
  assert.match(notSignedIn.result.diagnosis.join(' '), /Fix: .*az login/);
  assert.equal(notSignedIn.fetched.length, 0, 'nothing after the failed check');
  assert.equal(notSignedIn.elapsedMs, 0, 'no waiting');

  const otherTenant = await run({
    account: JSON.stringify({ id: SUB, tenantId: '22222222-2222-2222-2222-222222222222' }),
  });
  assert.equal(otherTenant.result.ok, false);
  assert.match(otherTenant.result.diagnosis.join(' '), new RegExp(`az login --tenant ${TENANT}`));
  assert.equal(otherTenant.elapsedMs, 0);

  const noSubscription = await run({
    account: new AzError(
      `az account show failed: Subscription '${SUB}' not found. Check the spelling and casing and try again.`,
    ),
  });
  assert.equal(noSubscription.result.ok, false);
  assert.match(noSubscription.result.diagnosis.join(' '), /AZURE_SUBSCRIPTION_ID/);

  const forbidden = await run({
    keys: [
      new AzError('az functionapp keys failed: (AuthorizationFailed) does not have authorization', {
        final: true,
        fix: 'grant it',
      }),
    ],
  });
  assert.equal(forbidden.result.ok, false);
  assert.equal(forbidden.calls.filter((c) => c[0] === 'functionapp').length, 1, 'asked once');
  assert.equal(forbidden.elapsedMs, 0, 'no waiting on AuthorizationFailed');
  assert.equal(forbidden.puts.length, 0);
});

test('waits for the system key the host creates on start, then gives up with a diagnosis', async () => {
  const late = await run({ keys: ['', '\n', new Error('az functionapp failed: (NotFound)'), SYSTEM_KEY] });
  assert.equal(late.result.ok, true, late.result.summary);
  assert.equal(late.calls.filter((c) => c[0] === 'functionapp').length, 4);
  assert.ok(late.lines.some((l) => /waiting for the eventgrid_extension system key/.test(l)));

  const never = await run({ keys: [''] });
  assert.equal(never.result.ok, false);
  assert.match(never.result.summary, /gave up after \d+ s waiting for the eventgrid_extension system key/);
  assert.match(never.result.diagnosis.join(' '), /listkeys/);
  assert.equal(never.puts.length, 0, 'nothing is created without a key');
});

test('the deployed app not answering stops the hook before the key is read', async () => {
  pingStatus = 503;
  try {
    const outcome = await run({});
    assert.equal(outcome.result.ok, false);
    assert.match(outcome.result.summary, /waiting for the deployed app: ping answered HTTP 503/);
    assert.deepEqual(
      outcome.calls.map((c) => c.slice(0, 2).join(' ')),
      ['account show'],
      'only the up-front az check',
    );
  } finally {
    pingStatus = 200;
  }
});

test('dead-lettering: the body names the storage account and container, with the topic identity', async () => {
  const deadLetter = {
    storageAccountId: `/subscriptions/${SUB}/resourceGroups/rg-events/providers/Microsoft.Storage/storageAccounts/stabc`,
    container: 'key-vault-events-dead-letter',
  };
  const outcome = await run({ deadLetter });
  assert.equal(outcome.result.ok, true, outcome.result.summary);
  const body = JSON.parse(outcome.puts[0]!.body) as HookModule.SubscriptionBody;
  assert.deepEqual(body.properties.deadLetterWithResourceIdentity, {
    identity: { type: 'SystemAssigned' },
    deadLetterDestination: {
      endpointType: 'StorageBlob',
      properties: { resourceId: deadLetter.storageAccountId, blobContainerName: deadLetter.container },
    },
  });
});

test('settings come from the azd environment, validated before anything is sent anywhere', () => {
  const env = {
    AZURE_SUBSCRIPTION_ID: SUB,
    AZURE_RESOURCE_GROUP: 'rg-kvfunc-dev',
    AZURE_FUNCTION_APP_NAME: 'func-api-abc',
    KEY_VAULT_EVENTS_TOPIC_NAME: 'evgt-kv-abc',
    PING_URL: 'https://func-api-abc.azurewebsites.net/api/ping',
  };
  const settings = hook.settingsFrom(env);
  assert.equal(settings.functionHost, 'func-api-abc.azurewebsites.net');
  assert.equal(
    settings.subscriptionResourceId,
    `/subscriptions/${SUB}/resourceGroups/rg-kvfunc-dev/providers/Microsoft.EventGrid/systemTopics/evgt-kv-abc/eventSubscriptions/${hook.SUBSCRIPTION_NAME}`,
  );
  for (const [name, value, message] of [
    ['KEY_VAULT_EVENTS_TOPIC_NAME', undefined, /KEY_VAULT_EVENTS_TOPIC_NAME is not set: run `azd provision`/],
    ['KEY_VAULT_EVENTS_TOPIC_NAME', 'evgt/../../other', /not a valid name/],
    ['AZURE_RESOURCE_GROUP', 'rg?x=1', /not a valid name/],
    ['AZURE_SUBSCRIPTION_ID', 'not-a-guid', /not a valid name/],
    ['PING_URL', 'http://func-api-abc.azurewebsites.net/api/ping', /must be https/],
    ['PING_URL', 'http://127.0.0.1:7071/api/ping', /must be https/],
    ['AZURE_RESOURCE_GROUP', 'rg&calc', /not a valid name/],
    ['AZURE_FUNCTION_APP_NAME', 'app|whoami', /not a valid name/],
    ['AZURE_TENANT_ID', 'x%PATH%', /not a valid name/],
    ['KEY_VAULT_EVENTS_DEAD_LETTER_CONTAINER', 'x', /KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID is not set/],
  ] as const) {
    assert.throws(() => hook.settingsFrom({ ...env, [name]: value }), message, `${name}=${String(value)}`);
  }
  const storageId = `/subscriptions/${SUB}/resourceGroups/rg-kvfunc-dev/providers/Microsoft.Storage/storageAccounts/stabc`;
  assert.deepEqual(
    hook.settingsFrom({
      ...env,
      KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID: storageId,
      KEY_VAULT_EVENTS_DEAD_LETTER_CONTAINER: 'key-vault-events-dead-letter',
    }).deadLetter,
    { storageAccountId: storageId, container: 'key-vault-events-dead-letter' },
  );
  assert.throws(
    () =>
      hook.settingsFrom({
        ...env,
        KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID: `${storageId}/../x`,
        KEY_VAULT_EVENTS_DEAD_LETTER_CONTAINER: 'c1c',
      }),
    /KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID is not a valid name/,
  );
  assert.equal(hook.shouldSkip({ SKIP_KEY_VAULT_EVENTS: 'true' }), true);
  assert.equal(hook.shouldSkip({ SKIP_KEY_VAULT_EVENTS: 'no' }), false);
  assert.equal(hook.shouldSkip({}), false);
});
