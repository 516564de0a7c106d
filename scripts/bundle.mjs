/**
 * `npm run build:bundle`: an esbuild bundle of the app for deployment (dist-bundle/). Code splitting keeps the
 * dynamic import of the Key Vault runtime (SDK + cache) in its own chunk, so the entry still loads without it.
 */
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'dist-bundle');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(root, 'src', 'index.ts')],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22', // the Flex Consumption runtime (infra/main.bicep nodeVersion)
  minify: true,
  sourcemap: true,
  metafile: true,
  // Provided by the Functions host's Node.js worker at run time.
  external: ['@azure/functions-core'],
  // CommonJS dependencies (e.g. @azure/functions) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
writeFileSync(
  join(out, 'package.json'),
  `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', main: 'index.js' }, null, 2)}\n`,
);
cpSync(join(root, 'host.json'), join(out, 'host.json'));

const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .map(([file, o]) => `${file.replace(`${root}/`, '')} ${(o.bytes / 1024).toFixed(0)} KiB`);
console.log(`bundle written to dist-bundle/ (deploy that folder):\n  ${sizes.join('\n  ')}`);
