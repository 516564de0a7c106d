/**
 * What `npm ci` says, kept true: every dependency with an install script has a decision in package.json
 * `allowScripts` (npm 11.16+ lists undecided ones after every install; npm 12 skips their scripts), and the packages
 * npm warns about on Node 20 (EBADENGINE) are the ones docs/troubleshooting.md names.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './support/projectRoot.js';

interface LockEntry {
  name?: string;
  version?: string;
  hasInstallScript?: boolean;
  engines?: { node?: string };
}
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockEntry>;
};
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  allowScripts?: Record<string, boolean>;
  engines?: { node?: string };
};
/** The package name of a package-lock.json "packages" key (`node_modules/@scope/x/node_modules/y` → `y`). */
const nameOf = (key: string) => key.replace(/^.*node_modules\//, '');
const troubleshooting = readFileSync(join(ROOT, 'docs', 'troubleshooting.md'), 'utf8');

test('every dependency with an install script has an allowScripts decision, and no decision is stale', () => {
  const withScripts = Object.entries(lock.packages)
    .filter(([key, entry]) => key !== '' && entry.hasInstallScript)
    .map(([key]) => nameOf(key));
  assert.ok(withScripts.length > 0, 'package-lock.json marks install scripts (hasInstallScript)');
  const decided = Object.keys(pkg.allowScripts ?? {});
  assert.deepEqual([...new Set(withScripts)].sort(), [...decided].sort());
  for (const name of decided) {
    assert.match(
      troubleshooting,
      new RegExp(`\`${name}\``),
      `docs/troubleshooting.md says why ${name} is allowed or not`,
    );
  }
});

test('the EBADENGINE warnings on Node 20 are the ones docs/troubleshooting.md shows', () => {
  // `>=N` floors above 20: the form the packages that exclude Node 20 use in this lock file.
  const floor = (range: string | undefined) => Number(/^>=\s*(\d+)/.exec(range ?? '')?.[1] ?? 0);
  const above20 = Object.entries(lock.packages)
    .filter(([, entry]) => floor(entry.engines?.node) > 20)
    .map(([key, entry]) => `${key === '' ? pkg.name : nameOf(key)}@${entry.version ?? ''}`);
  assert.ok(above20.includes(`${pkg.name}@1.0.0`), 'this package: engines >=22, the runtime Azure runs');
  assert.equal(pkg.engines?.node, '>=22');
  for (const id of above20) {
    assert.ok(
      troubleshooting.includes(`npm warn EBADENGINE   package: '${id}',`),
      `docs/troubleshooting.md shows ${id}`,
    );
  }
  const shownIds = [...troubleshooting.matchAll(/npm warn EBADENGINE {3}package: '([^']+)'/g)].map((m) => m[1]);
  assert.deepEqual(shownIds.sort(), [...above20].sort(), 'and no package npm does not warn about');
  const blocks = troubleshooting.match(/npm warn EBADENGINE Unsupported engine \{/g)?.length ?? 0;
  assert.equal(blocks, above20.length, 'one block per package, as npm prints them');
});
