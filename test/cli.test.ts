/** The secrets CLI (scripts/secrets.ts): input checks offline; set/get/list/delete against the Key Vault emulator. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import * as getSecretModule from '../src/functions/getSecret.js';
import { parseConfig } from 'functions-keyvault/internal/config.js';
import { configureKeyVault, KeyVaultFailure } from 'functions-keyvault/internal/keyVault/index.js';
import { failureLines, isLoopbackVault } from '../scripts/cliFailure.js';
import { skipUnlessEmulator, uniqueName, useEmulatorIdentity, vaultSettings } from './support/emulator.js';
import { body, capturingContext, get } from 'functions-keyvault/testing';

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

test('get --version without a value, or with an unknown option: exit 2 before any Key Vault call', async () => {
  // A vault URL nothing listens on: reaching it would end in "connection refused" (exit 1), not a usage error.
  const vault = `https://127.0.0.1:${await closedPort()}/`;
  for (const args of [
    ['get', 'some-name', '--version'],
    ['get', 'some-name', '--version', '--show'],
    ['get', 'some-name', '--show', '--version'],
  ]) {
    const r = cli(args, { KEY_VAULT_URL: vault });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--version needs a value: 32 hexadecimal characters/);
    assert.doesNotMatch(r.stderr, /connection refused/);
  }
  for (const args of [
    ['get', 'some-name', '--verison', '0'.repeat(32)],
    ['get', 'some-name', 'extra'],
  ]) {
    const r = cli(args, { KEY_VAULT_URL: vault });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /get: unexpected argument/);
  }
});

test('set with the value as an argument warns (process list, shell history); --stdin does not', async () => {
  const vault = `https://127.0.0.1:${await closedPort()}/`;
  const canary = `canary-${Math.random().toString(36).slice(2)}`;
  const argument = cli(['set', 'some-name', canary], { KEY_VAULT_URL: vault });
  assert.match(argument.stderr, /warning: a secret value on the command line is visible in the process list/);
  assert.match(argument.stderr, /npm run secrets -- set <name> --stdin/);
  assert.equal(argument.stderr.includes(canary), false, 'the warning does not repeat the value');
  const piped = spawnSync(process.execPath, [CLI, 'set', 'some-name', '--stdin'], {
    cwd: CWD,
    encoding: 'utf8',
    input: `${canary}\n`,
    env: { ...process.env, KEY_VAULT_URL: vault },
  });
  assert.equal(piped.status, 1, 'read the value, then found no vault');
  assert.match(piped.stderr, /connection refused/);
  assert.doesNotMatch(piped.stderr, /warning: a secret value/);
  assert.equal(piped.stderr.includes(canary), false);
  const help = cli(['help']);
  assert.match(help.stdout, /set <name> --stdin +create a new version, the value read from stdin/);
});

test('help: the commands, on stdout, exit 0, nothing else', () => {
  for (const args of [['help'], ['--help']]) {
    const r = cli(args);
    assert.equal(r.status, 0, r.stderr);
    for (const command of ['set <name>', 'get <name>', 'list', 'delete <name>'])
      assert.match(r.stdout, new RegExp(command));
    assert.equal(r.stderr, '');
  }
});

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

test('a refused connection (emulator not running) says so and names vault:status / vault:start (exit 1)', async () => {
  const vault = `https://127.0.0.1:${await closedPort()}/`;
  // Generous: a refused connection must be reported as such, not as a timeout on a loaded machine.
  const r = cli(['get', 'some-name'], { KEY_VAULT_URL: vault, KEY_VAULT_TIMEOUT_MS: '30000' });
  assert.equal(r.status, 1, r.stderr);
  // After the one "Local profile: ..." line.
  assert.match(r.stderr, /^connection refused: Key Vault could not be reached: the connection was refused/m);
  assert.match(r.stderr, /npm run vault:status/);
  assert.match(r.stderr, /npm run vault:start/);
  assert.doesNotMatch(r.stderr, /FetchTimedOut/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('failureLines: plain words first, the next step only where it applies', () => {
  const refused = new KeyVaultFailure('unreachable', 'Key Vault could not be reached (ECONNREFUSED).', {
    errorCode: 'ECONNREFUSED',
  });
  const local = failureLines(refused, 'https://127.0.0.1:8443/');
  assert.match(local[0]!, /^connection refused: /);
  assert.match(local[1]!, /npm run vault:status.*npm run vault:start/);

  const remote = failureLines(refused, 'https://myvault.vault.azure.net/');
  assert.match(remote[0]!, /^connection refused: /);
  assert.doesNotMatch(remote.join('\n'), /vault:start/, 'no emulator advice for a real vault');
  assert.match(remote[1]!, /KEY_VAULT_URL/);

  const reset = new KeyVaultFailure('unreachable', 'Key Vault could not be reached (ECONNRESET).', {
    errorCode: 'ECONNRESET',
  });
  assert.match(failureLines(reset, 'https://localhost:8443/')[0]!, /^unreachable \(ECONNRESET\): /);
  const identity = new KeyVaultFailure('identity-unavailable', 'No token from the identity endpoint (ECONNREFUSED).', {
    errorCode: 'ECONNREFUSED',
  });
  assert.match(failureLines(identity, 'https://[::1]:8443/').join('\n'), /vault:start/);
  // An identity endpoint that answers without a token (the other emulator's path): the token path is named.
  const noToken = new KeyVaultFailure('identity-unavailable', 'No token from the identity endpoint (404).', {
    statusCode: 404,
  });
  const lines = failureLines(noToken, 'https://127.0.0.1:8443/', 'list');
  assert.match(lines[1]!, /IDENTITY_ENDPOINT.*\/metadata\/identity\/oauth2\/token.*\/msi\/token.*vault:status/);
  assert.doesNotMatch(lines.join('\n'), /Nothing answered/);

  const denied = new KeyVaultFailure('access-denied', 'Key Vault refused the request (403 Forbidden).', {
    statusCode: 403,
  });
  assert.deepEqual(failureLines(denied, 'https://127.0.0.1:8443/', 'set'), [
    'access-denied (AccessToKeyVaultDenied): Key Vault refused the request (403 Forbidden).',
    '`set` needs the role "Key Vault Secrets Officer" (the app\'s own "Key Vault Secrets User" may only read) on the ' +
      'vault for the identity in use, or an access policy with secret permission "set".',
  ]);
  assert.match(failureLines(denied, 'https://127.0.0.1:8443/', 'list')[1]!, /"Key Vault Secrets User".*"list"/);
  // A 401 is a token the vault rejected: no role advice.
  const rejected = new KeyVaultFailure('access-denied', 'Key Vault refused the request (401 Unauthorized).', {
    statusCode: 401,
  });
  assert.equal(failureLines(rejected, 'https://127.0.0.1:8443/', 'get').length, 1);
  assert.equal(isLoopbackVault('https://127.0.0.1:8443/'), true);
  assert.equal(isLoopbackVault('https://myvault.vault.azure.net/'), false);
  assert.equal(isLoopbackVault('not a url'), false);
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
