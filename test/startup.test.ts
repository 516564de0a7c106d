import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { configureKeyVault } from 'functions-keyvault/internal/keyVault/index.js';
import { prefetchSecrets } from 'functions-keyvault/internal/handlers/appStart.js';
import { startKeyVault } from 'functions-keyvault/handlers';
import { InMemoryVault, keyVaultError } from 'functions-keyvault/testing';

test('SECRET_PREFETCH warms the cache; bad names and failures only log, never reject', async () => {
  const vault = new InMemoryVault();
  vault.set('warm-a', 'a');
  vault.set('warm-b', 'b');
  const service = configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: 'https://p.vault.azure.net/',
      SECRET_PREFETCH: 'warm-a, warm-b, bad_name, absent',
    }),
    fetchSecret: vault.fetch,
  });
  const logged: string[] = [];
  assert.equal(await prefetchSecrets((m) => logged.push(m)), 2);
  assert.equal(logged.length, 2);
  assert.match(logged.join('\n'), /"bad_name" is not a valid secret name/);
  assert.match(logged.join('\n'), /could not prefetch "absent"/);
  const read = await service.read({ vaultUrl: 'https://p.vault.azure.net/', name: 'warm-a' });
  assert.equal(read.cache, 'hit');

  vault.failWith = keyVaultError(503, 'down');
  configureKeyVault({
    config: parseConfig({ KEY_VAULT_URL: 'https://p.vault.azure.net/', SECRET_PREFETCH: 'warm-a' }),
    fetchSecret: vault.fetch,
  });
  assert.equal(await prefetchSecrets(() => undefined), 0);
});

test('no prefetch without a vault or a list', async () => {
  configureKeyVault({ config: parseConfig({ SECRET_PREFETCH: 'x' }) });
  assert.equal(await prefetchSecrets(), 0);
  configureKeyVault({ config: parseConfig({ KEY_VAULT_URL: 'https://p.vault.azure.net/' }) });
  assert.equal(await prefetchSecrets(), 0);
});

test('telemetry export starts only when APPLICATIONINSIGHTS_CONNECTION_STRING is set', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath, pathToFileURL } = await import('node:url');
  const startup = pathToFileURL(fileURLToPath(new URL('../src/startup.js', import.meta.url))).href;
  const script = `
    const { startTelemetry } = await import(${JSON.stringify(startup)});
    const { metrics } = await import('@opentelemetry/api');
    const started = await startTelemetry((m) => console.error(m));
    const provider = metrics.getMeterProvider().constructor.name;
    process.stdout.write(JSON.stringify({ started, provider }));
    process.exit(0);`;
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { started: boolean; provider: string };
  };
  const off = run({ APPLICATIONINSIGHTS_CONNECTION_STRING: '' });
  assert.deepEqual(off, { started: false, provider: 'NoopMeterProvider' });
  // Ingestion on loopback: nothing is exported within this short run anyway, and nothing may leave the machine.
  const on = run({
    APPLICATIONINSIGHTS_CONNECTION_STRING:
      'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
  });
  assert.equal(on.started, true);
  assert.notEqual(on.provider, 'NoopMeterProvider');
});

test("startKeyVault: problems logged at once; the ledger and the prefetch after the app's own start-up work", async () => {
  const vault = new InMemoryVault();
  vault.set('warm-a', 'a');
  configureKeyVault({
    config: parseConfig({
      KEY_VAULT_URL: 'https://p.vault.azure.net/',
      SECRET_PREFETCH: 'warm-a',
      KEY_VAULT_TIMEOUT_MS: 'soon',
    }),
    fetchSecret: vault.fetch,
  });
  const logged: string[] = [];
  let release!: () => void;
  const after = new Promise<void>((resolve) => (release = resolve));
  const started = startKeyVault({ after, log: (m) => logged.push(m) });
  assert.match(logged.join('\n'), /^Configuration: .*KEY_VAULT_TIMEOUT_MS/m, 'problems are logged synchronously');
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(vault.calls, 0, "the prefetch waits for the app's own start-up work");
  release();
  assert.deepEqual(await started, { ledger: false, prefetched: 1 }, 'no ledger without ROTATION_LEDGER_URL');
  assert.equal(vault.calls, 1);
  assert.equal(logged.length, 1, 'one line per problem, nothing else');
});
