/**
 * A function is registered by being a file under src/functions/: package.json `main` is the glob
 * `dist/src/{index.js,functions/*.js}` (the form Microsoft's Node.js v4 reference gives for "each function in its own
 * file, plus a root file for app-level code"), the worker loads every match, and the deployment bundle's entry is
 * generated from the same folder (scripts/bundle.mjs; test/package.test.ts loads it). Each file registers exactly
 * one function named after itself; src/index.ts carries the start-up hook and imports no function.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { entryFiles, expandMain, packageMain } from './support/entryFiles.js';
import { ROOT } from './support/projectRoot.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const functionSources = () => readdirSync(`${SRC}functions`).filter((f) => f.endsWith('.ts'));

test('expandMain expands one brace group and a * file name (guards the check below)', () => {
  const main = 'dist/src/{index.js,functions/*.js}';
  const found = expandMain(main, ROOT).map((f) =>
    f
      .slice(ROOT.length + 1)
      .split('\\')
      .join('/'),
  );
  assert.ok(found.includes('dist/src/index.js'));
  assert.ok(found.includes('dist/src/functions/ping.js'));
  assert.ok(
    found.every((f) => /^dist\/src\/(index|functions\/[^/]+)\.js$/.test(f)),
    found.join(', '),
  );
  assert.deepEqual(expandMain('dist/src/nope/*.js', ROOT), []);
});

test('package.json main loads the start-up hook and every file in src/functions/, so a new file is registered', () => {
  assert.equal(packageMain(), 'dist/src/{index.js,functions/*.js}');
  const loaded = entryFiles().map((f) => basename(f, '.js'));
  const expected = ['index', ...functionSources().map((f) => f.replace(/\.ts$/, ''))];
  assert.deepEqual([...loaded].sort(), [...expected].sort(), 'what main loads = src/index.ts + src/functions/*.ts');
  const index = readFileSync(join(SRC, 'index.ts'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  assert.deepEqual(
    [...index.matchAll(/import\s+'([^']+)'/g)].map((m) => m[1]),
    ['./startup.js'],
  );
});

test('each file in src/functions/ registers exactly one function, named after the file', () => {
  const files = functionSources();
  assert.ok(files.length >= 3);
  for (const file of files) {
    const name = file.replace(/\.ts$/, '');
    const source = readFileSync(`${SRC}functions/${file}`, 'utf8');
    const registrations = [...source.matchAll(/app\.(?:http|timer|eventGrid|generic)\('([^']+)'/g)].map((m) => m[1]);
    assert.deepEqual(registrations, [name], `${file} must register exactly one function, named "${name}"`);
  }
});

/**
 * Triggers pushed to the host over HTTP need no host storage: HTTP, and Event Grid (which posts to
 * /runtime/webhooks/eventgrid). Timer, queue, blob and Durable triggers keep state in AzureWebJobsStorage.
 */
const PUSH_TRIGGERS = new Set(['http', 'eventGrid']);

test('every function is HTTP-pushed (http, eventGrid): the local profiles can leave AzureWebJobsStorage empty', () => {
  const files = functionSources();
  const triggers = files.flatMap((file) =>
    [...readFileSync(`${SRC}functions/${file}`, 'utf8').matchAll(/\bapp\.(\w+)\('/g)].map((m) => ({
      file,
      trigger: m[1]!,
    })),
  );
  assert.ok(triggers.some((t) => t.trigger === 'eventGrid'));
  for (const { file, trigger } of triggers) {
    assert.ok(
      PUSH_TRIGGERS.has(trigger),
      `${file} registers a ${trigger} trigger, which needs host storage: set AzureWebJobsStorage in both local ` +
        'profiles (e.g. UseDevelopmentStorage=true with Azurite) and correct docs/configuration.md',
    );
  }
  for (const example of ['local.settings.json.example', 'local.settings.azure.json.example']) {
    const values = (JSON.parse(readFileSync(join(ROOT, example), 'utf8')) as { Values: Record<string, string> }).Values;
    assert.equal(values.AzureWebJobsStorage, '', `${example}: empty AzureWebJobsStorage, as documented`);
  }
});
