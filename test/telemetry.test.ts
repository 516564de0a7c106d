/**
 * Telemetry through @opentelemetry/api with in-memory providers: reads by cache outcome, Key Vault calls and their
 * latency, token requests, stale age, a span per call; and no canary secret value or token anywhere in what is
 * exported or logged.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metrics, trace } from '@opentelemetry/api';
import { type DataPoint, MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { BoundedCredential } from 'functions-keyvault/internal/keyVault/credential.js';
import * as getSecretModule from '../src/functions/getSecret.js';
import { configureKeyVault, readSecret } from 'functions-keyvault/internal/keyVault/index.js';
import { METRIC_SECRET_NAMES, OTHER_SECRET_NAME } from 'functions-keyvault/internal/keyVault/telemetry.js';
import { InMemoryVault, keyVaultError, ManualClock } from 'functions-keyvault/testing';
import { capturingContext, get } from 'functions-keyvault/testing';
import { captureConsole } from './support/captureConsole.js';
import { CollectingReader } from './support/collectingReader.js';

const reader = new CollectingReader();
const spans = new InMemorySpanExporter();
const CANARY = `canary-${Math.random().toString(36).slice(2)}-secret`;
const CANARY_TOKEN = `eyJcanary${Math.random().toString(36).slice(2)}token`;

before(() => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
});

after(() => {
  metrics.disable();
  trace.disable();
});

async function collected(): Promise<ResourceMetrics> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics;
}

function points(rm: ResourceMetrics, name: string): Array<DataPoint<unknown>> {
  return rm.scopeMetrics.flatMap((s) =>
    s.metrics.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as Array<DataPoint<unknown>>),
  );
}

function sum(rm: ResourceMetrics, name: string, where: Record<string, unknown>): number {
  return points(rm, name)
    .filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v))
    .reduce((total, p) => total + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);
}

test('reads, calls, stale age and spans are recorded, with vault host and secret name only', async () => {
  const vault = new InMemoryVault();
  const clock = new ManualClock();
  vault.set('tele-a', CANARY);
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: 'https://tele.vault.azure.net/', SECRET_CACHE_TTL_SECONDS: '60' }),
    fetchSecret: vault.fetch,
    clock,
    log: { warn: (m) => console.warn(m), info: (m) => console.info(m) },
  });
  const { output } = await captureConsole(async () => {
    await readSecret('tele-a'); // miss
    await readSecret('tele-a'); // hit
    await assert.rejects(readSecret('tele-missing')); // refused (404)
    clock.advance(61_000);
    vault.failWith = keyVaultError(429, 'slow down', { 'retry-after': '3' });
    await readSecret('tele-a'); // stale, after a throttled call
  });

  const rm = await collected();
  const host = 'tele.vault.azure.net';
  assert.equal(
    sum(rm, 'keyvault.secret.reads', { 'keyvault.cache.outcome': 'miss', 'keyvault.secret.name': 'tele-a' }),
    1,
  );
  assert.equal(sum(rm, 'keyvault.secret.reads', { 'keyvault.cache.outcome': 'hit' }), 1);
  assert.equal(sum(rm, 'keyvault.secret.reads', { 'keyvault.cache.outcome': 'stale' }), 1);
  assert.equal(
    sum(rm, 'keyvault.secret.reads', { 'keyvault.cache.outcome': 'refused', 'error.type': 'secret-not-found' }),
    1,
  );
  assert.equal(sum(rm, 'keyvault.calls', { 'keyvault.outcome': 'ok', 'server.address': host }), 1);
  assert.equal(sum(rm, 'keyvault.calls', { 'keyvault.outcome': 'secret-not-found' }), 1);
  assert.ok(sum(rm, 'keyvault.calls', { 'keyvault.outcome': 'throttled', 'http.response.status_code': 429 }) >= 1);
  assert.ok(sum(rm, 'keyvault.call.duration', {}) >= 3, 'latency recorded per call');
  const stale = points(rm, 'keyvault.stale.age')[0]?.value as { sum: number; count: number } | undefined;
  assert.equal(stale?.count, 1);
  assert.ok((stale?.sum ?? 0) >= 61, 'the stale value was 61 s old');

  const finished = spans.getFinishedSpans();
  assert.ok(finished.length >= 3);
  assert.ok(finished.every((s) => s.name === 'keyvault.get_secret' && s.attributes['server.address'] === host));

  const exported = JSON.stringify({
    rm,
    spans: finished.map((s) => ({ n: s.name, a: s.attributes, st: s.status, ev: s.events })),
  });
  assert.equal(exported.includes(CANARY), false, 'no secret value in metrics or spans');
  assert.equal(output.includes(CANARY), false, 'no secret value in logs');
  for (const attributes of [...points(rm, 'keyvault.secret.reads'), ...points(rm, 'keyvault.calls')].map(
    (p) => p.attributes,
  )) {
    for (const key of Object.keys(attributes)) {
      assert.ok(
        [
          'server.address',
          'keyvault.secret.name',
          'keyvault.cache.outcome',
          'error.type',
          'keyvault.outcome',
          'http.response.status_code',
        ].includes(key),
        `unexpected attribute ${key}`,
      );
    }
  }
});

test('token requests: latency and failures recorded, never the token', async () => {
  let fail = false;
  const credential = new BoundedCredential(
    () => ({
      getToken: () =>
        fail
          ? Promise.reject(Object.assign(new Error('endpoint down'), { name: 'CredentialUnavailableError' }))
          : Promise.resolve({ token: CANARY_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
    }),
    1_000,
    'identity endpoint',
  );
  assert.equal((await credential.getToken('https://vault.azure.net/.default'))?.token, CANARY_TOKEN);
  fail = true;
  await assert.rejects(credential.getToken('https://vault.azure.net/.default'));
  await assert.rejects(credential.getToken('https://management.azure.com/.default'), /not a Key Vault resource/);
  const rm = await collected();
  assert.ok(sum(rm, 'keyvault.token.duration', { 'keyvault.outcome': 'ok' }) >= 1);
  assert.ok(sum(rm, 'keyvault.token.failures', { 'error.type': 'CredentialUnavailableError' }) === 0);
  assert.ok(sum(rm, 'keyvault.token.failures', {}) >= 1);
  assert.equal(JSON.stringify(rm).includes(CANARY_TOKEN), false, 'no token in metrics');
});

test('metric cardinality: names that exist are series, any other name is one (other) series, bounded', async () => {
  const vault = new InMemoryVault();
  const host = 'tele-cardinality.vault.azure.net';
  configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: `https://${host}/`,
      SECRETS_ALLOWED: 'app-*',
      KEY_VAULT_BUDGET_PER_10S: '4000',
      SECRET_CACHE_MAX_ENTRIES: '10000',
    }),
    fetchSecret: vault.fetch,
    clock: new ManualClock(),
    log: { warn: () => undefined, info: () => undefined },
  });
  const read = async (name: string) => {
    const { context } = capturingContext('getSecret');
    return getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}`, { name }), context);
  };
  const names = (rm: ResourceMetrics) =>
    new Set(
      ['keyvault.secret.reads', 'keyvault.calls', 'keyvault.call.duration'].flatMap((metric) =>
        points(rm, metric)
          .filter((p) => p.attributes['server.address'] === host)
          .map((p) => p.attributes['keyvault.secret.name']),
      ),
    );

  for (const name of ['app-one', 'app-two', 'app-three']) vault.set(name, CANARY);
  const statuses = new Map<number, number>();
  for (let i = 0; i < 3_000; i++) {
    const name =
      i % 100 === 0
        ? ['app-one', 'APP-Two', 'app-three'][(i / 100) % 3]!
        : `app-${i}-${Math.random().toString(36).slice(2, 8)}`;
    const status = (await read(name)).status ?? 0;
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  assert.deepEqual([...statuses].sort(), [
    [200, 30],
    [404, 2_970],
  ]);
  let rm = await collected();
  assert.deepEqual([...names(rm)].sort(), [OTHER_SECRET_NAME, 'app-one', 'app-three', 'app-two']);
  assert.equal(
    sum(rm, 'keyvault.secret.reads', { 'server.address': host, 'keyvault.secret.name': OTHER_SECRET_NAME }),
    2_970,
  );
  assert.equal(sum(rm, 'keyvault.secret.reads', { 'server.address': host, 'keyvault.secret.name': 'app-two' }), 10);

  // Many names that exist: at most METRIC_SECRET_NAMES of them are series.
  for (let i = 0; i < METRIC_SECRET_NAMES + 50; i++) vault.set(`app-real-${i}`, CANARY);
  for (let i = 0; i < METRIC_SECRET_NAMES + 50; i++) assert.equal((await read(`app-real-${i}`)).status, 200);
  rm = await collected();
  assert.ok(names(rm).size <= METRIC_SECRET_NAMES + 1, `${names(rm).size} distinct secret names in metrics`);
  assert.equal(JSON.stringify(rm).includes(CANARY), false, 'no secret value in metrics');
});
