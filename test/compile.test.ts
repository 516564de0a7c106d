/**
 * scripts/compile.mjs (`npm run compile`, run first by `npm start`, `npm test` and `npm run secrets`): incremental,
 * a deleted source leaves no output behind, a type error fails. Run in a two-file project of its own (a temp dir), so it takes a few
 * seconds and never touches this project's dist/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './support/projectRoot.js';

const COMPILE = join(ROOT, 'scripts', 'compile.mjs');

test('compile: builds, then only what changed; outputs of deleted sources go; a missing output is rebuilt; type errors fail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kv-compile-'));
  try {
    // The same shape as the project's tsconfig.json: rootDir ".", outDir dist, build info inside dist/.
    const project = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: Record<string, unknown>;
    };
    assert.equal(project.compilerOptions.incremental, true, 'the project compiles incrementally');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          // The smallest standard library and no @types: each tsc run here stays well under a second.
          ...{ target: 'ES2022', lib: ['ES5'], types: [], module: 'NodeNext', moduleResolution: 'NodeNext' },
          ...{ strict: true, rootDir: '.', outDir: 'dist', sourceMap: true, incremental: true },
          tsBuildInfoFile: 'dist/tsconfig.tsbuildinfo',
        },
        include: ['src/**/*.ts', 'test/**/*.ts'],
      }),
    );
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'test'));
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = 1;\n');
    writeFileSync(join(dir, 'test', 'gone.test.ts'), "import { a } from '../src/a.js';\nexport const b = a + 1;\n");
    const compile = () => {
      const r = spawnSync(process.execPath, [COMPILE], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      return r;
    };
    const out = (path: string) => join(dir, 'dist', path);

    compile();
    for (const file of ['src/a.js', 'src/a.js.map', 'test/gone.test.js', 'tsconfig.tsbuildinfo'])
      assert.ok(existsSync(out(file)), `${file} built`);

    // Nothing changed: nothing is written.
    const built = statSync(out('src/a.js')).mtimeMs;
    const info = statSync(out('tsconfig.tsbuildinfo')).mtimeMs;
    compile();
    assert.equal(statSync(out('src/a.js')).mtimeMs, built);
    assert.equal(statSync(out('tsconfig.tsbuildinfo')).mtimeMs, info);

    // A deleted test leaves no compiled test behind (npm test would run it).
    rmSync(join(dir, 'test', 'gone.test.ts'));
    const pruned = compile();
    assert.ok(!existsSync(out('test/gone.test.js')), 'the output of a deleted source is removed');
    assert.ok(!existsSync(out('test/gone.test.js.map')));
    assert.match(pruned.stderr, /removed 2 output file\(s\) of deleted sources/);
    assert.ok(existsSync(out('src/a.js')));

    // Part of dist/ deleted by hand: tsc alone would call the project up to date.
    rmSync(out('src/a.js'));
    compile();
    assert.ok(existsSync(out('src/a.js')), 'a missing output is compiled again');

    // A changed source is compiled again.
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = 2;\n');
    compile();
    assert.match(readFileSync(out('src/a.js'), 'utf8'), /a = 2/);

    // A type error fails the command (npm start / npm test stop there).
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = "two";\n');
    const failed = spawnSync(process.execPath, [COMPILE], { cwd: dir, encoding: 'utf8' });
    assert.notEqual(failed.status, 0);
    assert.match(failed.stdout, /TS2322/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
