/** The secrets CLI (scripts/secrets.ts): input checks offline; set/get/list/delete against the Key Vault emulator. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import * as getSecretModule from '../src/functions/getSecret.js';
import { parseConfig } from '../src/config.js';
import { configureKeyVault } from '../src/keyVault/index.js';
import { body, capturingContext, get } from './support/handlers.js';
import { skipUnlessEmulator, uniqueName, useEmulatorIdentity, vaultSettings } from './support/emulator.js';

const CLI = fileURLToPath(new URL('../scripts/secrets.js', import.meta.url));
// The CLI reads local.settings.json from its working directory: an empty one, so a developer's file stays out.
const CWD = mkdtempSync(join(tmpdir(), 'cli-test-'));
after(() => rmSync(CWD, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: CWD,
    encoding: 'utf8',
    // A throw-away cwd-independent run: settings only from the environment given here.
    env: { ...process.env, KEY_VAULT_URL: 'https://127.0.0.1:9/', ...env },
  });
}

test('bad names and unknown commands are rejected (exit 2) before any Key Vault call', () => {
  const bad = cli(['get', 'bad_name']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /not a valid secret name/);
  const unknown = cli(['frobnicate']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /usage/);
  const noValue = cli(['set', 'ok-name']);
  assert.equal(noValue.status, 2);
});

test('an unreachable vault is a clear error (exit 1), not a stack trace', () => {
  // Generous: a refused connection must be reported as such, not as a timeout on a loaded machine.
  const r = cli(['get', 'some-name'], { KEY_VAULT_TIMEOUT_MS: '30000' });
  assert.equal(r.status, 1);
  // After the one "Local profile: ..." line.
  assert.match(r.stderr, /^unreachable \(FetchTimedOut\): Key Vault could not be reached/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

describe('secrets CLI against the Key Vault emulator', () => {
  test(
    'seed with the CLI, read through the handler; values printed only when asked',
    { skip: skipUnlessEmulator },
    async () => {
      const identity = useEmulatorIdentity();
      const env = {
        ...identity,
        ...vaultSettings(),
      };
      const name = uniqueName('cli');
      const value = `cli-value-${Math.random().toString(36).slice(2)}`;
      const set = cli(['set', name, value], env);
      assert.equal(set.status, 0, set.stderr);
      assert.equal(set.stdout.includes(value), false);

      const hidden = cli(['get', name], env);
      assert.equal(hidden.status, 0, hidden.stderr);
      assert.equal(hidden.stdout.includes(value), false);
      assert.match(hidden.stdout, /value hidden/);
      const shown = cli(['get', name, '--show'], env);
      assert.match(shown.stdout, new RegExp(value));
      const list = cli(['list'], env);
      assert.match(list.stdout, new RegExp(name));
      assert.equal(list.stdout.includes(value), false);

      configureKeyVault({ config: parseConfig({ ...process.env, ...env, SECRETS_ALLOWED: name }) });
      const { context } = capturingContext();
      const r = await getSecretModule.getSecret(get(`http://localhost/api/secrets/${name}`, { name }), context);
      assert.equal(r.status, 200);
      assert.equal(body(r).value, value);

      assert.equal(cli(['delete', name], env).status, 0);
      assert.equal(cli(['get', name], env).status, 1);
    },
  );
});
