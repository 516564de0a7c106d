/**
 * `npm run compile`: TypeScript → dist/, only what changed. What `npm start`, `npm test` and `npm run secrets` run
 * first (and `npm run build`, which adds the deployment bundle). With nothing changed it takes well under a second.
 *
 * tsc's build mode (`tsc -b`) with `incremental` (tsconfig.json; the build info is dist/tsconfig.tsbuildinfo): it
 * compares the sources with the build info and rechecks and re-emits only what a change affects. Two things tsc does
 * not do, done here before it runs:
 *   - outputs whose source is gone (a deleted or renamed .ts) are deleted: tsc never removes outputs, and a stale
 *     dist/test/x.test.js would still be run by `npm test`;
 *   - when an output of an existing source is missing (someone deleted part of dist/), the build info is deleted so
 *     tsc compiles everything again: its up-to-date check looks at the sources and the build info only.
 * Deleting dist/ always gives a full build. Plain JavaScript, no dependencies: it runs before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';

// The project directory: where `npm run` starts scripts (a test points it at a small project of its own).
const root = process.cwd();
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
const { outDir, rootDir, tsBuildInfoFile } = tsconfig.compilerOptions;
const dist = resolve(root, outDir);
const sourceRoot = resolve(root, rootDir);
// tsconfig.json "include" is one `<dir>/**/*.ts` per top-level folder (src, test, scripts).
const sourceDirs = tsconfig.include.map((/** @type {string} */ pattern) => pattern.split('/')[0]);

/** Every file under `dir` (relative to `base`), or none when `dir` does not exist. */
function files(dir, base = dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path, base) : [relative(base, path)];
  });
}

/** The .ts a compiled file came from (`x.js`, `x.js.map`, `x.d.ts` → `x.ts`), or undefined for anything else. */
function sourceOf(output) {
  const match = /^(.*)\.(js|js\.map|d\.ts)$/.exec(output);
  return match ? `${match[1]}.ts` : undefined;
}

let stale = 0;
let missing = 0;
for (const dir of sourceDirs) {
  const out = join(dist, dir);
  const outputs = new Set(files(out));
  for (const output of outputs) {
    const source = sourceOf(output);
    if (source !== undefined && !existsSync(join(sourceRoot, dir, source))) {
      rmSync(join(out, output));
      stale += 1;
    }
  }
  for (const source of files(join(sourceRoot, dir))) {
    if (source.endsWith('.ts') && !/\.d\.[cm]?ts$/.test(source) && !outputs.has(source.replace(/\.ts$/, '.js'))) {
      missing += 1;
    }
  }
}
if (stale > 0) console.error(`compile: removed ${stale} output file(s) of deleted sources from ${outDir}/`);
if (missing > 0) rmSync(resolve(root, tsBuildInfoFile), { force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.json')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
