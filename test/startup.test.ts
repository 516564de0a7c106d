import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config.js';
import { configureKeyVault } from '../src/keyVault/index.js';
import { prefetchSecrets } from '../src/startup.js';
import { FakeVault, restError } from './support/fakeFetch.js';

test('SECRET_PREFETCH warms the cache; bad names and failures only log, never reject', async () => {
  const vault = new FakeVault();
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

  vault.failWith = restError(503, 'down');
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
