/**
 * The deployment package, built the way azd builds it and loaded the way the Functions Node.js worker loads it.
 *
 * azd (cli/azd/pkg/project in Azure/azure-dev) runs `npm run build` in the service's `project` folder, zips the `dist`
 * folder under it (the project folder when there is no `dist`) leaving out `.azure/`, the ignore file itself,
 * `local.settings.json` and whatever that folder's `.funcignore` matches (without a .funcignore: `node_modules/`, unless
 * `remoteBuild: false`), and checks `remoteBuild` against the project's `.funcignore`. This test does the same in a copy
 * of the project (so the working tree is not touched), copies the files azd would zip into a clean directory, and runs
 * the entry there with only what the package holds: a stand-in for `@azure/functions-core` (the module the real worker
 * injects by intercepting require, as its setupCoreModule does) records the registrations, network use is refused, and
 * every module loaded is logged.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { parse } from 'yaml';
import { linkNodeModules } from './support/projectCopy.js';
import { ROOT } from './support/projectRoot.js';

// ---------------------------------------------------------------------------------------------
// What azd does (pure helpers, tested below)
// ---------------------------------------------------------------------------------------------

/** A .funcignore/.gitignore matcher (the subset azd's gitignore parser handles that matters here). */
export function compileIgnore(text: string): (path: string, isDir: boolean) => boolean {
  const rules = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line) => line.replace(/\s+$/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      let pattern = line;
      const negate = pattern.startsWith('!');
      if (negate) pattern = pattern.slice(1);
      const dirOnly = pattern.endsWith('/');
      if (dirOnly) pattern = pattern.slice(0, -1);
      const anchored = pattern.includes('/');
      if (pattern.startsWith('/')) pattern = pattern.slice(1);
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const ch = pattern[i]!;
        if (ch === '*' && pattern[i + 1] === '*') {
          re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
          i += pattern[i + 2] === '/' ? 2 : 1;
        } else if (ch === '*') re += '[^/]*';
        else if (ch === '?') re += '[^/]';
        else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, dirOnly, regex: new RegExp(anchored ? `^${re}$` : `(?:^|/)${re}$`) };
    });
  return (path, isDir) => {
    let ignored = false;
    for (const rule of rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(path)) ignored = !rule.negate;
    }
    return ignored;
  };
}

export interface FunctionService {
  language?: string;
  remoteBuild?: boolean;
}

/**
 * azd's resolveFunctionAppRemoteBuild for js/ts on Flex Consumption (azd >= 1.23.12): remote build follows whether the
 * project's .funcignore excludes node_modules, and an explicit `remoteBuild` that contradicts it is an error.
 */
export function azdRemoteBuild(projectDir: string, service: FunctionService): boolean {
  const path = join(projectDir, '.funcignore');
  if (!existsSync(path)) return service.remoteBuild ?? true;
  const excludesNodeModules = compileIgnore(readFileSync(path, 'utf8'))('node_modules', true);
  if (service.remoteBuild === undefined) return excludesNodeModules;
  if (service.remoteBuild && !excludesNodeModules)
    throw new Error("'remoteBuild: true' requires '.funcignore' to exclude node_modules");
  if (!service.remoteBuild && excludesNodeModules)
    throw new Error("'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules");
  return service.remoteBuild;
}

/** The files azd's createDeployableZip puts in the zip for a Function App service, relative to `packageRoot`. */
export function azdZipFiles(packageRoot: string, service: FunctionService): string[] {
  const ignoreFile = join(packageRoot, '.funcignore');
  const ignored = existsSync(ignoreFile) ? compileIgnore(readFileSync(ignoreFile, 'utf8')) : undefined;
  const jsOrTs = ['js', 'javascript', 'ts', 'typescript'].includes(String(service.language));
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const rel = relative(packageRoot, full).split(sep).join('/');
      const isDir = statSync(full).isDirectory(); // follows symlinks, like azd
      if (name === '.azure' && isDir) continue;
      if (name === '.funcignore' && !isDir) continue;
      if (name === 'local.settings.json' && !isDir) continue;
      if (ignored) {
        if (ignored(rel, isDir)) continue;
      } else if (jsOrTs && name === 'node_modules' && isDir && service.remoteBuild !== false) continue;
      if (isDir) walk(full);
      else files.push(rel);
    }
  };
  walk(packageRoot);
  return files;
}

test('compileIgnore follows gitignore rules (guards the package emulation)', () => {
  const ignored = compileIgnore('\uFEFF# comment\nnode_modules/\n*.map\n/local.txt\ndist/**\n!dist/keep.js\n');
  assert.equal(ignored('node_modules', true), true);
  assert.equal(ignored('node_modules', false), false, 'dir-only rule');
  assert.equal(ignored('a/b.js.map', false), true);
  assert.equal(ignored('local.txt', false), true);
  assert.equal(ignored('sub/local.txt', false), false, 'anchored rule');
  assert.equal(ignored('dist/x.js', false), true);
  assert.equal(ignored('dist/keep.js', false), false, 'negation');
});

test('azdRemoteBuild and azdZipFiles follow azd (guards the package emulation)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kv-azd-emulation-'));
  try {
    mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
    mkdirSync(join(dir, '.azure'));
    for (const file of ['host.json', 'local.settings.json', 'node_modules/x/i.js', '.azure/config.json', 'a.map'])
      writeFileSync(join(dir, file), '{}');
    assert.equal(azdRemoteBuild(dir, { language: 'ts' }), true, 'no .funcignore: remote build');
    assert.deepEqual(azdZipFiles(dir, { language: 'ts' }), ['a.map', 'host.json']);
    assert.deepEqual(azdZipFiles(dir, { language: 'ts', remoteBuild: false }), [
      'a.map',
      'host.json',
      'node_modules/x/i.js',
    ]);
    writeFileSync(join(dir, '.funcignore'), 'node_modules\n*.map\n');
    assert.equal(azdRemoteBuild(dir, { language: 'ts' }), true);
    assert.throws(() => azdRemoteBuild(dir, { language: 'ts', remoteBuild: false }), /cannot be used/);
    assert.deepEqual(azdZipFiles(dir, { language: 'ts', remoteBuild: false }), ['host.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Build the package the way azd does, in a copy of the project
// ---------------------------------------------------------------------------------------------

/** Every file under src/functions/ registers the function it is named after (test/registration.test.ts). */
const REGISTERED = readdirSync(join(ROOT, 'src', 'functions'))
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.replace(/\.ts$/, ''))
  .sort();
/** Never in the package: the copy's local.settings.json carries it. */
const PLANTED = `planted-local-setting-${process.pid}-${Date.now()}`;
/** Working-tree entries a clean checkout does not have, or that azd's build does not read. */
const NOT_COPIED = new Set([
  'node_modules',
  '.git',
  'dist',
  'dist-bundle',
  '.lowkey',
  '.azure',
  'coverage',
  '.ci-local',
]);

interface AzureYaml {
  services?: Record<string, FunctionService & { project?: string; dist?: string; host?: string }>;
}
const azureYaml = parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as AzureYaml;
const api = azureYaml.services?.api ?? assert.fail('azure.yaml has no api service');

interface StandInRecord {
  functions: { name: string; bindings: Record<string, { type?: string; authLevel?: string; direction?: string }> }[];
  hooks: string[];
  programmingModel: string | null;
  network: string[];
  requires: string[];
  loadMs?: number;
  error?: string;
}

const STAND_IN = `// Stand-in for the Functions Node.js worker: provides @azure/functions-core the way the worker does (by intercepting
// Module.prototype.require), records what the app registers, refuses network use and logs every module resolution.
import Module, { register } from 'node:module';
import dns from 'node:dns';
import net from 'node:net';
import { writeFileSync } from 'node:fs';

register('./resolve-hook.mjs', import.meta.url);
const record = { functions: [], hooks: [], programmingModel: null, network: [], requires: [] };
globalThis.__standInRecord = record;
const disposable = { dispose() {} };
const core = {
  version: 'stand-in',
  hostVersion: 'stand-in',
  setProgrammingModel(model) { record.programmingModel = model?.name ?? String(model); },
  registerFunction(metadata, callback) {
    if (typeof callback !== 'function') throw new Error('registerFunction without a callback: ' + metadata.name);
    record.functions.push({ name: metadata.name, bindings: metadata.bindings });
    return disposable;
  },
  registerHook(name) { record.hooks.push(name); return disposable; },
  log() {},
};
Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args) {
    return args[0] === '@azure/functions-core' ? core : Reflect.apply(target, thisArg, args);
  },
});
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const resolved = resolveFilename.apply(this, args);
  record.requires.push(resolved);
  return resolved;
};
for (const [owner, key] of [[net, 'connect'], [net, 'createConnection'], [net.Socket.prototype, 'connect'], [dns, 'lookup'], [dns.promises, 'lookup']]) {
  owner[key] = function () {
    record.network.push(key);
    throw new Error('network use refused by the package test');
  };
}
process.on('exit', () => writeFileSync(process.env.STAND_IN_RECORD, JSON.stringify(record)));
`;

const RESOLVE_HOOK = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.STAND_IN_LOAD_LOG, result.url + '\\n');
  return result;
}
`;

const RUN = `import { performance } from 'node:perf_hooks';
const started = performance.now();
try {
  await import(process.argv[2]);
  globalThis.__standInRecord.loadMs = performance.now() - started;
} catch (error) {
  globalThis.__standInRecord.error = String(error?.stack ?? error);
  process.exitCode = 1;
}
`;

describe('deployment package, built as azd builds it', () => {
  let work: string;
  let project: string;
  let packageRoot: string;
  let files: string[];
  let cleanDir: string;
  let worker: string;
  let bundleOutputs: string[];
  let bundleInputs: string[];

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'kv-package-'));
    project = join(work, 'project');
    cpSync(ROOT, project, {
      recursive: true,
      filter: (src) => !NOT_COPIED.has(relative(ROOT, src).split(sep)[0]!),
    });
    linkNodeModules(ROOT, project);
    // A developer's working tree has one; it must not reach the package.
    writeFileSync(join(project, 'local.settings.json'), JSON.stringify({ Values: { PLANTED } }));

    const build = spawnSync('npm', ['run', 'build'], {
      cwd: join(project, api.project ?? '.'),
      encoding: 'utf8',
      shell: process.platform === 'win32',
      // Only a guard against a hung build: many times what a build takes on a loaded 2-core machine.
      timeout: 600_000,
    });
    assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`);

    packageRoot = resolve(project, api.project ?? '.', api.dist ?? '');
    files = azdZipFiles(packageRoot, api);

    cleanDir = join(work, 'clean', 'package');
    for (const file of files) {
      mkdirSync(dirname(join(cleanDir, file)), { recursive: true });
      cpSync(join(packageRoot, file), join(cleanDir, file));
    }
    worker = join(work, 'clean', 'worker');
    mkdirSync(worker);
    writeFileSync(join(worker, 'stand-in.mjs'), STAND_IN);
    writeFileSync(join(worker, 'resolve-hook.mjs'), RESOLVE_HOOK);
    writeFileSync(join(worker, 'run.mjs'), RUN);

    const meta = JSON.parse(readFileSync(join(project, 'dist', 'bundle-meta.json'), 'utf8')) as {
      inputs: Record<string, unknown>;
      outputs: Record<string, unknown>;
    };
    bundleInputs = Object.keys(meta.inputs);
    bundleOutputs = Object.keys(meta.outputs)
      .filter((file) => file.endsWith('.js'))
      .map((file) => relative(packageRoot, resolve(project, file)).split(sep).join('/'));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Runs the package's entry in the clean directory under the worker stand-in. */
  function loadEntry(): StandInRecord & { loads: string[] } {
    const main = (JSON.parse(readFileSync(join(cleanDir, 'package.json'), 'utf8')) as { main: string }).main;
    const record = join(worker, `record-${Math.random().toString(36).slice(2)}.json`);
    const loadLog = `${record}.loads`;
    writeFileSync(loadLog, '');
    const env: Record<string, string> = { STAND_IN_RECORD: record, STAND_IN_LOAD_LOG: loadLog };
    for (const name of ['PATH', 'SYSTEMROOT']) if (process.env[name]) env[name] = process.env[name];
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(worker, 'stand-in.mjs')).href,
        join(worker, 'run.mjs'),
        pathToFileURL(join(cleanDir, main)).href,
      ],
      { cwd: cleanDir, env, encoding: 'utf8', timeout: 60_000 },
    );
    assert.ok(existsSync(record), `the entry did not run:\n${run.stdout}\n${run.stderr}`);
    const result = JSON.parse(readFileSync(record, 'utf8')) as StandInRecord;
    assert.equal(result.error, undefined, `loading the entry failed: ${result.error}`);
    assert.equal(run.status, 0, run.stderr);
    return { ...result, loads: readFileSync(loadLog, 'utf8').split('\n').filter(Boolean) };
  }

  test('azure.yaml: azd builds locally and deploys the package as it is (remoteBuild false, as azd resolves it)', () => {
    assert.equal(api.host, 'function');
    assert.equal(api.remoteBuild, false, 'azure.yaml states remoteBuild: false');
    assert.equal(azdRemoteBuild(join(ROOT, api.project ?? '.'), api), false);
    assert.ok(api.dist, 'azure.yaml names the package folder with `dist`');
  });

  test('host.json and package.json at the root; main resolves to a file in the package; nothing to install', () => {
    assert.ok(files.includes('host.json'), `host.json at the package root (files: ${files.join(', ')})`);
    assert.ok(files.includes('package.json'), 'package.json at the package root');
    assert.deepEqual(
      JSON.parse(readFileSync(join(cleanDir, 'host.json'), 'utf8')),
      JSON.parse(readFileSync(join(ROOT, 'host.json'), 'utf8')),
    );
    const pkg = JSON.parse(readFileSync(join(cleanDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(typeof pkg.main, 'string');
    const main = resolve(cleanDir, pkg.main as string);
    assert.ok(!relative(cleanDir, main).startsWith('..'), `main ${String(pkg.main)} is inside the package`);
    assert.ok(existsSync(main) && statSync(main).isFile(), `main ${String(pkg.main)} is a file in the package`);
    for (const key of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'scripts'])
      assert.equal(pkg[key], undefined, `the deployed package.json has no ${key}`);
  });

  test('exactly host.json + package.json + the bundle: no node_modules, Core Tools, dev dependencies, tests, local.settings.json', () => {
    assert.deepEqual([...files].sort(), ['host.json', 'package.json', ...bundleOutputs].sort());
    for (const file of files) {
      assert.doesNotMatch(file, /(^|\/)node_modules\//, file);
      assert.doesNotMatch(file, /azure-functions-core-tools|(^|\/)func(\.exe)?$/, file);
      assert.doesNotMatch(file, /(^|\/)(test|tests)\/|\.test\.js$/, file);
      assert.doesNotMatch(file, /local\.settings\.json$/, file);
      assert.doesNotMatch(
        readFileSync(join(cleanDir, file), 'utf8'),
        new RegExp(PLANTED),
        `${file} carries local.settings.json content`,
      );
    }
    const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string>
    >;
    const notShipped = new Set([
      ...Object.keys(rootPkg.devDependencies ?? {}),
      ...Object.keys(rootPkg.optionalDependencies ?? {}),
    ]);
    assert.ok(notShipped.has('azure-functions-core-tools'), 'Core Tools stay an optional (developer) dependency');
    // What npm itself installs only for development: package-lock.json marks those entries dev / optional /
    // devOptional. (A package that is also a production dependency's dependency, e.g. yaml, is not marked.)
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    for (const input of bundleInputs) {
      const installed = /(node_modules\/(?:@[^/]+\/)?[^/]+(?:\/node_modules\/(?:@[^/]+\/)?[^/]+)*)\//.exec(input)?.[1];
      if (installed) {
        const entry = lock.packages[installed];
        assert.ok(entry, `${installed} is in package-lock.json`);
        assert.ok(
          !entry.dev && !entry.optional && !entry.devOptional,
          `the bundle contains ${installed}, a dev/optional dependency (${input})`,
        );
      }
      assert.doesNotMatch(input, /^(test|scripts)\//, `the bundle contains ${input}`);
    }
  });

  test('the entry loads in a clean directory with only the package and registers every function', () => {
    for (let dir = dirname(cleanDir); ; dir = dirname(dir)) {
      assert.ok(!existsSync(join(dir, 'node_modules')), `${dir} has a node_modules the package could fall back on`);
      if (dirname(dir) === dir) break;
    }
    assert.ok(!existsSync(join(cleanDir, 'node_modules')));
    const run = loadEntry();

    // The bundle's entry is generated from src/functions/: exactly the folder's functions, each once, and the
    // start-up hook once.
    const names = run.functions.map((f) => f.name);
    assert.deepEqual([...names].sort(), REGISTERED, 'the bundle registers exactly the files of src/functions/');
    assert.ok(REGISTERED.includes('ping') && REGISTERED.includes('secretEvents'));
    assert.deepEqual(run.hooks, ['appStart'], 'the start-up hook (src/startup.ts) is registered once');
    const trigger = (name: string) =>
      Object.values(run.functions.find((f) => f.name === name)!.bindings).find((b) => b.direction === 'in');
    assert.equal(trigger('ping')?.type, 'httpTrigger');
    assert.equal(trigger('ping')?.authLevel, 'anonymous');
    for (const name of ['getSecret', 'configCheck']) {
      assert.equal(trigger(name)?.type, 'httpTrigger');
      assert.equal(trigger(name)?.authLevel, 'function', `${name} needs a function key`);
    }
    assert.equal(trigger('secretEvents')?.type, 'eventGridTrigger');
    assert.equal(run.programmingModel, '@azure/functions');
    assert.deepEqual(run.network, [], 'no network use while loading');

    const loadedFiles = run.loads.filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url));
    assert.ok(
      loadedFiles.filter((path) => !relative(cleanDir, path).startsWith('..')).length >= 2,
      `the load log saw the entry and its chunks (${run.loads.join(', ')})`,
    );
    const outside = [
      ...run.loads.filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url)),
      ...run.requires.filter((path) => !path.startsWith('node:') && path.includes(sep)),
    ].filter((path) => relative(cleanDir, path).startsWith('..') && relative(worker, path).startsWith('..'));
    assert.deepEqual(outside, [], 'every module loaded comes from the package');
  });

  test("the bundle is built from the copy's own package and carries the Storage SDK the ledger loads", () => {
    const fromPackage = bundleInputs.filter((input) => input.startsWith('packages/functions-keyvault/dist/'));
    assert.ok(fromPackage.includes('packages/functions-keyvault/dist/index.js'), 'the package is inside the bundle');
    assert.deepEqual(
      bundleInputs.filter((input) => /(^|\/)functions-keyvault\//.test(input) && !fromPackage.includes(input)),
      [],
      "every package module comes from the copy's packages/, not from another tree",
    );
    // Without it the deployed ledger would fail safe (TTL refresh only) without anyone noticing.
    assert.ok(
      bundleInputs.some((input) => /node_modules\/@azure\/storage-blob\//.test(input)),
      'the bundle contains @azure/storage-blob (src/startup.ts hands it to the ledger)',
    );
  });

  test('prints the package contents, size and entry load time', () => {
    let bytes = 0;
    let zipped = 0;
    const lines = files.map((file) => {
      const content = readFileSync(join(cleanDir, file));
      bytes += content.length;
      zipped += deflateRawSync(content).length + 30 + 46 + 2 * file.length; // deflate + local and central headers
      return `  ${String(content.length).padStart(9)}  ${file}`;
    });
    const times = Array.from({ length: 5 }, () => loadEntry().loadMs!).sort((a, b) => a - b);
    console.log(
      [
        `deployment package (azure.yaml: project ${api.project ?? '.'}, dist ${api.dist}, remoteBuild ${api.remoteBuild}):`,
        ...lines,
        `  ${files.length} files, ${(bytes / 1024).toFixed(1)} KiB (zip about ${(zipped / 1024).toFixed(1)} KiB)`,
        `  entry load in a clean directory, median of ${times.length} fresh processes on Node ${process.versions.node}: ${times[2]!.toFixed(1)} ms`,
      ].join('\n'),
    );
    assert.ok(bytes > 0 && lstatSync(cleanDir).isDirectory());
  });
});
