/**
 * The emulator harness's failure messages (scripts/emulators/, `npm run vault:start`): one `[emulator]` line per
 * emulator tried, each with the real cause in plain words (a missing setting, the module proxy's 403, the emulator's
 * own exit reason), no doubled prefixes, and exactly what docs/troubleshooting.md shows; a failed `go install` is
 * remembered, not retried by every run, and nothing asks Maven for Lowkey's app (it is not published there).
 * Offline: the registry output below is the one `go install` really prints when the module proxy refuses.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT } from './support/projectRoot.js';
import { runNode } from './support/runNode.js';

type Reason = (output: string) => string;
const emulators = join(ROOT, 'scripts', 'emulators');
const { goInstallReason } = (await import(pathToFileURL(join(emulators, 'goPair.mjs')).href)) as {
  goInstallReason: Reason;
};
const { logReason } = (await import(pathToFileURL(join(emulators, 'common.mjs')).href)) as { logReason: Reason };

const scratch = mkdtempSync(join(tmpdir(), 'emulator-harness-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('go install refused by the module proxy: one short line, the status and the proxy named, no go: go:', () => {
  const target = 'github.com/calvinchengx/azure-keyvault-emulator/cmd/azure-keyvault-emulator@v0.7.0';
  const output =
    `go: ${target}: ${target}: reading https://goproxy.example/github.com/calvinchengx/azure-keyvault-emulator/` +
    'cmd/azure-keyvault-emulator/@v/v0.7.0.info: 403 Forbidden\n\tserver response: This module version is not available.\n';
  assert.equal(
    goInstallReason(output),
    '403 Forbidden from the module proxy goproxy.example: This module version is not available.',
  );
  assert.equal(goInstallReason(`go: ${target}: ${target}: missing go.sum entry`), 'missing go.sum entry');
});

test("an emulator that exits at start: its own reason from its log (Spring Boot's Description, else the last error)", () => {
  const spring = join(scratch, 'spring.log');
  writeFileSync(
    spring,
    '2026-12-02 INFO Starting LowkeyVaultApp\n***************************\nAPPLICATION FAILED TO START\n' +
      '***************************\n\nDescription:\n\nWeb server failed to start. Port 8443 was already in use.\n\n' +
      'Action:\n\nIdentify and stop the process.\n',
  );
  assert.equal(logReason(spring), 'Web server failed to start. Port 8443 was already in use');
  const java = join(scratch, 'java.log');
  writeFileSync(java, 'Error: Invalid or corrupt jarfile /tmp/x.jar\n');
  assert.equal(logReason(java), 'Error: Invalid or corrupt jarfile /tmp/x.jar');
  assert.equal(logReason(join(scratch, 'missing.log')), '');
});

test('npm run vault:start with nothing to run: one [emulator] line per emulator, the real causes, as the docs show', async () => {
  // vault.mjs and the harness copied into a scratch project, so its state directory is not this project's (where a
  // developer's emulator may be running).
  const project = join(scratch, 'project');
  cpSync(join(ROOT, 'scripts', 'emulators'), join(project, 'scripts', 'emulators'), { recursive: true });
  cpSync(join(ROOT, 'scripts', 'vault.mjs'), join(project, 'scripts', 'vault.mjs'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^KEY_VAULT_EMULATOR/.test(k)) env[k] = v;
  Object.assign(env, {
    LOWKEY_VAULT_JAR: join(scratch, 'no-such.jar'),
    KEY_VAULT_EMULATOR_GO_BIN: join(scratch, 'no-such-vault'),
    ENTRA_EMULATOR_GO_BIN: join(scratch, 'no-such-entra'),
    DOCKER_HOST: `unix://${join(scratch, 'no-docker.sock')}`, // no Lowkey image, even where a Docker engine runs
  });
  const r = await runNode([join(project, 'scripts', 'vault.mjs'), 'start'], { cwd: project, env });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const lines = r.stderr.trim().split('\n');
  const emulatorLines = lines.filter((l) => l.startsWith('[emulator] '));
  assert.equal(emulatorLines.length, 2, r.stderr);
  assert.match(
    emulatorLines[0]!,
    /^\[emulator\] lowkey: LOWKEY_VAULT_JAR=\S+no-such\.jar does not exist; no Docker engine answers \(for nagyesta\/lowkey-vault:7\.3\.74\)$/,
  );
  assert.match(
    emulatorLines[1]!,
    /^\[emulator\] go: azure-keyvault-emulator v0\.7\.0: KEY_VAULT_EMULATOR_GO_BIN=\S+ does not exist; entra-emulator v0\.9\.0: ENTRA_EMULATOR_GO_BIN=\S+ does not exist$/,
  );
  assert.doesNotMatch(r.stderr, /go: go:|needs Java|needs Go|Maven \(or/);
  const rest = lines.slice(lines.indexOf(emulatorLines[1]!) + 1);
  assert.equal(rest.length, 2, r.stderr);
  assert.equal(rest[0], 'Could not start a Key Vault emulator (why: the [emulator] lines above).');
  assert.match(
    rest[1]!,
    /^To run one you have built: LOWKEY_VAULT_JAR=.*KEY_VAULT_EMULATOR_GO_BIN=.*ENTRA_EMULATOR_GO_BIN=/,
  );

  // docs/troubleshooting.md shows the same shape: two [emulator] lines, then these two lines word for word.
  const shown = readFileSync(join(ROOT, 'docs', 'troubleshooting.md'), 'utf8').split('\n');
  assert.equal(shown.filter((l) => l.startsWith('[emulator] ')).length, 2);
  assert.ok(shown.includes(rest[0]), 'the docs show the "Could not start" line as printed');
  assert.ok(shown.includes(rest[1]!), 'the docs show the settings line as printed');
});

test('a failed go install is remembered: the next run does not ask again, and nothing asks Maven for Lowkey', async () => {
  const project = join(scratch, 'remembered');
  cpSync(join(ROOT, 'scripts', 'emulators'), join(project, 'scripts', 'emulators'), { recursive: true });
  cpSync(join(ROOT, 'scripts', 'vault.mjs'), join(project, 'scripts', 'vault.mjs'));
  // Stand-ins for go and mvn on PATH that record each call: go refuses every install the way the module proxy does.
  const bin = join(project, 'fake-bin');
  const calls = join(project, 'calls.log');
  mkdirSync(bin);
  const refusal =
    'go: x: reading https://goproxy.example/x/@v/v0.7.0.info: 403 Forbidden\n\tserver response: not available';
  writeFileSync(
    join(bin, 'go'),
    `#!/bin/sh\necho "go $*" >> '${calls}'\n[ "$1" = version ] && exit 0\nprintf '%s\\n' '${refusal}' >&2\nexit 1\n`,
  );
  writeFileSync(join(bin, 'mvn'), `#!/bin/sh\necho "mvn $*" >> '${calls}'\nexit 1\n`);
  for (const tool of ['go', 'mvn']) chmodSync(join(bin, tool), 0o755);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(KEY_VAULT_EMULATOR|ENTRA_EMULATOR|LOWKEY_)/.test(k)) env[k] = v;
  }
  Object.assign(env, {
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    KEY_VAULT_EMULATOR: 'go',
    DOCKER_HOST: `unix://${join(scratch, 'no-docker.sock')}`,
  });
  const installs = () =>
    readFileSync(calls, 'utf8')
      .split('\n')
      .filter((l) => / install /.test(l)).length;
  const first = await runNode([join(project, 'scripts', 'vault.mjs'), 'start'], { cwd: project, env });
  assert.equal(first.status, 1, first.stdout + first.stderr);
  assert.equal(installs(), 2, 'the first run tries both installs');
  assert.match(first.stderr, /403 Forbidden from the module proxy goproxy\.example/);
  const second = await runNode([join(project, 'scripts', 'vault.mjs'), 'start'], { cwd: project, env });
  assert.equal(installs(), 2, 'the second run asks the module proxy nothing');
  assert.match(second.stderr, /403 Forbidden from the module proxy goproxy\.example.*a failure remembered for 6 h/);
  const remembered = JSON.parse(readFileSync(join(project, '.emulators', 'install-failures.json'), 'utf8')) as Record<
    string,
    { reason: string; at: string }
  >;
  assert.equal(Object.keys(remembered).length, 2);
  // Lowkey: with KEY_VAULT_EMULATOR=lowkey and no jar, nothing is fetched either.
  const lowkey = await runNode([join(project, 'scripts', 'vault.mjs'), 'start'], {
    cwd: project,
    env: { ...env, KEY_VAULT_EMULATOR: 'lowkey' },
  });
  assert.match(lowkey.stderr, /\[emulator\] lowkey: no LOWKEY_VAULT_JAR \(lowkey-vault-app is not on Maven Central/);
  assert.doesNotMatch(readFileSync(calls, 'utf8'), /^mvn /m, 'Maven is never asked for lowkey-vault-app');
});

test('README names the settings that pick an emulator you have; the docs state the pinned Lowkey and its real sources', async () => {
  const go = (await import(pathToFileURL(join(emulators, 'goPair.mjs')).href)) as {
    GO_VAULT: { binSetting: string };
    GO_ENTRA: { binSetting: string };
  };
  const lowkey = (await import(pathToFileURL(join(emulators, 'lowkey.mjs')).href)) as {
    LOWKEY_VERSION: string;
    LOWKEY_IMAGE: string;
  };
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const setting of ['LOWKEY_VAULT_JAR', go.GO_VAULT.binSetting, go.GO_ENTRA.binSetting]) {
    assert.match(readme, new RegExp(`${setting}=/path/to/`), `README shows ${setting}=<what you have>`);
  }
  assert.ok(readme.includes(`lowkey-vault-app-${lowkey.LOWKEY_VERSION}.jar`), 'README names the pinned Lowkey');
  const testing = readFileSync(join(ROOT, 'docs', 'testing.md'), 'utf8');
  assert.ok(testing.includes(`docker pull ${lowkey.LOWKEY_IMAGE}`), 'the documented default path is the Docker image');
  assert.ok(testing.includes(`Lowkey Vault](https://github.com/nagyesta/lowkey-vault) ${lowkey.LOWKEY_VERSION}`));
  for (const file of ['README.md', 'docs/testing.md', 'docs/troubleshooting.md', 'docs/local-development.md']) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    assert.doesNotMatch(text, /mvn dependency:get|3\.4\.33|Java 17\+ and Maven/, `${file}: Lowkey from Maven is stale`);
  }
});
