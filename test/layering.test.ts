/**
 * The arrows between the rooms of src/ point one way: functions -> http, diagnostics, events -> ledger -> keyVault ->
 * config (the diagnostics read the ledger's status too). The Key Vault module and the diagnostics know nothing of HTTP
 * or of the functions host, and the rest of src/ reaches the Key Vault module and the ledger only through their
 * public faces (index.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../packages/functions-keyvault/src/', import.meta.url));
const TEMPLATE_SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Every module specifier a file imports (static `from '…'`, bare `import '…'` and dynamic `import('…')`). */
function imports(file: string): string[] {
  // Comments out: a file's header may show an import as an example.
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'([^']+)'/g)].map((m) => m[1]!);
}

// The diagnostics may read the ledger (through its public face, the next test); the Key Vault module may not: the
// ledger is built on it.
for (const [room, forbidden] of [
  ['keyVault', /^@azure\/functions$|^\.\.\/(?:http|functions|events|ledger)\//],
  ['diagnostics', /^@azure\/functions$|^\.\.\/(?:http|functions|events)\//],
] as const) {
  test(`src/${room}/ imports nothing of HTTP, the functions host or the functions${room === 'keyVault' ? ', nor the ledger' : ''}`, () => {
    const files = sources(join(SRC, room));
    assert.ok(files.length >= 1);
    for (const file of files) {
      for (const spec of imports(file)) {
        assert.doesNotMatch(spec, forbidden, `${relative(SRC, file)} imports ${spec}`);
      }
    }
  });
}

// Modules with a public face (an index.ts): the rest of src/ imports that face and nothing else of them.
for (const room of ['keyVault', 'ledger']) {
  test(`outside src/${room}/, src/ reaches that module only through its public face (index.ts)`, () => {
    // The package's entry files gather its rooms' faces and testing modules.
    const entries = new Set(['index.ts', 'handlers.ts', 'testing.ts']);
    const outside = sources(SRC).filter(
      (file) => !relative(SRC, file).startsWith(`${room}/`) && !entries.has(relative(SRC, file)),
    );
    const into = new RegExp(`(?:^|/)${room}/`);
    let reached = 0;
    for (const file of outside) {
      for (const spec of imports(file).filter((s) => into.test(s))) {
        reached += 1;
        assert.match(spec, new RegExp(`/${room}/index\\.js$`), `${relative(SRC, file)} imports ${spec}`);
      }
    }
    assert.ok(reached >= 2, `expected src/ to use the ${room} module`);
  });
}

test('the testing entries (src/keyVault/testing.ts, src/http/testing.ts) are imported by no app module', () => {
  const files = sources(SRC);
  assert.ok(files.some((f) => f.endsWith(join('keyVault', 'testing.ts'))));
  assert.ok(files.some((f) => f.endsWith(join('http', 'testing.ts'))));
  // The package's own testing entry (functions-keyvault/testing) is the one module that gathers them.
  for (const file of files.filter((f) => relative(SRC, f) !== 'testing.ts')) {
    for (const spec of imports(file)) {
      assert.doesNotMatch(
        spec,
        /(?:^|\/)testing\.js$/,
        `${relative(SRC, file)} imports ${spec}: test doubles would ship`,
      );
    }
  }
});

test('the template (src/) reaches the package by its name and public entries only: no path into packages/, no internals', () => {
  let byName = 0;
  for (const file of sources(TEMPLATE_SRC)) {
    for (const spec of imports(file)) {
      assert.doesNotMatch(
        spec,
        /(^|\/)packages\//,
        `${relative(TEMPLATE_SRC, file)} imports ${spec}: use 'functions-keyvault'`,
      );
      assert.doesNotMatch(
        spec,
        /^functions-keyvault\/(?!handlers$)/,
        `${relative(TEMPLATE_SRC, file)} imports ${spec}: the app ships '.' and './handlers' only (the testing entry is for tests)`,
      );
      if (/^functions-keyvault(\/|$)/.test(spec)) byName += 1;
    }
  }
  assert.ok(byName >= 5, `the template imports the package (${byName} imports)`);
});

test("the package's main entry (functions-keyvault) reaches no @azure/functions and nothing of HTTP, however deep", () => {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of imports(file)) {
      assert.doesNotMatch(spec, /^@azure\/functions$/, `${relative(SRC, file)} imports ${spec}`);
      if (!spec.startsWith('.')) continue;
      const target = join(file, '..', spec.replace(/\.js$/, '.ts'));
      assert.doesNotMatch(relative(SRC, target), /^(?:http|handlers)\//, `${relative(SRC, file)} imports ${spec}`);
      visit(target);
    }
  };
  visit(join(SRC, 'index.ts'));
  assert.ok(seen.size >= 20, `the main entry's graph (${seen.size} modules)`);
});
