/**
 * `npm run check:infra`: scans every Bicep file under infra/ with checkov, an IaC scanner that parses Bicep (with
 * pycep) and runs its Azure policies on the resources it finds (docs/deployment-reference.md, "IaC scan").
 *
 * Installs the pinned checkov itself, once, into .venv-checkov/ (ignored by git): `python3 -m venv` + pip, or, where
 * Python has no venv module (Debian without python3-venv), `pip install --target`. Then runs it with the checked-in
 * configuration infra/.checkov.yaml, which skips each failed check judged not a risk, by id, with the reason.
 *
 * Fails (exit 1) when:
 *   - a .bicep file does not parse (checkov only counts a parsing error and scans the rest, so a file that stops
 *     parsing would otherwise silently drop out of the scan): every file under infra/ must parse;
 *   - any check fails that the configuration does not skip (a new risk, or a change that re-opened a skipped one in
 *     another resource is still reported by id);
 *   - checkov cannot be installed or does not answer its JSON report.
 * Prints one line per problem and a summary (files, checks passed/failed, ids skipped by the configuration).
 *
 * Offline: --skip-download (in the configuration) and BC_SKIP_MAPPING keep checkov from calling its vendor's API; the
 * only network use is pip's download of the pinned packages from PyPI on the first run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Pinned checkov (PyPI). Raising it may add checks: the scan then fails until each new finding is fixed or skipped. */
export const CHECKOV_VERSION = '3.3.30';
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const VENV = join(ROOT, '.venv-checkov');
const CONFIG = join(ROOT, 'infra', '.checkov.yaml');
const PYTHON = process.env.PYTHON ?? 'python3';

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}

/** Every .bicep file under `dir`, relative to the repo root with forward slashes (as checkov's report names them). */
export function bicepFiles(dir = join(ROOT, 'infra')) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return bicepFiles(path);
    return path.endsWith('.bicep') ? [relative(ROOT, path).split('\\').join('/')] : [];
  });
}

/** The check ids infra/.checkov.yaml skips (its `skip-check:` list; one `- ID` per line). */
export function skippedIds(configText) {
  const list = /^skip-check:\s*\n((?:[ \t]*(?:#.*|- *\S+)?\n)*)/m.exec(configText)?.[1] ?? '';
  return [...list.matchAll(/^[ \t]*- *([A-Z0-9_]+)\s*$/gm)].map((m) => m[1]);
}

/**
 * Verdict on one checkov JSON report (`-o json` for one framework): { ok, lines, summary }. `files` are the .bicep
 * files that must have parsed.
 */
export function judge(report, files) {
  const lines = [];
  const results = report?.results ?? {};
  const summary = report?.summary ?? {};
  if (report?.check_type !== 'bicep' || typeof summary.parsing_errors !== 'number') {
    return { ok: false, lines: ['checkov answered no Bicep report (is the framework bicep?)'], summary };
  }
  const unparsed = (results.parsing_errors ?? []).map((p) => relative(ROOT, String(p)).split('\\').join('/'));
  for (const file of unparsed) lines.push(`does not parse: ${file} (checkov scanned the other files without it)`);
  if (summary.parsing_errors > 0 && unparsed.length === 0) {
    lines.push(`${summary.parsing_errors} file(s) do not parse`);
  }
  for (const check of results.failed_checks ?? []) {
    lines.push(
      `NEW failed check ${check.check_id} (${check.check_name}) on ${check.resource} in infra${check.file_path}` +
        ': fix the Bicep, or skip the id in infra/.checkov.yaml with the reason',
    );
  }
  // A file that parsed but declares nothing checkov knows leaves no trace in the report; the parse count is the check.
  if (files.length === 0) lines.push('no .bicep files found under infra/');
  return { ok: lines.length === 0, lines, summary };
}

function pythonPackages() {
  const bin = process.platform === 'win32' ? join(VENV, 'Scripts') : join(VENV, 'bin');
  const venvPython = join(bin, process.platform === 'win32' ? 'python.exe' : 'python');
  if (existsSync(venvPython)) return { python: venvPython, env: {} };
  const target = join(VENV, 'site');
  return { python: PYTHON, env: { PYTHONPATH: target }, target };
}

function installedVersion(python, env) {
  const probe = run(python, ['-c', 'import checkov.version as v; print(v.version)'], {
    env: { ...process.env, ...env },
  });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/** Installs the pinned checkov into .venv-checkov/ unless it is there already. Returns how to run Python with it. */
function ensureCheckov() {
  let where = pythonPackages();
  if (installedVersion(where.python, where.env) === CHECKOV_VERSION) return where;
  console.log(`check:infra: installing checkov ${CHECKOV_VERSION} into .venv-checkov/ (once)`);
  const started = Date.now();
  const venv = run(PYTHON, ['-m', 'venv', VENV]);
  // Without python3-venv (Debian), `venv` fails after creating a folder with a python but no pip: start over.
  if (venv.status !== 0) rmSync(VENV, { recursive: true, force: true });
  where = pythonPackages();
  const pipArgs = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `checkov==${CHECKOV_VERSION}`];
  const pip =
    venv.status === 0 && !where.target
      ? run(where.python, pipArgs)
      : // No venv module (Debian without python3-venv): install into a plain folder on PYTHONPATH instead.
        run(PYTHON, [...pipArgs, '--target', join(VENV, 'site')]);
  if (pip.error || pip.status !== 0) {
    const why = pip.error?.code === 'ENOENT' ? `${PYTHON} not found` : pip.stderr.trim().split('\n').pop();
    throw new Error(`could not install checkov ${CHECKOV_VERSION}: ${why ?? `exit ${pip.status}`}`);
  }
  where = pythonPackages();
  if (installedVersion(where.python, where.env) !== CHECKOV_VERSION) {
    throw new Error(`checkov ${CHECKOV_VERSION} installed but does not import`);
  }
  console.log(`check:infra: installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return where;
}

function main() {
  const files = bicepFiles();
  const where = ensureCheckov();
  const started = Date.now();
  const scan = run(where.python, ['-m', 'checkov.main', '--config-file', CONFIG, '--output', 'json', '--soft-fail'], {
    cwd: ROOT,
    env: { ...process.env, ...where.env, BC_SKIP_MAPPING: 'TRUE' },
  });
  let report;
  try {
    report = JSON.parse(scan.stdout);
  } catch {
    const why = scan.error?.message ?? scan.stderr.trim().split('\n').slice(-3).join(' | ');
    console.error(`check:infra FAILED: checkov did not answer a JSON report (exit ${scan.status}): ${why}`);
    return 1;
  }
  const verdict = judge(Array.isArray(report) ? report.find((r) => r.check_type === 'bicep') : report, files);
  const s = verdict.summary;
  const skipped = skippedIds(readFileSync(CONFIG, 'utf8'));
  const parsed = files.length - (s.parsing_errors ?? 0);
  console.log(
    `check:infra: checkov ${CHECKOV_VERSION}: ${parsed} of ${files.length} .bicep files parsed; ` +
      `${s.passed ?? 0} checks passed, ${s.failed ?? 0} failed, ${skipped.length} check ids skipped by ` +
      `infra/.checkov.yaml (${Math.round((Date.now() - started) / 100) / 10} s)`,
  );
  for (const line of verdict.lines) console.error(`check:infra: ${line}`);
  if (!verdict.ok) {
    console.error('check:infra FAILED (docs/deployment-reference.md, "IaC scan")');
    return 1;
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    process.exit(main());
  } catch (error) {
    console.error(`check:infra FAILED: ${error.message}`);
    process.exit(1);
  }
}
