/**
 * The rotation ledger's telemetry through @opentelemetry/api with an in-memory provider: poll outcomes, write
 * outcomes and lag, with outcome words only (no secret name, never a value).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import { type DataPoint, MeterProvider } from '@opentelemetry/sdk-metrics';
import { LedgerModel } from '../scripts/ledgerModel.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { KeyVaultService, type SecretFetch } from 'functions-keyvault/internal/keyVault/index.js';
import { RotationLedger } from 'functions-keyvault/internal/ledger/rotationLedger.js';
import { secretRecord } from 'functions-keyvault/testing';
import { ledgerTelemetry } from 'functions-keyvault/internal/ledger/telemetry.js';
import { CollectingReader } from './support/collectingReader.js';

const reader = new CollectingReader();
const VAULT = 'https://tele-ledger.vault.azure.net/';
const CANARY = `canary-${Math.random().toString(36).slice(2)}`;

before(() => metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] })));
after(() => metrics.disable());

test('polls, writes and lag are measured with outcome words only', async () => {
  let ms = 1_000;
  const clock = { now: () => ms };
  const wallClock = () => Date.UTC(2026, 5, 1) + ms;
  let version = '1'.repeat(32);
  const fetchSecret: SecretFetch = (_v, name) => Promise.resolve(secretRecord(name, CANARY, version));
  const store = new LedgerModel(wallClock);
  const config = parseConfig({
    KEY_VAULT_URL: VAULT,
    ROTATION_LEDGER_URL: 'https://stapp.blob.core.windows.net/rotation-ledger/app.json',
  });
  const make = () => {
    const service = new KeyVaultService({ config, fetchSecret, clock });
    const ledger = new RotationLedger({
      store,
      target: service,
      pollMs: 5_000,
      timeoutMs: 1_000,
      clock,
      wallClock,
      events: ledgerTelemetry(),
    });
    service.onVersionSeen((v, n, ver) => ledger.versionSeen(v, n, ver));
    return { service, ledger };
  };
  const a = make();
  const b = make();
  await a.service.read({ vaultUrl: VAULT, name: 'db-password' });
  await b.service.read({ vaultUrl: VAULT, name: 'db-password' });
  await b.ledger.poll();
  version = '2'.repeat(32);
  a.ledger.rotationEvent(VAULT, 'db-password', version);
  await a.ledger.settled();
  ms += 7_000;
  await b.ledger.poll();
  store.down = true;
  await b.ledger.poll();

  const { resourceMetrics } = await reader.collect();
  const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const points = (name: string) =>
    all.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as Array<DataPoint<unknown>>);
  const outcomes = (name: string) =>
    points(name)
      .map((p) => p.attributes['ledger.outcome'])
      .sort();
  assert.deepEqual(outcomes('ledger.polls'), ['absent', 'changed', 'failed:unreachable']);
  assert.deepEqual(outcomes('ledger.writes'), ['written']);
  const lag = points('ledger.lag');
  assert.equal(lag.length, 1);
  assert.equal((lag[0]!.value as { count: number; sum: number }).count, 1);
  assert.equal((lag[0]!.value as { sum: number }).sum, 7, 'seconds from the event to the other instance acting');
  const exported = JSON.stringify(all.map((m) => m.dataPoints));
  assert.doesNotMatch(exported, new RegExp(CANARY), 'never a value');
  const ledgerPoints = JSON.stringify(
    all.filter((m) => m.descriptor.name.startsWith('ledger.')).map((m) => m.dataPoints),
  );
  assert.doesNotMatch(ledgerPoints, /db-password|tele-ledger/, 'no secret name or host on ledger metrics');
});
