/**
 * `npm run call` (scripts/call.ts): a function called in this process with the settings `func start` would load
 * from local.settings.json (the environment winning), said to be no host, routes matched as the host matches them.
 * Loopback only: the vault URL is a closed port on 127.0.0.1. Against an emulator: test/readmeFlow.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { matchRoute } from '../scripts/call.js';
import { ROOT } from './support/projectRoot.js';
import { runNode } from './support/runNode.js';

const CALL = join(ROOT, 'dist', 'scripts', 'call.js');
const dir = mkdtempSync(join(tmpdir(), 'npm-run-call-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** This process's environment without the settings the test chooses (run-tests.mjs keeps identity on loopback). */
function env(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(KEY_VAULT_|SECRETS_ALLOWED|SECRET_|LOCAL_PROFILE|NODE_EXTRA_CA_CERTS)/.test(k))
      out[k] = v;
  }
  return { ...out, ...extra };
}
const call = (args: string[], extra?: Record<string, string>) =>
  runNode([CALL, ...args], { cwd: dir, env: env(extra) });
const status = (stdout: string) => Number(/^HTTP\/1\.1 (\d{3})$/m.exec(stdout)?.[1]);
const answer = (stdout: string) => JSON.parse(stdout.slice(stdout.indexOf('\n\n') + 2)) as Record<string, unknown>;

test('matchRoute: literal and {param} segments, optional and catch-all parameters, case-insensitive literals', () => {
  assert.deepEqual(matchRoute('secrets/{name}', '/secrets/demo-secret'), { name: 'demo-secret' });
  assert.deepEqual(matchRoute('Config/Check', '/config/check'), {});
  assert.equal(matchRoute('secrets/{name}', '/secrets'), undefined);
  assert.equal(matchRoute('secrets/{name}', '/secrets/a/b'), undefined);
  assert.deepEqual(matchRoute('orders/{id?}', '/orders'), {});
  assert.deepEqual(matchRoute('files/{*path}', '/files/a/b%20c'), { path: 'a/b c' });
  assert.deepEqual(matchRoute('items/{id:int}', '/items/7'), { id: '7' });
});

test('GET /api/ping answers in-process, and says it is not a host', async () => {
  const r = await call(['GET', '/api/ping']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(status(r.stdout), 200);
  assert.equal(answer(r.stdout).status, 'ok');
  assert.match(r.stderr, /^npm run call: in this process, not a host/m);
  assert.match(r.stderr, /^Local profile: none \(no local\.settings\.json\)/m);
});

test("the settings are local.settings.json's, as func start loads them; the environment wins", async () => {
  const closed = 'https://127.0.0.1:9/';
  writeFileSync(
    join(dir, 'local.settings.json'),
    JSON.stringify({
      IsEncrypted: false,
      Values: {
        LOCAL_PROFILE: 'emulator',
        KEY_VAULT_URL: closed,
        SECRETS_ALLOWED: 'demo-secret',
        KEY_VAULT_TIMEOUT_MS: '300',
      },
    }),
  );
  try {
    const fromFile = await call(['GET', '/api/secrets/demo-secret']);
    assert.equal(fromFile.status, 0, fromFile.stderr);
    // Allowed by the file's SECRETS_ALLOWED, so the app went for the file's vault (nothing listens there): 503.
    assert.equal(status(fromFile.stdout), 503, fromFile.stdout);
    assert.match(
      fromFile.stderr,
      /^Local profile: emulator \(LOCAL_PROFILE in local\.settings\.json\).*vault https:\/\/127\.0\.0\.1:9\/$/m,
    );
    const shell = await call(['GET', '/api/secrets/demo-secret'], { SECRETS_ALLOWED: 'other-secret' });
    assert.equal(status(shell.stdout), 403, 'the shell’s SECRETS_ALLOWED wins over the file’s');
  } finally {
    rmSync(join(dir, 'local.settings.json'), { force: true });
  }
});

test('a path no function answers, a wrong method and bad usage: exit 2 with the routes or the usage', async () => {
  const none = await call(['GET', '/api/nope']);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no function answers \/api\/nope; routes: .*GET \/api\/ping/);
  const method = await call(['POST', '/api/ping']);
  assert.equal(method.status, 2);
  assert.match(method.stderr, /ping takes GET, not POST/);
  const usage = await call(['ping']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /^usage: npm run call -- /m);
});
