/**
 * Every setting is declared once, and what reads settings reads that declaration: APP_SETTINGS (src/config.ts) for
 * the app's own, declareSetting() next to the code for a function's. A setting read but never declared fails here
 * (statically) and at run time (resolveSetting refuses it, loudly); a required declared setting that is unset is a
 * config-check problem; docs/configuration.md's table lists exactly APP_SETTINGS. The infra drift test
 * (test/infra.test.ts) reads the same declarations.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  APP_SETTINGS,
  declareSetting,
  declaredSettings,
  isDeclaredSetting,
  parseConfig,
} from 'functions-keyvault/internal/config.js';
import { missingDeclaredSettings } from 'functions-keyvault/internal/diagnostics/configReport.js';
import { resolveSetting } from 'functions-keyvault/internal/keyVault/index.js';
import { configureTestKeyVault } from 'functions-keyvault/testing';
import { captureConsole } from './support/captureConsole.js';
import { loadFunctionModules } from './support/declaredSettings.js';
import { ROOT } from './support/projectRoot.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}
const code = (file: string) =>
  readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');

/** The setting names a source reads with resolveSetting(): literals, and constants bound to declareSetting('…'). */
export function settingsRead(text: string): string[] {
  const constants = new Map(
    [...text.matchAll(/const\s+(\w+)\s*=\s*declareSetting\(\s*'([^']+)'/g)].map((m) => [m[1]!, m[2]!]),
  );
  return [...text.matchAll(/resolveSetting\(\s*(?:'([^']+)'|(\w+)\s*\))/g)].map(
    (m) => m[1] ?? constants.get(m[2]!) ?? `<${m[2]!}: not a declareSetting constant>`,
  );
}

test('settingsRead finds literal and declared-constant reads (guards the check below)', () => {
  const text =
    "const A = declareSetting('ORDERS_DB_URL', 'x');\nawait resolveSetting(A);\nawait resolveSetting('OTHER');\n" +
    'await resolveSetting(name);';
  assert.deepEqual(settingsRead(text), ['ORDERS_DB_URL', 'OTHER', '<name: not a declareSetting constant>']);
});

test('every setting src/ reads with resolveSetting() is declared (APP_SETTINGS, or declareSetting in that file)', async () => {
  await loadFunctionModules();
  for (const file of sources(join(ROOT, 'src'))) {
    for (const name of settingsRead(code(file))) {
      if (name.startsWith('<')) continue; // a name passed in (resolveSetting's own callers); checked at run time
      assert.ok(
        isDeclaredSetting(name),
        `${file.slice(ROOT.length + 1)} reads ${name} with resolveSetting() but nothing declares it: add ` +
          `declareSetting('${name}', '<what it holds>') next to that code (docs/your-own-function.md)`,
      );
    }
  }
});

test('resolveSetting refuses an undeclared setting loudly (an error naming declareSetting, logged once)', async () => {
  configureTestKeyVault({ settings: { NOT_DECLARED_SETTING: 'plain-canary-value' } });
  const { output } = await captureConsole(async () => {
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        resolveSetting('NOT_DECLARED_SETTING'),
        (error: Error) =>
          /NOT_DECLARED_SETTING is read with resolveSetting\(\) but not declared: add declareSetting\('NOT_DECLARED_SETTING'/.test(
            error.message,
          ) && !error.message.includes('plain-canary-value'),
      );
    }
  });
  const lines = output.split('\n').filter((l) => l.includes('NOT_DECLARED_SETTING'));
  assert.equal(lines.length, 1, 'logged once, not per call');
  assert.equal(lines.join('').includes('plain-canary-value'), false);
  declareSetting('NOW_DECLARED_SETTING', 'a test setting');
  configureTestKeyVault({ settings: { NOW_DECLARED_SETTING: 'v' } });
  assert.equal(await resolveSetting('NOW_DECLARED_SETTING'), 'v');
  assert.equal(await resolveSetting(APP_SETTINGS.SECRETS_ALLOWED), undefined, 'the app’s own settings are declared');
});

test('declareSetting: returns the name; refuses bad names, the app’s own settings and a required/optional clash', () => {
  assert.equal(declareSetting('SHARED_SETTING', 'shared by two functions'), 'SHARED_SETTING');
  assert.equal(declareSetting('SHARED_SETTING', 'shared by two functions'), 'SHARED_SETTING');
  assert.throws(() => declareSetting('SHARED_SETTING', 'x', { required: false }), /declared twice/);
  assert.throws(() => declareSetting('has space', 'x'), /not an app setting name/);
  assert.throws(() => declareSetting('KEY_VAULT_URL', 'x'), /APP_SETTINGS/);
  assert.ok(declaredSettings().some((d) => d.name === 'SHARED_SETTING' && d.required));
});

test('the config check reports a required declared setting that is not set, never one that is or is optional', () => {
  declareSetting('REQUIRED_TEST_SETTING', 'the test database URL');
  declareSetting('OPTIONAL_TEST_SETTING', 'a tuning knob', { required: false });
  const missing = (env: Record<string, string>) =>
    missingDeclaredSettings(parseConfig(env)).filter((p) => /_TEST_SETTING$/.test(p.setting));
  assert.deepEqual(missing({}), [
    {
      setting: 'REQUIRED_TEST_SETTING',
      message: 'REQUIRED_TEST_SETTING is not set: the code that reads it declares it required (the test database URL).',
    },
  ]);
  assert.deepEqual(missing({ REQUIRED_TEST_SETTING: 'canary-db-url' }), []);
  assert.equal(JSON.stringify(missing({ REQUIRED_TEST_SETTING: ' ' })).includes('canary'), false);
});

/** Settings the app reads besides APP_SETTINGS that the table documents (telemetry and the local profile). */
const DOCUMENTED_BESIDES = new Set(['APPLICATIONINSIGHTS_CONNECTION_STRING', 'LOCAL_PROFILE']);

test("docs/configuration.md's settings table lists exactly APP_SETTINGS (and the two it documents besides)", () => {
  const page = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const section = page.slice(
    page.indexOf('\n## Settings\n'),
    page.indexOf('\n## ', page.indexOf('\n## Settings\n') + 5),
  );
  const rows = [...section.matchAll(/^\| `([A-Za-z0-9_]+)`/gm)].map((m) => m[1]!);
  for (const name of Object.values(APP_SETTINGS)) {
    assert.ok(section.includes(`\`${name}\``), `docs/configuration.md, Settings: no row names ${name}`);
  }
  for (const name of rows) {
    assert.ok(
      (Object.values(APP_SETTINGS) as string[]).includes(name) || DOCUMENTED_BESIDES.has(name),
      `docs/configuration.md, Settings: ${name} is not declared in APP_SETTINGS`,
    );
  }
});
