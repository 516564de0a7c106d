/**
 * The package proven from outside (`npm run test:consumers`, run by .ci/run): packs packages/functions-keyvault as
 * `npm pack` does for a release, then, in a temporary folder for each app under examples/ (they share no code with
 * the template):
 *   1. points the app's functions-keyvault dependency at the tarball and installs it as a user's `npm install` would,
 *      from npm's cache where it can (`--prefer-offline`: after the root `npm ci` that is everything on the Node that
 *      ran it; on another Node, npm may pick newer dependency versions whose engines fit, e.g. @azure/identity 4.13.3
 *      on Node 22, and fetches those from the registry). No lock file: a lock would pin the tarball's integrity, and a
 *      re-pack of the same version would then fail EINTEGRITY or install the previous content from the cache;
 *   2. runs the app's own `npm test` (tsc with the app's tsconfig, then node --test), which fails on any failed test;
 * then an empty folder with only the tarball installed require()s and import()s every public entry (the same
 * instance both ways), and last it prints the bundle size of a consumer that only reads secrets (built as
 * scripts/bundle.mjs builds the template's deployment bundle), with the share that loads at cold start.
 * Not part of `npm test`: tests talk to loopback only, and npm may contact the registry. Exits 1 on any failure.
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const pkgDir = join(root, 'packages', 'functions-keyvault');
const EXAMPLES = ['existing-app', 'esm-app'];
const NOT_COPIED = new Set(['node_modules', 'dist']);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    process.stdout.write(result.stdout ?? '');
    process.stderr.write(result.stderr ?? '');
    throw new Error(`${command} ${args.join(' ')} failed in ${relative(root, cwd) || cwd} (exit ${result.status})`);
  }
  return result.stdout;
}

/** Installs the tarball (and the app's other dependencies) from npm's cache only. */
function installTarball(dir, tarball) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  manifest.dependencies = { ...manifest.dependencies, 'functions-keyvault': `file:${tarball}` };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  run('npm', ['install', '--prefer-offline', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error'], dir);
}

const work = mkdtempSync(join(tmpdir(), 'kv-consumers-'));
try {
  run('node', [join(root, 'scripts', 'compile.mjs')], root);
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], pkgDir));
  const tarball = join(work, packed.filename);
  console.log(
    `== packed ${packed.filename}: ${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} KiB (${elapsed()})`,
  );

  for (const name of EXAMPLES) {
    const dir = join(work, name);
    const source = join(root, 'examples', name);
    cpSync(source, dir, { recursive: true, filter: (src) => !NOT_COPIED.has(relative(source, src).split(sep)[0]) });
    installTarball(dir, tarball);
    const output = run('npm', ['test'], dir);
    const count = (key) => Number(new RegExp(`^(?:ℹ|#) ${key} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
    if (!(count('pass') > 0) || count('fail') !== 0) throw new Error(`examples/${name}: no passing tests\n${output}`);
    const counts = ['tests', 'pass', 'fail'].map((key) => `${key} ${count(key)}`);
    console.log(
      `== examples/${name}: installed from the tarball, compiled, its tests: ${counts.join(', ')} (${elapsed()})`,
    );
  }

  // The before-release check: an empty folder, the tarball, require() and import() of every public entry.
  const empty = join(work, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'package.json'), JSON.stringify({ name: 'empty', private: true }));
  installTarball(empty, tarball);
  const probe = `
    const entries = ['functions-keyvault', 'functions-keyvault/handlers', 'functions-keyvault/testing'];
    (async () => {
      for (const entry of entries) {
        const required = require(entry);
        const imported = await import(entry);
        const same = Object.keys(imported).every((k) => k === 'default' || imported[k] === required[k]);
        if (!same) throw new Error(entry + ': require() and import() gave different instances');
        console.log('   ' + entry + ': require() and import() give the same ' + Object.keys(required).length + ' exports');
      }
    })().catch((error) => { console.error(error); process.exit(1); });`;
  process.stdout.write(run('node', ['-e', probe], empty));

  // A consumer that only reads secrets, bundled from the installed tarball like the template's deployment bundle.
  const bundleDir = join(work, 'esm-app');
  writeFileSync(
    join(bundleDir, 'secret-only.ts'),
    `import { app } from '@azure/functions';
import { readSecret } from 'functions-keyvault';
app.http('orders', {
  methods: ['GET'],
  authLevel: 'function',
  handler: async () => ({ status: 200, jsonBody: { length: (await readSecret('orders-api-key')).value.length } }),
});
`,
  );
  const result = await build({
    absWorkingDir: bundleDir,
    entryPoints: ['secret-only.ts'],
    outdir: join(bundleDir, 'dist-bundle'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    minify: true,
    metafile: true,
    logLevel: 'warning',
    external: ['@azure/functions-core'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
  const total = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
  const [entryFile, entry] = outputs.find(([, o]) => o.entryPoint);
  // What loads at cold start: the entry and the chunks it imports statically (import() chunks load on first use).
  const eager = new Set();
  const visit = (file) => {
    if (eager.has(file)) return;
    eager.add(file);
    for (const i of result.metafile.outputs[file].imports)
      if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entryFile);
  const eagerBytes = [...eager].reduce((sum, file) => sum + result.metafile.outputs[file].bytes, 0);
  const inputs = Object.keys(result.metafile.inputs);
  const storage = inputs.filter((input) => input.includes('@azure/storage-blob/')).length;
  if (storage > 0) throw new Error(`the secret-only bundle contains ${storage} @azure/storage-blob modules`);
  const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
  console.log(
    `== secret-only consumer bundle: ${outputs.length} files, ${kib(total)} (entry ${kib(entry.bytes)}, ` +
      `${kib(eagerBytes)} at cold start, the rest loads on the first Key Vault call; no @azure/storage-blob)`,
  );
  console.log(`== consumers passed (${elapsed()})`);
} catch (error) {
  console.error(`consumers: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
