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

/**
 * The projects `tsc -b` builds: tsconfig.json and the projects it references (the package in packages/), each with
 * its source folders (tsconfig "include" is one `<dir>/**' + '/*.ts` per top-level folder), the folder each one's outputs
 * go to (outDir, mirrored from rootDir) and its build info.
 */
function projects(dir, seen = new Set()) {
  if (seen.has(dir)) return [];
  seen.add(dir);
  const config = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
  const { outDir, rootDir, tsBuildInfoFile } = config.compilerOptions;
  const folders = config.include.map((/** @type {string} */ pattern) => join(dir, pattern.split('/')[0]));
  const own = {
    buildInfo: resolve(dir, tsBuildInfoFile),
    folders: folders.map((source) => ({
      source,
      out: join(resolve(dir, outDir), relative(resolve(dir, rootDir), source)),
    })),
  };
  const referenced = (config.references ?? []).flatMap((/** @type {{ path: string }} */ r) =>
    projects(resolve(dir, r.path), seen),
  );
  return [...referenced, own];
}

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
for (const project of projects(root)) {
  let missing = 0;
  for (const { source: sourceDir, out } of project.folders) {
    const outputs = new Set(files(out));
    for (const output of outputs) {
      const source = sourceOf(output);
      if (source !== undefined && !existsSync(join(sourceDir, source))) {
        rmSync(join(out, output));
        stale += 1;
      }
    }
    for (const source of files(sourceDir)) {
      if (source.endsWith('.ts') && !/\.d\.[cm]?ts$/.test(source) && !outputs.has(source.replace(/\.ts$/, '.js'))) {
        missing += 1;
      }
    }
  }
  if (missing > 0) rmSync(project.buildInfo, { force: true });
}
if (stale > 0) console.error(`compile: removed ${stale} output file(s) of deleted sources`);

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.json')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
