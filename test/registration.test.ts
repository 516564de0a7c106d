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
