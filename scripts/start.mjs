/**
 * `npm start`: runs the Functions host (`func start`) on the freshly built app.
 * Azure Functions Core Tools is an optional dependency: its installer downloads the `func` binary, which fails
 * where that download is blocked. Then this says so and how to install it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const local = join(root, 'node_modules', '.bin', 'func');

function works(cmd) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

const func = [local, 'func'].find((c) => (c === local ? existsSync(c) : true) && works(c));
if (!func) {
  console.error(`
Azure Functions Core Tools ("func") is not installed, so the Functions host cannot start.

Install it with one of:
  npm install -g azure-functions-core-tools@4      (downloads the func binary at install time)
  brew tap azure/functions && brew install azure-functions-core-tools@4        (macOS)
  winget install Microsoft.Azure.FunctionsCoreTools                           (Windows)
  https://learn.microsoft.com/azure/azure-functions/functions-run-local        (Linux packages)
then run "npm start" again. The app itself is built in dist/; the handlers can be exercised without the host by
"npm test".
`);
  process.exit(1);
}
if (!existsSync(join(root, 'local.settings.json'))) {
  console.warn('No local.settings.json: copy local.settings.json.example to local.settings.json to configure the app.');
}
const child = spawn(func, ['start', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 1));
