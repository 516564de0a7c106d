/**
 * What docs/events.md says about rotation timing without an event follows from the settings' defaults: a default
 * deployment sets ROTATION_LEDGER_URL (infra/main.bicep), so the cache uses the backstop TTL, first refreshed at 25-95%
 * of it and then at 85-95% (packages/functions-keyvault/src/keyVault/secretCache.ts), not SECRET_CACHE_TTL_SECONDS; and the lease holder's version check
 * (ROTATION_LEDGER_CHECK_SECONDS) finds it first.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NUMERIC_SETTINGS } from 'functions-keyvault/internal/config.js';
import { ROOT } from './support/projectRoot.js';

test('docs/events.md: without an event, the backstop window of a default deployment, and the TTL without a ledger', () => {
  const page = readFileSync(join(ROOT, 'docs', 'events.md'), 'utf8');
  const section = page.slice(page.indexOf('## Rotating a secret without events')).replace(/\s+/g, ' ');
  const backstop = NUMERIC_SETTINGS.SECRET_CACHE_BACKSTOP_TTL_SECONDS.default;
  const hours = (fraction: number) => String(Math.round((backstop * fraction) / 360) / 10).replace(/\.0$/, '');
  const source = readFileSync(
    join(ROOT, 'packages', 'functions-keyvault', 'src', 'keyVault', 'secretCache.ts'),
    'utf8',
  );
  const from = Number(/BACKSTOP_REFRESH_FROM = ([\d.]+)/.exec(source)?.[1]);
  const jitter = Number(/BACKSTOP_REFRESH_JITTER = ([\d.]+)/.exec(source)?.[1]);
  assert.ok(from > 0 && jitter > 0);
  assert.ok(
    section.includes(`${hours(from)} to ${hours(from + jitter)} hours`),
    `events.md states ${hours(from)} to ${hours(from + jitter)} hours`,
  );
  const againFrom = Number(/BACKSTOP_REFRESH_AGAIN_FROM = ([\d.]+)/.exec(source)?.[1]);
  const againJitter = Number(/BACKSTOP_REFRESH_AGAIN_JITTER = ([\d.]+)/.exec(source)?.[1]);
  assert.ok(againFrom > from && againJitter > 0, 'a refreshed value is refreshed again in a narrower, later window');
  assert.ok(
    section.includes(`each later refresh ${hours(againFrom)} to ${hours(againFrom + againJitter)} hours`),
    `events.md states each later refresh ${hours(againFrom)} to ${hours(againFrom + againJitter)} hours`,
  );
  assert.match(section, /ROTATION_LEDGER_URL/);
  assert.ok(
    section.includes(`ROTATION_LEDGER_CHECK_SECONDS\` (${NUMERIC_SETTINGS.ROTATION_LEDGER_CHECK_SECONDS.default} s)`),
    'events.md states the version check interval',
  );
  assert.match(
    section,
    new RegExp(`SECRET_CACHE_TTL_SECONDS\` \\(${NUMERIC_SETTINGS.SECRET_CACHE_TTL_SECONDS.default} s`),
  );
  assert.doesNotMatch(section, /SECRET_CACHE_TTL_SECONDS`; after that the next read returns the new version/);
  assert.match(
    readFileSync(join(ROOT, 'infra', 'main.bicep'), 'utf8'),
    /ROTATION_LEDGER_URL:/,
    'a default deployment sets it',
  );
});
