/**
 * azd `prerestore` hook of the `api` service (azure.yaml): installs what azd's build needs, without the optional Azure
 * Functions Core Tools, whose postinstall downloads the Functions host binaries (for `npm start`; a deployment never
 * uses them).
 *
 * Why a hook: azd restores a Node service by running `npm install --no-audit --no-fund --prefer-offline` in the
 * project folder (Azure/azure-dev cli/azd/pkg/tools/node/node.go, npmCli.Install), except when the dependencies are
 * already up to date, which it decides by node_modules/.package-lock.json being no older than package-lock.json
 * (cli/azd/pkg/tools/node/detect.go, IsDependenciesUpToDate; framework_service_node.go, Restore; azd 1.23.7+, #6894).
 * It has no option to omit a dependency, and `--omit=optional` (flag, .npmrc or npm_config_omit) would also drop
 * esbuild's platform binary (@esbuild/<platform>, an optional dependency of esbuild the build needs). So this hook
 * restores first, the way azd would find it up to date:
 *
 *   1. node_modules up to date (azd's own test): nothing to do, and azd skips its install too. A checkout where you ran
 *      `npm ci` keeps its Core Tools (already downloaded; nothing is fetched).
 *   2. otherwise `npm ci --ignore-scripts --no-audit --no-fund --prefer-offline` (the lockfile, from the npm cache when
 *      it can), then the Core Tools package is removed (with its bin links and its hidden-lockfile entries, so nothing
 *      half-installed stays behind). Skipping install scripts skips only Core Tools' download: package.json
 *      `allowScripts` lets no other package run one (esbuild and protobufjs are decided `false`, docs/troubleshooting.md),
 *      and test/azdRestore.test.ts fails if that changes.
 *
 * Afterwards node_modules/.package-lock.json is newer than package-lock.json, so azd (1.23.7+) runs no `npm install`.
 * Older azd still runs it and installs Core Tools as before (slower, harmless). `npm start` on the same checkout later
 * says how to get Core Tools back (`npm ci`). Nothing here reads the azd environment; `npm ci` as you run it is
 * unchanged.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The optional package a deployment never needs (package.json optionalDependencies). */
export const CORE_TOOLS = 'azure-functions-core-tools';
/** Its bin links (its package.json "bin"), with the .cmd/.ps1 shims npm writes on Windows. */
export const CORE_TOOLS_BINS = ['func', 'azfun', 'azurefunctions'];
export const NPM_CI = ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'];

/** azd's own up-to-date test for npm: node_modules/.package-lock.json exists and is not older than package-lock.json. */
export function isUpToDate(root) {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(lock) || !existsSync(marker)) return false;
  return statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
}

/** The hidden lockfile without Core Tools and the packages nested under it. */
export function withoutCoreTools(hiddenLockfile) {
  const packages = { ...(hiddenLockfile.packages ?? {}) };
  const prefix = `node_modules/${CORE_TOOLS}`;
  for (const key of Object.keys(packages)) {
    if (key === prefix || key.startsWith(`${prefix}/`)) delete packages[key];
  }
  return { ...hiddenLockfile, packages };
}

/** Removes Core Tools from node_modules: the package, its bin links, its hidden-lockfile entries. */
export function removeCoreTools(root) {
  const modules = join(root, 'node_modules');
  rmSync(join(modules, CORE_TOOLS), { recursive: true, force: true });
  for (const bin of CORE_TOOLS_BINS) {
    for (const suffix of ['', '.cmd', '.ps1']) rmSync(join(modules, '.bin', `${bin}${suffix}`), { force: true });
  }
  const marker = join(modules, '.package-lock.json');
  if (existsSync(marker)) {
    const hidden = JSON.parse(readFileSync(marker, 'utf8'));
    writeFileSync(marker, `${JSON.stringify(withoutCoreTools(hidden), null, 2)}\n`);
  }
}

function npm(args, root) {
  // npm is npm.cmd on Windows, which runs only through the shell; the arguments are fixed words.
  const windows = process.platform === 'win32';
  const run = windows
    ? spawnSync(['npm', ...args].join(' '), [], { cwd: root, stdio: 'inherit', shell: true })
    : spawnSync('npm', args, { cwd: root, stdio: 'inherit' });
  if (run.error) throw new Error(`npm could not run (${run.error.code ?? run.error.message})`);
  if (run.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${run.status})`);
}

export function restore(root, { log = console.log, run = npm } = {}) {
  if (isUpToDate(root)) {
    log('restore: node_modules is up to date with package-lock.json; azd installs nothing either');
    return 'up-to-date';
  }
  log(`restore: npm ${NPM_CI.join(' ')} (install scripts off: Azure Functions Core Tools download nothing)`);
  run(NPM_CI, root);
  removeCoreTools(root);
  log(`restore: done without ${CORE_TOOLS} (only \`npm start\` needs it: run \`npm ci\` for that)`);
  return 'installed';
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    restore(resolve(import.meta.dirname, '..'));
  } catch (error) {
    console.error(`restore FAILED: ${error.message}`);
    process.exit(1);
  }
}
