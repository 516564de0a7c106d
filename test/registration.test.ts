/**
 * Every HTTP function file is registered: src/index.ts (the package's `main`, which the bundle follows) imports
 * each file under src/functions/, and each file registers exactly one function named after itself.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

test('each file in src/functions/ is imported by the entry and registers the function it is named after', () => {
  const files = readdirSync(`${SRC}functions`).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 3);
  const entry = readFileSync(`${SRC}index.ts`, 'utf8');
  for (const file of files) {
    const name = file.replace(/\.ts$/, '');
    assert.match(entry, new RegExp(`import '\\./functions/${name}\\.js';`), `src/index.ts does not import ${file}`);
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
  const files = readdirSync(`${SRC}functions`).filter((f) => f.endsWith('.ts'));
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
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  for (const example of ['local.settings.json.example', 'local.settings.azure.json.example']) {
    const values = (JSON.parse(readFileSync(`${ROOT}${example}`, 'utf8')) as { Values: Record<string, string> }).Values;
    assert.equal(values.AzureWebJobsStorage, '', `${example}: empty AzureWebJobsStorage, as documented`);
  }
});
