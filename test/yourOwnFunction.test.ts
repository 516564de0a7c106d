/**
 * docs/your-own-function.md, run as written: its `orders` function (the same code README shows) and its test are
 * added to a copy of the project, which must type-check and pass; `package.json` `main` and the bundle's entry pick
 * the new file up with nothing else edited; the infra drift test fails naming the Bicep line the page shows, and
 * passes once that line is in. The page also says what a user must do in the deployed vault (create the secrets the
 * function reads), with the value on stdin.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { after, before, test } from 'node:test';
import { missingFromBicep } from './support/declaredSettings.js';
import { linkNodeModules } from './support/projectCopy.js';
import { ROOT } from './support/projectRoot.js';

/** The fenced code blocks of a markdown text, with the fence's indentation removed (blocks inside list items). */
export function codeBlocks(markdown: string): { lang: string; code: string }[] {
  const blocks: { lang: string; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    for (i++; i < lines.length && !/^ *```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.slice(indent));
    blocks.push({ lang: open[2]!, code: `${body.join('\n')}\n` });
  }
  return blocks;
}

/** The one block whose first line starts with `first`. */
function block(markdown: string, first: string): string {
  const found = codeBlocks(markdown).filter((b) => b.code.startsWith(first));
  assert.equal(found.length, 1, `exactly one code block starts with ${first}`);
  return found[0]!.code;
}

const page = readFileSync(join(ROOT, 'docs', 'your-own-function.md'), 'utf8');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const ordersSource = block(page, '// src/functions/orders.ts');
const ordersTest = block(page, '// test/orders.test.ts');
const bicepLine = block(page, '// infra/main.bicep')
  .split('\n')
  .find((l) => l.trim().startsWith('ORDERS_DB_URL:'));

test('codeBlocks reads fenced blocks, also indented ones in list items (guards the checks below)', () => {
  const blocks = codeBlocks('text\n```ts\na\n```\n1. item\n\n   ```bicep\n   b: 1\n     c\n   ```\n');
  assert.deepEqual(blocks, [
    { lang: 'ts', code: 'a\n' },
    { lang: 'bicep', code: 'b: 1\n  c\n' },
  ]);
});

test("README's orders function is the page's, character for character", () => {
  assert.equal(block(readme, '// src/functions/orders.ts'), ordersSource);
  assert.doesNotMatch(readme, /import '\.\/functions\//, 'README asks for no import in src/index.ts');
});

test('the page says to create the secrets the function reads in the deployed vault, the value on stdin', () => {
  const deploy = page.slice(page.indexOf('## Deploy it'));
  assert.match(deploy, /azd up` creates only `demo-secret`/);
  assert.match(deploy, /printf '%s' "\$ORDERS_API_KEY" \| npm run secrets -- set orders-api-key --stdin/);
  // docs/deployment.md's rotation commands are another change's.
  const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'deployment.md');
  assert.ok(docs.length >= 10);
  for (const file of ['README.md', ...docs.map((f) => `docs/${f}`)]) {
    for (const { code } of codeBlocks(readFileSync(join(ROOT, file), 'utf8'))) {
      assert.doesNotMatch(code, /--value\b/, `${file}: a secret value on the command line (use --stdin)`);
    }
  }
});

test('the drift message the page shows is the one the drift test prints', () => {
  const shown = codeBlocks(page)
    .filter((b) => b.lang === 'text')
    .map((b) =>
      b.code
        .replace(/\s+/g, ' ')
        .trim()
        .replace(/ \.\.\.$/, ''),
    );
  const printed = missingFromBicep(
    { name: 'ORDERS_DB_URL', meaning: 'the orders database URL, or a Key Vault reference to it', required: true },
    'src/functions/orders.ts',
  );
  assert.ok(shown.length === 1 && printed.startsWith(shown[0]!), `${shown[0]}\n!=\n${printed}`);
});

// ---------------------------------------------------------------------------------------------
// The page's two files in a copy of the project
// ---------------------------------------------------------------------------------------------

const NOT_COPIED = new Set(['node_modules', '.git', 'dist', 'dist-bundle', '.emulators', '.lowkey', '.azure']);
let work: string;
let project: string;
/** Loopback-only identity endpoints, as scripts/run-tests.mjs sets them. */
const childEnv: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
  IDENTITY_ENDPOINT: 'http://127.0.0.1:9/metadata/identity/oauth2/token',
  IDENTITY_HEADER: 'unit-tests',
  IMDS_ENDPOINT: 'http://127.0.0.1:9',
  AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9',
};
const run = (args: string[]) =>
  spawnSync(process.execPath, args, { cwd: project, env: childEnv, encoding: 'utf8', timeout: 300_000 });

before(() => {
  work = mkdtempSync(join(tmpdir(), 'kv-own-function-'));
  project = join(work, 'project');
  cpSync(ROOT, project, { recursive: true, filter: (src) => !NOT_COPIED.has(relative(ROOT, src).split(sep)[0]!) });
  linkNodeModules(ROOT, project);
  writeFileSync(join(project, 'src', 'functions', 'orders.ts'), ordersSource);
  writeFileSync(join(project, 'test', 'orders.test.ts'), ordersTest);
  // Only what this test runs, type-checked as strictly as the project (tsconfig.json's options).
  writeFileSync(
    join(project, 'tsconfig.example.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { tsBuildInfoFile: 'dist/example.tsbuildinfo' },
      include: [],
      files: ['src/index.ts', 'test/orders.test.ts', 'test/registration.test.ts', 'test/infra.test.ts'].concat(
        ['configCheck', 'getSecret', 'orders', 'ping', 'secretEvents'].map((f) => `src/functions/${f}.ts`),
      ),
    }),
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const compiled = run([tsc, '-p', 'tsconfig.example.json']);
  assert.equal(compiled.status, 0, `the page's code does not type-check as written:\n${compiled.stdout}`);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the page's test passes against the page's function, and the folder registers it", () => {
  const r = run(['--test', '--test-reporter=tap', 'dist/test/orders.test.js', 'dist/test/registration.test.js']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^# fail 0$/m);
  assert.match(r.stdout, /ok \d+ - orders: 200 when its secrets are there/);
});

test("the bundle's entry, generated from the folder, contains the new function", () => {
  const r = spawnSync(process.execPath, ['scripts/bundle.mjs'], { cwd: project, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const meta = JSON.parse(readFileSync(join(project, 'dist', 'bundle-meta.json'), 'utf8')) as {
    inputs: Record<string, unknown>;
  };
  assert.ok(Object.keys(meta.inputs).includes('src/functions/orders.ts'));
});

test('the infra drift test names the Bicep line to add, and passes with the line the page shows', () => {
  const before = run(['--test', '--test-reporter=tap', 'dist/test/infra.test.js']);
  assert.notEqual(before.status, 0, 'a required setting that Bicep does not set fails the drift test');
  assert.match(before.stdout, /^# fail 1$/m, before.stdout.slice(-3000));
  assert.ok(
    before.stdout.replace(/\s+/g, ' ').includes('add the line `ORDERS_DB_URL: <value>` to the `appSettings` object'),
  );
  assert.ok(bicepLine, 'the page shows the Bicep line');
  const main = join(project, 'infra', 'main.bicep');
  const bicep = readFileSync(main, 'utf8');
  const at = bicep.indexOf('\n', bicep.indexOf('appSettings: {', bicep.indexOf("module apiSettings '")));
  writeFileSync(main, `${bicep.slice(0, at + 1)}${bicepLine}\n${bicep.slice(at + 1)}`);
  const afterLine = run(['--test', '--test-reporter=tap', 'dist/test/infra.test.js']);
  assert.equal(afterLine.status, 0, afterLine.stdout.slice(-3000));
});
