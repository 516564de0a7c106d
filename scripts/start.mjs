/**
 * `npm start`: runs the Functions host (`func start`) on the freshly built app, in the project directory (where
 * `npm run` starts scripts, and where func reads host.json and local.settings.json).
 *
 * First it prints which local profile local.settings.json is (scripts/local-settings.mjs) and warns about settings
 * that contradict it. Core Tools puts local.settings.json "Values" into the host's environment, which the Node worker
 * inherits, but skips every name the environment already defines ("Skipping '<name>' from local settings as it's
 * already defined in current environment variables."). For NODE_EXTRA_CA_CERTS that would drop the emulator's
 * certificate whenever the shell sets its own, so then func gets one file holding both.
 *
 * Finding func: `func` on PATH (under `npm start` that is node_modules/.bin first, so the optional dependency
 * azure-functions-core-tools wins when its install worked), else node_modules/.bin/func. Without it this says how to
 * install Core Tools.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  LOCAL_SETTINGS_FILE,
  missingCaLines,
  planExtraCaCerts,
  PROFILE_EXAMPLES,
  profileReport,
  readLocalSettings,
  runningVaultEmulator,
  writeCaBundle,
} from './local-settings.mjs';

const root = resolve(import.meta.dirname, '..');
const project = process.cwd();

const settings = readLocalSettings(project);
if (settings.error) console.warn(`Warning: ${settings.error} (func start will fail to read it too).`);
const report = profileReport({
  exists: settings.exists,
  values: settings.values,
  env: process.env,
  emulator: runningVaultEmulator(project),
});
for (const line of [report.line, ...report.warnings]) console.warn(line);
if (!settings.exists) {
  console.warn(
    `No ${LOCAL_SETTINGS_FILE}: copy ${PROFILE_EXAMPLES.emulator} (with npm run vault:start) or ` +
      `${PROFILE_EXAMPLES.azure} (a real vault, after az login) to ${LOCAL_SETTINGS_FILE}.`,
  );
}

// NODE_EXTRA_CA_CERTS: func keeps the environment's and skips local.settings.json's, so when both name a file the
// host gets a bundle of both. Only the file's: func sets it for the worker, whose working directory is this one.
const ca = planExtraCaCerts({
  envValue: process.env.NODE_EXTRA_CA_CERTS,
  settingsValue: settings.values.NODE_EXTRA_CA_CERTS,
  cwd: project,
  settingsDir: project,
});
for (const line of missingCaLines(ca.missing)) console.warn(line);
const env = { ...process.env };
let bundle;
if (process.env.NODE_EXTRA_CA_CERTS?.trim() && settings.values.NODE_EXTRA_CA_CERTS?.trim() && ca.restart) {
  bundle = writeCaBundle(ca.files);
  env.NODE_EXTRA_CA_CERTS = bundle.file;
  const what = ca.files.length === 1 ? ca.files[0] : `both (${ca.files.join(', ')}) in ${bundle.file}`;
  console.warn(
    `NODE_EXTRA_CA_CERTS is set in your shell and in ${LOCAL_SETTINGS_FILE}; func would keep only the shell's, so ` +
      `the host gets ${what}.`,
  );
}
const cleanUp = () => {
  if (bundle?.dir) rmSync(bundle.dir, { recursive: true, force: true });
};

function works(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

const local = join(root, 'node_modules', '.bin', 'func');
const func = ['func', local].find((c) => (c === local ? existsSync(c) : true) && works(c));
if (!func) {
  cleanUp();
  console.error(`
Azure Functions Core Tools ("func") is not installed, so the Functions host cannot start.
(npm ci tries to install it as the optional dependency azure-functions-core-tools, whose install script downloads
the func binary; where that download fails, npm skips it quietly.)

Install it with one of:
  npm install -g azure-functions-core-tools@4                                 (any OS; downloads func at install time)
  brew tap azure/functions && brew install azure-functions-core-tools@4        (macOS)
  winget install Microsoft.Azure.FunctionsCoreTools                           (Windows; or choco install azure-functions-core-tools)
  sudo apt-get install azure-functions-core-tools-4                           (Ubuntu/Debian, after adding Microsoft's package repository)
  https://learn.microsoft.com/azure/azure-functions/functions-run-local        (all options)
then run "npm start" again. The app itself is built in dist/; the handlers can be exercised without the host by
"npm test".
`);
  process.exit(1);
}
const child = spawn(func, ['start', ...process.argv.slice(2)], { cwd: project, stdio: 'inherit', env });
// Ctrl+C reaches func too (same process group); wait for it to stop, then clean up.
process.on('SIGINT', () => undefined);
child.on('exit', (code) => {
  cleanUp();
  process.exit(code ?? 1);
});
