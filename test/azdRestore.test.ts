/**
 * The azd prerestore hook (scripts/azd-restore.mjs): azd's restore of the api service installs what the build needs
 * and not the optional Azure Functions Core Tools, and leaves node_modules in the state azd treats as up to date.
 * npm itself is replaced by a recorder that writes what `npm ci` would, in a temporary project.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import type * as RestoreModule from '../scripts/azd-restore.mjs';
import { ROOT } from './support/projectRoot.js';

const restore = (await import(pathToFileURL(join(ROOT, 'scripts', 'azd-restore.mjs')).href)) as typeof RestoreModule;

interface Lockfile {
  packages: Record<string, { hasInstallScript?: boolean; optional?: boolean; bin?: Record<string, string> }>;
}
const lockfile = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;

test('azure.yaml runs the restore hook before azd restores the api service, on every OS', () => {
  const doc = parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
    services?: { api?: { hooks?: { prerestore?: Record<string, { shell?: string; run?: string }> } } };
  };
  const hook = doc.services?.api?.hooks?.prerestore ?? assert.fail('the api service has no prerestore hook');
  assert.deepEqual(hook.posix, { shell: 'sh', run: 'node scripts/azd-restore.mjs' });
  assert.deepEqual(hook.windows, { shell: 'pwsh', run: 'node scripts/azd-restore.mjs' });
});

test('skipping install scripts skips only Core Tools: allowScripts lets no other package run one', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    optionalDependencies?: Record<string, string>;
    allowScripts?: Record<string, boolean>;
  };
  const allowed = Object.entries(pkg.allowScripts ?? {})
    .filter(([, run]) => run)
    .map(([name]) => name);
  assert.deepEqual(allowed, [restore.CORE_TOOLS], 'the only install script npm would run is the Core Tools download');
  assert.ok(pkg.optionalDependencies?.[restore.CORE_TOOLS], 'Core Tools is an optional dependency');
  const coreTools = lockfile.packages[`node_modules/${restore.CORE_TOOLS}`]!;
  assert.equal(coreTools.optional, true);
  assert.equal(coreTools.hasInstallScript, true);
  assert.deepEqual(Object.keys(coreTools.bin ?? {}).sort(), [...restore.CORE_TOOLS_BINS].sort(), 'its bin links');
  assert.deepEqual(restore.NPM_CI.slice(0, 2), ['ci', '--ignore-scripts'], 'no install script runs during ci');
  assert.ok(restore.NPM_CI.includes('--prefer-offline'), 'from the npm cache when it can, as azd installs');
});

/** A project folder whose "npm" writes what `npm ci` would: node_modules with Core Tools, its bins, a hidden lockfile. */
function project() {
  const root = mkdtempSync(join(tmpdir(), 'azd-restore-'));
  writeFileSync(join(root, 'package-lock.json'), JSON.stringify(lockfile));
  const calls: string[][] = [];
  const run = (args: string[], cwd: string) => {
    assert.equal(cwd, root);
    calls.push(args);
    if (args[0] !== 'ci') return;
    const modules = join(root, 'node_modules');
    mkdirSync(join(modules, restore.CORE_TOOLS, 'lib'), { recursive: true });
    mkdirSync(join(modules, '.bin'), { recursive: true });
    mkdirSync(join(modules, 'esbuild'), { recursive: true });
    writeFileSync(join(modules, restore.CORE_TOOLS, 'lib', 'main.js'), '');
    for (const bin of restore.CORE_TOOLS_BINS) {
      for (const suffix of ['', '.cmd', '.ps1']) writeFileSync(join(modules, '.bin', `${bin}${suffix}`), '');
    }
    writeFileSync(join(modules, '.bin', 'esbuild'), '');
    writeFileSync(join(modules, '.package-lock.json'), JSON.stringify({ name: 'x', packages: lockfile.packages }));
  };
  return { root, calls, run, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('a fresh checkout: npm ci without install scripts, Core Tools removed, then azd sees it up to date', () => {
  const p = project();
  try {
    const lines: string[] = [];
    assert.equal(restore.isUpToDate(p.root), false, 'no node_modules: azd would run npm install');
    assert.equal(restore.restore(p.root, { run: p.run, log: (l) => lines.push(l) }), 'installed');
    assert.deepEqual(p.calls, [restore.NPM_CI]);
    const modules = join(p.root, 'node_modules');
    assert.equal(existsSync(join(modules, restore.CORE_TOOLS)), false, 'no Core Tools package');
    for (const bin of restore.CORE_TOOLS_BINS) {
      for (const suffix of ['', '.cmd', '.ps1'])
        assert.equal(existsSync(join(modules, '.bin', `${bin}${suffix}`)), false, `${bin}${suffix}`);
    }
    assert.ok(existsSync(join(modules, '.bin', 'esbuild')), 'other bins stay');
    const hidden = JSON.parse(readFileSync(join(modules, '.package-lock.json'), 'utf8')) as Lockfile;
    assert.ok(!Object.keys(hidden.packages).some((k) => k.includes(restore.CORE_TOOLS)), 'hidden lockfile agrees');
    assert.ok(hidden.packages['node_modules/esbuild'], 'the rest of the hidden lockfile stays');
    assert.equal(restore.isUpToDate(p.root), true, "azd's test: up to date, so azd runs no npm install");
    assert.ok(lines.some((l) => /npm ci --ignore-scripts/.test(l)));

    // The next restore (next azd package/deploy) does nothing, and so does azd.
    p.calls.length = 0;
    assert.equal(restore.restore(p.root, { run: p.run, log: () => undefined }), 'up-to-date');
    assert.deepEqual(p.calls, []);
  } finally {
    p.cleanup();
  }
});

test('a lockfile newer than node_modules restores again; a failing npm fails the hook', () => {
  const p = project();
  try {
    restore.restore(p.root, { run: p.run, log: () => undefined });
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(p.root, 'node_modules', '.package-lock.json'), past, past);
    assert.equal(restore.isUpToDate(p.root), false, 'package-lock.json changed after the install');
    p.calls.length = 0;
    assert.equal(restore.restore(p.root, { run: p.run, log: () => undefined }), 'installed');
    assert.equal(p.calls.length, 1);

    rmSync(join(p.root, 'node_modules'), { recursive: true, force: true });
    assert.throws(
      () =>
        restore.restore(p.root, {
          run: () => {
            throw new Error('npm ci --ignore-scripts failed (exit 1)');
          },
          log: () => undefined,
        }),
      /npm ci --ignore-scripts failed/,
    );
  } finally {
    p.cleanup();
  }
});

test('withoutCoreTools drops the package and what is nested under it, nothing else', () => {
  const hidden = {
    name: 'x',
    packages: {
      'node_modules/azure-functions-core-tools': {},
      'node_modules/azure-functions-core-tools/node_modules/agent-base': {},
      'node_modules/azure-functions-core-tools-other': {},
      'node_modules/esbuild': {},
    },
  };
  assert.deepEqual(Object.keys(restore.withoutCoreTools(hidden).packages), [
    'node_modules/azure-functions-core-tools-other',
    'node_modules/esbuild',
  ]);
  assert.equal(Object.keys(hidden.packages).length, 4, 'the input is not changed');
});
