/**
 * How azd runs the project's hooks (azure.yaml): the optional Key Vault events hook can warn but never sink `azd up`,
 * and the postdeploy check still decides. azd's hook schema: `continueOnError` on a hook and on its posix/windows
 * variants (Azure/azure-dev schemas/v1.0/azure.yaml.json).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from './support/projectRoot.js';

interface Hook {
  shell?: string;
  run?: string;
  continueOnError?: boolean;
}
type Hooks = Record<string, Record<string, Hook>>;
const yaml = parse(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
  hooks?: Hooks;
  services?: Record<string, { hooks?: Hooks }>;
};

test('the Key Vault events hook continues on error on every OS; the postdeploy check does not', () => {
  const events = yaml.services?.api?.hooks?.postdeploy ?? assert.fail('the api service has no postdeploy hook');
  const gate = yaml.hooks?.postdeploy ?? assert.fail('no project postdeploy hook');
  for (const os of ['posix', 'windows']) {
    assert.equal(events[os]?.run, 'node scripts/key-vault-events.mjs');
    assert.equal(events[os]?.continueOnError, true, `${os}: a failed subscription is a warning, the gate still runs`);
    assert.equal(gate[os]?.run, 'node scripts/postdeploy.mjs');
    assert.notEqual(gate[os]?.continueOnError, true, `${os}: the gate decides`);
  }
});

test('the events hook says on failure that the deployment continues and the check decides (exit 1 = azd warning)', () => {
  const hook = readFileSync(join(ROOT, 'scripts', 'key-vault-events.mjs'), 'utf8');
  assert.match(hook, /NOT SUBSCRIBED \(warning; the deployment continues\)/);
  assert.match(hook, /The postdeploy check runs next and decides/);
  assert.doesNotMatch(hook, /key vault events FAILED/, 'not worded as a failed deployment');
  assert.match(hook, /return 1;/, 'still a non-zero exit, so azd shows the warning');
});
