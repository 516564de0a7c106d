/**
 * The azd hook that subscribes secretEvents to Key Vault's events (scripts/key-vault-events-subscription.mjs): the
 * real Event Grid SDK client (@azure/arm-eventgrid, its long-running-operation poller) against an HTTPS stub of ARM on
 * 127.0.0.1, a stand-in for the App Service client's host keys, and a stub of the deployed ping.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import type { TokenCredential } from '@azure/identity';
import type * as Arm from '../scripts/arm.mjs';
import type * as HookModule from '../scripts/key-vault-events-subscription.mjs';
import type * as Gate from '../scripts/postdeploy-gate.mjs';
import { KEY_VAULT_SECRET_EVENT_TYPES } from 'functions-keyvault/internal/events/keyVaultEvents.js';
import { type ArmStub, armStubAvailable, startArmStub } from './support/armStub.js';
import { ROOT } from './support/projectRoot.js';

const load = async <T>(name: string) => (await import(pathToFileURL(join(ROOT, 'scripts', name)).href)) as T;
const hook = await load<typeof HookModule>('key-vault-events-subscription.mjs');
const arm = await load<typeof Arm>('arm.mjs');
const gate = await load<typeof Gate>('postdeploy-gate.mjs');

/** A system key as Functions makes them (base64 with padding: encodes in a URL). */
const SYSTEM_KEY = 'stubEventGridKey/8Hq+Zw==';
const ARM_TOKEN = 'stub-arm-token-eyJ0eXAiOiJKV1Qi';
const SUB = '00000000-0000-0000-0000-000000000000';
const TENANT = '11111111-1111-1111-1111-111111111111';
const RG = 'rg-events';
const TOPIC = 'evgt-kv-abc';
const SUBSCRIPTION_PATH =
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.EventGrid/systemTopics/${TOPIC}` +
  `/eventSubscriptions/${hook.SUBSCRIPTION_NAME}`;
const OPERATION_PATH = `/subscriptions/${SUB}/providers/Microsoft.EventGrid/locations/eastus2/operationsStatus/op-1`;
const skip = armStubAvailable ? false : 'needs openssl (the HTTPS stub of ARM)';

/** What the ARM stub answers: PUTs, operation statuses and GETs in turn (the last one repeats). */
interface ArmPlan {
  puts: { status: number; body?: unknown; asyncOperation?: string }[];
  operations: { status: string; error?: { code: string; message: string } }[];
  gets: ({ status: 404 } | { provisioningState: string })[];
}

let pingServer: Server;
let pingStatus = 200;
let pingUrl = '';
let stub: ArmStub | undefined;
let plan: ArmPlan;
const counts = { puts: 0, operations: 0, gets: 0 };
const pick = <T>(list: T[], n: number) => list[Math.min(n, list.length - 1)]!;

before(async () => {
  pingServer = createServer((req, res) => {
    res.statusCode = req.url === '/api/ping' ? pingStatus : 404;
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((r) => pingServer.listen(0, '127.0.0.1', r));
  pingUrl = `http://127.0.0.1:${(pingServer.address() as AddressInfo).port}/api/ping`;
  if (!armStubAvailable) return;
  stub = await startArmStub((req, reply) => {
    if (req.path === OPERATION_PATH) {
      const op = pick(plan.operations, counts.operations++);
      return reply(200, {
        id: OPERATION_PATH,
        name: 'op-1',
        status: op.status,
        ...(op.error ? { error: op.error } : {}),
      });
    }
    if (req.path !== SUBSCRIPTION_PATH) return reply(404, { error: { code: 'NotFound', message: req.path } });
    if (req.method === 'PUT') {
      const put = pick(plan.puts, counts.puts++);
      const headers: Record<string, string> = put.asyncOperation ? { 'azure-asyncoperation': put.asyncOperation } : {};
      return reply(put.status, put.body ?? { properties: { provisioningState: 'Creating' } }, headers);
    }
    if (req.method === 'GET') {
      const got = pick(plan.gets, counts.gets++);
      if ('status' in got) return reply(404, { error: { code: 'ResourceNotFound', message: 'not found' } });
      return reply(200, { id: SUBSCRIPTION_PATH, properties: { provisioningState: got.provisioningState } });
    }
    return reply(405, {});
  });
});
after(async () => {
  pingServer.close();
  await stub?.close();
});

const credential: TokenCredential = {
  getToken: async () => ({ token: ARM_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

interface Scenario {
  /** listHostKeys answers in turn (the last one repeats): a system key ('' = not yet), or an Error to throw. */
  keys?: (string | Error)[];
  arm?: Partial<ArmPlan>;
  deadLetter?: HookModule.DeadLetter;
}

async function run(scenario: Scenario, options: Partial<HookModule.SubscribeOptions> = {}) {
  const origin = stub!.origin;
  const lines: string[] = [];
  const keyCalls: string[] = [];
  let clock = 0;
  plan = {
    puts: [{ status: 201, asyncOperation: `${origin}${OPERATION_PATH}?api-version=2022-06-15` }],
    operations: [{ status: 'InProgress' }, { status: 'Succeeded' }],
    gets: [{ provisioningState: 'Succeeded' }],
    ...scenario.arm,
  };
  Object.assign(counts, { puts: 0, operations: 0, gets: 0 });
  stub!.requests.length = 0;
  const keys = scenario.keys ?? [SYSTEM_KEY];
  const webApps = {
    listFunctionKeys: () => Promise.reject(new Error('not used by this hook')),
    listHostKeys: async (rg: string, app: string) => {
      keyCalls.push(`${rg}/${app}`);
      const answer = keys[Math.min(keyCalls.length - 1, keys.length - 1)]!;
      if (answer instanceof Error) throw answer;
      const systemKeys: Record<string, string> = answer ? { eventgrid_extension: answer } : {};
      return { masterKey: 'never-used-master', systemKeys };
    },
  };
  const client = new EventGridManagementClient(credential, SUB, arm.clientOptions(origin));
  const settings: HookModule.SubscribeSettings = {
    subscriptionId: SUB,
    resourceGroup: RG,
    appName: 'func-api-abc',
    topicName: TOPIC,
    pingUrl,
    functionHost: 'func-api-abc.azurewebsites.net',
    subscriptionResourceId: SUBSCRIPTION_PATH,
    ...(scenario.deadLetter ? { deadLetter: scenario.deadLetter } : {}),
  };
  const result = await hook.runSubscribe({
    settings,
    webApps,
    eventSubscriptions: client.systemTopicEventSubscriptions,
    env: { AZURE_SUBSCRIPTION_ID: SUB, AZURE_TENANT_ID: TENANT },
    timeoutMs: 60_000,
    intervalMs: 10_000,
    pollIntervalMs: 1,
    log: (line) => lines.push(line),
    now: () => clock,
    sleep: async (ms) => void (clock += ms),
    ...options,
  });
  const requests = [...stub!.requests];
  const puts = requests.filter((r) => r.method === 'PUT');
  return { result, lines, keyCalls, puts, requests, elapsedMs: clock };
}

function assertNothingSecretShown(outcome: { result: HookModule.SubscribeResult; lines: string[] }) {
  for (const text of [outcome.result.summary, ...outcome.result.diagnosis, ...outcome.lines]) {
    assert.ok(!text.includes(SYSTEM_KEY), `the system key was shown: ${text}`);
    assert.doesNotMatch(text, /8Hq/i, `a spelling of the system key was shown: ${text}`);
    assert.ok(!text.includes(ARM_TOKEN), `the ARM token was shown: ${text}`);
  }
}

/** The webhook URL as Event Grid's errors echo it, in `spelling`. */
const echoed = (spelling: string) =>
  `https://func-api-abc.azurewebsites.net/runtime/webhooks/eventgrid?functionName=secretEvents&code=${spelling}`;
const validationFailed = (spelling = encodeURIComponent(SYSTEM_KEY)) => ({
  status: 'Failed',
  error: {
    code: 'Url validation',
    message: `Webhook validation handshake failed for ${echoed(spelling)}. Http POST timed out.`,
  },
});

test('the hook subscribes exactly the event types the function handles, to the function it registers', () => {
  assert.deepEqual([...hook.EVENT_TYPES], [...KEY_VAULT_SECRET_EVENT_TYPES]);
  const source = readFileSync(join(ROOT, 'src', 'functions', 'secretEvents.ts'), 'utf8');
  assert.match(source, new RegExp(`app\\.eventGrid\\(\\s*'${hook.FUNCTION_NAME}'`));
  const body = hook.subscriptionBody(hook.webhookUrl('func-api-abc.azurewebsites.net', SYSTEM_KEY));
  assert.equal(
    body.properties.destination.properties.endpointUrl,
    `https://func-api-abc.azurewebsites.net/runtime/webhooks/eventgrid?functionName=secretEvents&code=${encodeURIComponent(SYSTEM_KEY)}`,
  );
  assert.deepEqual(body.properties.filter.includedEventTypes, [...KEY_VAULT_SECRET_EVENT_TYPES]);
});

test(
  'happy path: ping, host key, PUT through the SDK, its async operation followed to Succeeded, GET Succeeded',
  { skip },
  async () => {
    const outcome = await run({});
    assert.equal(outcome.result.ok, true, outcome.result.summary);
    assert.match(outcome.result.summary, /3 secret event types deliver to secretEvents/);
    assert.deepEqual(outcome.keyCalls, [`${RG}/func-api-abc`]);
    assert.deepEqual(
      outcome.requests.map((r) => `${r.method} ${r.path === OPERATION_PATH ? 'operation' : 'subscription'}`),
      // The SDK's poller GETs the resource once the operation succeeds; the hook GETs it once more for its state.
      ['PUT subscription', 'GET operation', 'GET operation', 'GET subscription', 'GET subscription'],
    );
    for (const r of outcome.requests) assert.equal(r.authorization, `Bearer ${ARM_TOKEN}`);
    // The SDK serialized the model into exactly the ARM body the hook documents.
    const sent = JSON.parse(outcome.puts[0]!.body) as HookModule.SubscriptionBody;
    assert.deepEqual(sent, hook.subscriptionBody(hook.webhookUrl('func-api-abc.azurewebsites.net', SYSTEM_KEY)));
    assertNothingSecretShown(outcome);
  },
);

test(
  'the operation error is printed redacted; a validation failure is retried with bounded PUTs',
  { skip },
  async () => {
    const retried = await run({ arm: { operations: [validationFailed(), { status: 'Succeeded' }] } });
    assert.equal(retried.result.ok, true, retried.result.summary);
    assert.equal(retried.puts.length, 2);
    assert.match(retried.lines.join('\n'), /validation handshake failed .*code=\*\*\*.*PUT 2 of 3/);
    assertNothingSecretShown(retried);

    const never = await run({ arm: { operations: [validationFailed()] } });
    assert.equal(never.result.ok, false);
    assert.equal(never.puts.length, hook.PUT_ATTEMPTS);
    assert.match(never.result.summary, /creating the event subscription failed: .*validation handshake failed/);
    assertNothingSecretShown(never);
  },
);

test(
  'every spelling of the system key is redacted: lower-case escapes, double escaping, raw, `+`',
  { skip },
  async () => {
    const encoded = encodeURIComponent(SYSTEM_KEY);
    const spellings = [
      SYSTEM_KEY,
      encoded,
      encoded.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
      encodeURIComponent(encoded),
      encodeURIComponent(encodeURIComponent(encoded))
        .toLowerCase()
        .replace(/stubeventgridkey/, 'stubEventGridKey'),
      SYSTEM_KEY.replace('+', '%2b'),
    ];
    for (const spelling of spellings) {
      // Also where no `code=` names it: the message names the key on its own.
      const failed = await run({
        arm: {
          operations: [
            {
              status: 'Failed',
              error: { code: 'Url validation', message: `bad key ${spelling} at ${echoed(spelling)}` },
            },
          ],
        },
      });
      assert.equal(failed.result.ok, false);
      assertNothingSecretShown(failed);
    }
    // The rule itself, unit by unit (a secret with a space may arrive as `+`).
    assert.equal(gate.redact('a+b%2Bc d', ['a b+c d']), '***');
    assert.equal(gate.redact('ab%252Fy', ['ab/y']), '***');
    assert.equal(gate.redact('unrelated text', ['a b+c d']), 'unrelated text');
    assert.equal(hook.withoutCodeParameter('u?functionName=f&code=abc%2F&x=1'), 'u?functionName=f&code=***&x=1');
  },
);

test('404 after a successful PUT and AwaitingManualAction are failures, not waits', { skip }, async () => {
  const gone = await run({ arm: { gets: [{ status: 404 }] } });
  assert.equal(gone.result.ok, false);
  assert.match(gone.result.summary, /does not exist after a successful PUT/);
  const manual = await run({ arm: { gets: [{ provisioningState: 'AwaitingManualAction' }] } });
  assert.equal(manual.result.ok, false);
  assert.match(manual.result.summary, /AwaitingManualAction/);
});

test(
  'a PUT ARM refuses fails at once with the permission it needs; an operation URL on another host is not followed',
  { skip },
  async () => {
    const forbidden = await run({
      arm: { puts: [{ status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no write' } } }] },
    });
    assert.equal(forbidden.result.ok, false);
    assert.equal(forbidden.puts.length, 1, 'not retried');
    assert.match(forbidden.result.diagnosis.join(' '), /eventSubscriptions\/write/);

    const elsewhere = await run({
      arm: { puts: [{ status: 201, asyncOperation: `https://127.0.0.2:1${OPERATION_PATH}` }] },
    });
    assert.equal(elsewhere.result.ok, false);
    assert.match(elsewhere.result.summary, /refused to send the ARM token to 127\.0\.0\.2:1/);
    assert.ok(!elsewhere.requests.some((r) => r.path === OPERATION_PATH), 'the foreign status URL was not requested');
  },
);

test('a key read waiting cannot clear stops the hook at once, with the fix', { skip }, async () => {
  const denied = Object.assign(new Error('does not have authorization to perform action listkeys'), {
    name: 'RestError',
    statusCode: 403,
    code: 'AuthorizationFailed',
  });
  const outcome = await run({ keys: [denied] });
  assert.equal(outcome.result.ok, false);
  assert.equal(outcome.keyCalls.length, 1, 'not retried');
  assert.match(outcome.result.diagnosis.join(' '), /Fix: the account azd is signed in as lacks a permission/);
  assert.equal(outcome.requests.length, 0, 'no subscription attempted');
});

test('waits for the system key the host creates on start, then gives up with a diagnosis', { skip }, async () => {
  const late = await run({ keys: ['', '', new Error('connect ECONNRESET'), SYSTEM_KEY] });
  assert.equal(late.result.ok, true, late.result.summary);
  assert.equal(late.keyCalls.length, 4);
  assert.match(
    late.lines.join('\n'),
    /waiting for the eventgrid_extension system key: the host has not created it yet/,
  );
  const never = await run({ keys: [''] });
  assert.equal(never.result.ok, false);
  assert.match(never.result.summary, /gave up after 60 s waiting for the eventgrid_extension system key/);
  assert.ok(never.elapsedMs <= 60_000);
});

test('the deployed app not answering stops the hook before the key is read', { skip }, async () => {
  pingStatus = 503;
  try {
    const outcome = await run({});
    assert.equal(outcome.result.ok, false);
    assert.match(outcome.result.summary, /waiting for the deployed app: ping answered HTTP 503/);
    assert.deepEqual(outcome.keyCalls, []);
  } finally {
    pingStatus = 200;
  }
});

test(
  'dead-lettering: the body names the storage account and container, with the topic identity',
  { skip },
  async () => {
    const deadLetter = {
      storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/stabc`,
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
  },
);

test('settings come from the azd environment, validated before anything is sent anywhere', () => {
  const env = {
    AZURE_SUBSCRIPTION_ID: SUB,
    AZURE_RESOURCE_GROUP: 'rg-kvfunc-dev',
    AZURE_FUNCTION_APP_NAME: 'func-api-abc',
    KEY_VAULT_EVENTS_TOPIC_NAME: TOPIC,
    PING_URL: 'https://func-api-abc.azurewebsites.net/api/ping',
  };
  const settings = hook.settingsFrom(env);
  assert.equal(settings.functionHost, 'func-api-abc.azurewebsites.net');
  assert.equal(settings.topicName, TOPIC);
  assert.equal(
    settings.subscriptionResourceId,
    `/subscriptions/${SUB}/resourceGroups/rg-kvfunc-dev/providers/Microsoft.EventGrid/systemTopics/${TOPIC}/eventSubscriptions/${hook.SUBSCRIPTION_NAME}`,
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
  assert.equal(hook.shouldSkip({ SKIP_KEY_VAULT_EVENTS: 'true' }), true);
  assert.equal(hook.shouldSkip({ SKIP_KEY_VAULT_EVENTS: 'no' }), false);
  assert.equal(hook.shouldSkip({}), false);
});

test('the hooks make no az call and spawn no process or shell of their own', () => {
  const hooks = [
    'preprovision.mjs',
    'resource-providers.mjs',
    'postdeploy.mjs',
    'postdeploy-gate.mjs',
    'key-vault-events.mjs',
    'key-vault-events-subscription.mjs',
    'function-keys.mjs',
    'arm.mjs',
  ];
  for (const file of hooks) {
    const source = readFileSync(join(ROOT, 'scripts', file), 'utf8');
    assert.doesNotMatch(
      source,
      /node:child_process|['"]child_process['"]|\bspawn(Sync)?\(|\bexec(File)?(Sync)?\(/,
      file,
    );
    assert.doesNotMatch(source, /\baz-cli\b|['"]az['"]/, `${file}: no Azure CLI`);
  }
  const yaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');
  for (const run of yaml.matchAll(/run: (.+)/g)) assert.match(run[1]!, /^node scripts\/[\w-]+\.mjs$/);
});
