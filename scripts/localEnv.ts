/**
 * The local tools' environment (`npm run secrets`, `npm run call`): local.settings.json "Values" of the project
 * directory, as `func start` loads them (a setting already defined in the environment wins), applied to
 * process.env; the line saying which local profile is in use and its warnings, on stderr; and NODE_EXTRA_CA_CERTS:
 * Node reads it once, at process start, so when local.settings.json names a certificate this process did not start
 * with (the emulator's), the command is run again in a child process whose NODE_EXTRA_CA_CERTS holds that one and
 * the environment's, and this process exits with the child's status. TLS verification stays on throughout.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as LocalSettingsModule from './local-settings.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Applies local.settings.json to process.env (or hands the command to a child, see above); returns the settings. */
export async function applyLocalSettings(): Promise<Record<string, string | undefined>> {
  // Plain JavaScript shared with start.mjs, run from source (this file runs from dist/scripts/).
  const local = (await import(
    pathToFileURL(join(ROOT, 'scripts', 'local-settings.mjs')).href
  )) as typeof LocalSettingsModule;

  // local.settings.json of the project directory, where `npm run` starts scripts (and `func start` reads it from).
  const settings = local.readLocalSettings(process.cwd());
  if (settings.error) {
    console.error(settings.error);
    process.exit(2);
  }
  const env = local.effectiveSettings(settings.values, process.env);

  if (!process.env[local.CA_CHILD_MARKER]) {
    const report = local.profileReport({
      exists: settings.exists,
      values: settings.values,
      env: process.env,
      emulator: local.runningVaultEmulator(process.cwd()),
    });
    for (const line of [report.line, ...report.warnings]) console.error(line);
    const ca = local.planExtraCaCerts({
      envValue: process.env.NODE_EXTRA_CA_CERTS,
      settingsValue: settings.values.NODE_EXTRA_CA_CERTS,
      cwd: process.cwd(),
      settingsDir: process.cwd(),
    });
    for (const line of local.missingCaLines(ca.missing)) console.error(line);
    if (ca.restart) {
      const bundle = local.writeCaBundle(ca.files);
      try {
        const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
          stdio: 'inherit',
          env: { ...(env as Record<string, string>), NODE_EXTRA_CA_CERTS: bundle.file, [local.CA_CHILD_MARKER]: '1' },
        });
        process.exitCode = child.status ?? 1;
      } finally {
        if (bundle.dir) rmSync(bundle.dir, { recursive: true, force: true });
      }
      process.exit();
    }
  }
  // @azure/identity reads IDENTITY_ENDPOINT and friends from process.env itself.
  Object.assign(process.env, env);
  return env;
}
