/**
 * The deployment package, written to dist-bundle/ (run by `npm run build`, which azd runs to build and to package;
 * also `npm run build:bundle` and `npm run bench`). `npm start`, `npm test` and `npm run secrets` do not need it
 * (scripts/compile.mjs): test/package.test.ts runs `npm run build` itself, in a copy of the project.
 *
 * dist-bundle/ holds exactly what azure.yaml deploys (`dist: dist-bundle`, `remoteBuild: false`):
 *   host.json     copied from the project root
 *   package.json  name, version, "type": "module", "main": "index.js"; no dependencies, so nothing is installed anywhere
 *   index.js      the esbuild bundle of an entry generated from the folder, as package.json `main`
 *                 (`dist/src/{index.js,functions/*.js}`) names it for the unbundled app: src/index.ts (the start-up
 *                 hook) and every src/functions/*.ts, plus the chunks code splitting creates (the Key Vault runtime
 *                 and SDK stay in their own chunks, loaded on the first Key Vault call). A new function file is in the
 *                 bundle by being in the folder.
 * No node_modules, no source maps, no tests, no local.settings.json. Only `@azure/functions-core` stays external: the
 * Functions Node.js worker provides it at run time.
 *
 * Outside the package: dist/bundle-maps/ (source maps, with sources inlined, for reading production stack traces) and
 * dist/bundle-meta.json (esbuild's metafile: which inputs went into which output; test/package.test.ts reads it).
 */
import { build } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'dist-bundle');
const maps = join(root, 'dist', 'bundle-maps');
for (const dir of [out, maps]) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

/** The bundle's entry: what package.json `main` loads unbundled, src/index.ts and each src/functions/*.ts. */
function entrySource(srcDir = join(root, 'src')) {
  const functions = readdirSync(join(srcDir, 'functions'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .sort();
  return ["import './index.ts';", ...functions.map((file) => `import './functions/${file}';`)].join('\n');
}

/** esbuild resolves the entry `app-entry` to {@link entrySource}, read from src/ when the build starts. */
const appEntry = {
  name: 'app-entry',
  setup(b) {
    b.onResolve({ filter: /^app-entry$/ }, () => ({ path: 'app-entry', namespace: 'app-entry' }));
    b.onLoad({ filter: /.*/, namespace: 'app-entry' }, () => ({
      contents: entrySource(),
      resolveDir: join(root, 'src'),
      loader: 'ts',
    }));
  },
};

const result = await build({
  absWorkingDir: root, // metafile paths are relative to the project root
  entryPoints: [{ in: 'app-entry', out: 'index' }],
  plugins: [appEntry],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22', // the Flex Consumption runtime (infra/main.bicep nodeVersion)
  minify: true,
  // 'external': maps without a sourceMappingURL comment in the code; they are written to dist/bundle-maps/ below.
  sourcemap: 'external',
  metafile: true,
  write: false,
  // Provided by the Functions host's Node.js worker at run time.
  // `supports-color` is an optional require of `debug` (inside try/catch), which the telemetry distro's dependencies
  // use; it is installed here only as a development tool's dependency. Left out, `debug` runs without colours.
  external: ['@azure/functions-core', 'supports-color'],
  // CommonJS dependencies (e.g. @azure/functions) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

for (const file of result.outputFiles) {
  const target = file.path.endsWith('.map') ? join(maps, basename(file.path)) : file.path;
  writeFileSync(target, file.contents);
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const deployedPackageJson = { name: pkg.name, version: pkg.version, private: true, type: 'module', main: 'index.js' };
writeFileSync(join(out, 'package.json'), `${JSON.stringify(deployedPackageJson, null, 2)}\n`);
cpSync(join(root, 'host.json'), join(out, 'host.json'));
writeFileSync(join(root, 'dist', 'bundle-meta.json'), JSON.stringify(result.metafile));

// One line (the package test lists every file with its size); none under `npm run --silent ...`.
const js = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
const total = js.reduce((sum, [, o]) => sum + o.bytes, 0);
const entry = result.metafile.outputs[relative(root, join(out, 'index.js')).split('\\').join('/')];
if (process.env.npm_config_loglevel !== 'silent') {
  console.log(
    `deployment package written to dist-bundle/ (azure.yaml deploys it as it is): ${js.length} JavaScript files, ` +
      `${kib(total)}; index.js ${entry ? kib(entry.bytes) : '?'}`,
  );
}
