/**
 * The azd hook that subscribes secretEvents to Key Vault's events (scripts/key-vault-events-subscription.mjs), with a
 * stand-in for the Azure CLI (records every call, answers like az would) and a stub of the deployed ping on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
const SUB = '00000000-0000-0000-0000-000000000000';

let server: Server;
let pingStatus = 200;
let pingUrl = '';
let dir = '';

before(async () => {
  server = createServer((req, res) => {
    res.statusCode = req.url === '/api/ping' ? pingStatus : 404;
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  pingUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/ping`;
  dir = mkdtempSync(join(tmpdir(), 'kv-events-hook-'));
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Scenario {
  /** Answers of `az functionapp keys list` in turn (last one repeats); an Error is thrown. */
  keys?: (string | Error)[];
  put?: string | Error;
  /** Provisioning states GET returns in turn (last one repeats). */
  states?: string[];
}

function run(scenario: Scenario, options: Partial<HookModule.SubscribeOptions> = {}) {
  const calls: string[][] = [];
  const bodies: string[] = [];
  const removed: string[] = [];
  const lines: string[] = [];
  let keyCalls = 0;
  let getCalls = 0;
  let clock = 0;
  const az = (args: string[]): string => {
    calls.push(args);
    if (args[0] === 'functionapp') {
      const answers = scenario.keys ?? [`${SYSTEM_KEY}\n`];
      const answer = answers[Math.min(keyCalls++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return answer;
    }
    if (args[0] === 'rest' && args[2] === 'put') {
      const file = args[args.indexOf('--body') + 1]!.slice(1);
      bodies.push(readFileSync(file, 'utf8'));
      if (scenario.put instanceof Error) throw scenario.put;
      return scenario.put ?? '';
    }
    if (args[0] === 'rest' && args[2] === 'get') {
      const states = scenario.states ?? ['Succeeded'];
      return `${states[Math.min(getCalls++, states.length - 1)]}\n`;
    }
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
  };
  const result = hook.runSubscribe({
    settings,
    az,
    writeBody: (json) => {
      const path = join(dir, `body-${bodies.length}-${calls.length}.json`);
      writeFileSync(path, json, { mode: 0o600 });
      return path;
    },
    removeBody: (path) => {
      removed.push(path);
      rmSync(path, { force: true });
    },
    timeoutMs: 60_000,
    intervalMs: 10_000,
    log: (line) => lines.push(line),
    now: () => clock,
    sleep: async (ms) => void (clock += ms),
    ...options,
  });
  return result.then((r) => ({ result: r, calls, bodies, removed, lines }));
}

function assertKeyNeverShown(outcome: { result: HookModule.SubscribeResult; calls: string[][]; lines: string[] }) {
  const shown = [outcome.result.summary, ...outcome.result.diagnosis, ...outcome.lines, ...outcome.calls.flat()];
  for (const text of shown) {
    assert.ok(!text.includes(SYSTEM_KEY), `the system key was shown: ${text}`);
    assert.ok(!text.includes(encodeURIComponent(SYSTEM_KEY)), `the encoded system key was shown: ${text}`);
  }
}

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
});

test('happy path: ping, key, PUT through az rest with a body file, provisioning state polled to Succeeded', async () => {
  const outcome = await run({ states: ['Creating', 'AwaitingManualAction', 'Succeeded'] });
  assert.equal(outcome.result.ok, true, outcome.result.summary);
  assert.match(outcome.result.summary, /^3 secret event types deliver to secretEvents/);

  const put = outcome.calls.find((c) => c[0] === 'rest' && c[2] === 'put')!;
  const url = put[put.indexOf('--url') + 1]!;
  assert.equal(
    url,
    `/subscriptions/${SUB}/resourceGroups/rg-events/providers/Microsoft.EventGrid/systemTopics/evgt-kv-abc` +
      `/eventSubscriptions/${hook.SUBSCRIPTION_NAME}?api-version=${hook.API_VERSION}`,
    'a resource-id URL: az rest prefixes the current cloud ARM endpoint',
  );
  assert.equal(outcome.bodies.length, 1);
  const body = JSON.parse(outcome.bodies[0]!) as HookModule.SubscriptionBody;
  assert.equal(new URL(body.properties.destination.properties.endpointUrl).searchParams.get('code'), SYSTEM_KEY);
  assert.deepEqual(body.properties.filter.includedEventTypes, [...KEY_VAULT_SECRET_EVENT_TYPES]);
  assert.equal(outcome.removed.length, 1, 'the body file is removed');
  assert.ok(!existsSync(outcome.removed[0]!));
  assert.equal(outcome.calls.filter((c) => c[2] === 'get').length, 3);
  assertKeyNeverShown(outcome);
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
  assert.equal(never.calls.filter((c) => c[0] === 'rest').length, 0, 'nothing is created without a key');
});

test('the deployed app not answering stops the hook before any az call', async () => {
  pingStatus = 503;
  try {
    const outcome = await run({});
    assert.equal(outcome.result.ok, false);
    assert.match(outcome.result.summary, /waiting for the deployed app: ping answered HTTP 503/);
    assert.deepEqual(outcome.calls, []);
  } finally {
    pingStatus = 200;
  }
});

test('a refused PUT or a failed validation fails the hook, with the key redacted from echoed URLs', async () => {
  const echoed = `https://func-api-abc.azurewebsites.net/runtime/webhooks/eventgrid?functionName=secretEvents&code=${encodeURIComponent(SYSTEM_KEY)}`;
  const refused = await run({ put: new Error(`az rest failed: Webhook validation handshake failed for ${echoed}`) });
  assert.equal(refused.result.ok, false);
  assert.match(refused.result.summary, /creating the event subscription failed: .*code=\*\*\*/);
  assert.equal(refused.removed.length, 1, 'the body file is removed after a failure too');
  assertKeyNeverShown(refused);

  const failed = await run({ states: ['Creating', 'Failed'] });
  assert.equal(failed.result.ok, false);
  assert.equal(failed.result.summary, 'the event subscription ended Failed');
  assert.match(failed.result.diagnosis.join(' '), /could not validate the webhook/);
  assertKeyNeverShown(failed);

  const stuck = await run({ states: ['Creating'] });
  assert.equal(stuck.result.ok, false);
  assert.match(
    stuck.result.summary,
    /gave up after \d+ s waiting for Event Grid to validate the endpoint: provisioning state Creating/,
  );
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
  ] as const) {
    assert.throws(() => hook.settingsFrom({ ...env, [name]: value }), message, `${name}=${String(value)}`);
  }
  assert.equal(hook.shouldSkip({ SKIP_KEY_VAULT_EVENTS: 'true' }), true);
  assert.equal(hook.shouldSkip({ SKIP_KEY_VAULT_EVENTS: 'no' }), false);
  assert.equal(hook.shouldSkip({}), false);
});
