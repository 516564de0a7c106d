/**
 * What the deployment docs promise, checked against what the template and the hooks do: the first deployment's
 * storage race is narrowed, not gone, and troubleshooting has the cure; no stale "optional identity" story; the README
 * names the tools deploying really needs (derived from the hooks' source); the alwaysReady advice for secretEvents
 * has a recommendation and a cost; rotation timing as the ledger makes it; no secret value on a command line.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './support/projectRoot.js';

/** A file's text ('' when it does not exist: the test that needs it then fails on its content). */
const read = (...path: string[]) => (existsSync(join(ROOT, ...path)) ? readFileSync(join(ROOT, ...path), 'utf8') : '');
const docs = readdirSync(join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => ({ path: `docs/${f}`, text: read('docs', f) }));
const deployment = read('docs', 'deployment.md');
const reference = read('docs', 'deployment-reference.md');
const troubleshooting = read('docs', 'troubleshooting.md');
const readme = read('README.md');

/** The text of the section under `heading` (up to the next heading of the same or a higher level, outside code). */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `section ${heading}`);
  const level = /^#+/.exec(heading)![0].length;
  let fenced = false;
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('```')) fenced = !fenced;
    if (!fenced && new RegExp(`^#{1,${level}} `).test(line)) break;
    body.push(line);
  }
  return body.join('\n');
}

test('the first deploy storage 403: said to be narrowed, not gone, with the cure in troubleshooting', () => {
  const claims = [...docs, { path: 'infra/app/rbac.bicep', text: read('infra', 'app', 'rbac.bicep') }];
  for (const { path, text } of claims) {
    assert.doesNotMatch(text, /never races?|cannot race|race .* cannot happen/i, `${path} promises no race`);
  }
  const cure = section(troubleshooting, '### First deploy fails with 403 on the package upload');
  assert.match(cure, /azd deploy/);
  assert.match(cure, /Azure\/azure-dev#8026/);
  assert.match(section(reference, "## The app's identity"), /narrows the race; it does\s+not end it/);
});

test('no stale identity story: the identity module is unconditional, and nothing calls it optional', () => {
  const texts = [...docs, { path: 'test/infra.test.ts', text: read('test', 'infra.test.ts') }];
  const stale = new RegExp(
    ['optional', 'identity module'].join(' ') + '|' + ['conditional user-assigned', 'identity'].join(' '),
  );
  for (const { path, text } of texts) assert.doesNotMatch(text, stale, path);
});

test('README prerequisites: deploying needs azd, and az only if a hook still runs it', () => {
  const hooks = ['preprovision.mjs', 'postdeploy.mjs', 'key-vault-events.mjs', 'key-vault-events-subscription.mjs'];
  const hooksRunAz = hooks.some((f) => /az-cli|spawn(Sync)?\(\s*['"]az['"]/.test(read('scripts', f)));
  const rows = section(readme, '## Prerequisites')
    .split('\n')
    .filter((l) => l.startsWith('| **'));
  const deploying = rows.filter((l) => /\|\s*deploying\b/.test(l));
  assert.ok(deploying.length > 0, 'a row says what deploying needs');
  for (const row of deploying) {
    assert.match(row, /Azure Developer CLI/);
    if (hooksRunAz) assert.match(row, /Azure CLI\*\* \(`az login`\)/, 'the hooks run az, so deploying needs it');
    else assert.doesNotMatch(row, /\*\*Azure CLI\*\*/, 'no hook runs az: deploying does not need it');
  }
  assert.equal(hooksRunAz, false, 'the hooks speak ARM through the SDK');
});

test('alwaysReady for secretEvents: a recommendation, why, and what it costs', () => {
  const scale = section(reference, '## Scale');
  assert.match(scale, /`function:secretEvents`/);
  assert.match(scale, /Not recommended by default/);
  assert.match(scale, /own group/, 'why its cold start differs from the HTTP functions');
  assert.match(scale, /USD \d+ a month/, 'a cost figure');
});

test('the first-deploy page is short and the reference holds the rest', () => {
  assert.ok(deployment.split('\n').length < 250, `docs/deployment.md is ${deployment.split('\n').length} lines`);
  assert.match(deployment, /\]\(deployment-reference\.md\)/);
  for (const heading of ['## Prerequisites', '## Deploy with azd', '## Call the functions', '## Rotate a secret']) {
    assert.ok(deployment.includes(`\n${heading}\n`), `deployment.md keeps ${heading}`);
  }
  for (const heading of ['## What gets created', '## The postdeploy check', '## Key Vault events', '## IaC scan']) {
    assert.ok(reference.includes(`\n${heading}\n`), `deployment-reference.md has ${heading}`);
  }
  const scan = section(reference, '## IaC scan');
  assert.match(scan, /npm run check:infra/);
  assert.match(scan, /What it catches/);
  assert.match(scan, /What it does not catch/);
  assert.match(scan, /what-if/);
  assert.match(scan, /compiles/);
});

test('rotating a secret: timing as the ledger makes it, and the value never on the command line', () => {
  const rotate = section(deployment, '## Rotate a secret');
  assert.match(rotate, /ROTATION_LEDGER_URL/);
  assert.match(rotate, /12 h/, 'the backstop TTL of the default deployment');
  assert.match(rotate, /about 5 s/, 'other instances hear of a new version on their next ledger poll');
  assert.match(rotate, /Without a delivered event: see\s+\[[^\]]+\]\(events\.md\)/);
  for (const { path, text } of [...docs, { path: 'README.md', text: readme }]) {
    for (const m of text.matchAll(/az keyvault secret set[^\n]*/g)) {
      assert.doesNotMatch(m[0], /--value\b/, `${path}: ${m[0]}`);
    }
  }
});
