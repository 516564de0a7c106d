/**
 * The IaC scan's verdict (scripts/check-infra.mjs) on checkov reports, and its checked-in configuration
 * (infra/.checkov.yaml). The scan itself runs in CI (`npm run check:infra`, .ci/run), not here: it installs checkov.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type * as CheckInfra from '../scripts/check-infra.mjs';
import { ROOT } from './support/projectRoot.js';

const scan = (await import(pathToFileURL(join(ROOT, 'scripts', 'check-infra.mjs')).href)) as typeof CheckInfra;
const config = readFileSync(join(ROOT, 'infra', '.checkov.yaml'), 'utf8');

const clean = {
  check_type: 'bicep',
  results: { passed_checks: [], failed_checks: [], skipped_checks: [], parsing_errors: [] },
  summary: { passed: 22, failed: 0, skipped: 0, parsing_errors: 0, resource_count: 72 },
};

test('a clean report passes; a file that does not parse fails, named', () => {
  const files = scan.bicepFiles();
  assert.ok(files.length >= 13, `${files.length} .bicep files`);
  assert.ok(files.includes('infra/main.bicep'));
  assert.deepEqual(scan.judge(clean, files).ok, true);
  const unparsed = {
    ...clean,
    results: { ...clean.results, parsing_errors: [join(ROOT, 'infra', 'app', 'api.bicep')] },
    summary: { ...clean.summary, parsing_errors: 1 },
  };
  const verdict = scan.judge(unparsed, files);
  assert.equal(verdict.ok, false);
  assert.match(verdict.lines.join('\n'), /does not parse: infra\/app\/api\.bicep/);
  // A count without the list still fails.
  assert.equal(scan.judge({ ...unparsed, results: clean.results }, files).ok, false);
});

test('any failed check the configuration does not skip fails the scan, by id and resource', () => {
  const failed = {
    ...clean,
    results: {
      ...clean.results,
      failed_checks: [
        {
          check_id: 'CKV_AZURE_44',
          check_name: 'Ensure Storage Account is using the latest version of TLS encryption',
          resource: 'Microsoft.Storage/storageAccounts.storage',
          file_path: '/core/storage/storage-account.bicep',
        },
      ],
    },
    summary: { ...clean.summary, failed: 1 },
  };
  const verdict = scan.judge(failed, scan.bicepFiles());
  assert.equal(verdict.ok, false);
  assert.match(verdict.lines[0]!, /CKV_AZURE_44 .* in infra\/core\/storage\/storage-account\.bicep/);
  assert.equal(scan.judge({ summary: {} }, []).ok, false, 'no Bicep report is a failure');
});

test('infra/.checkov.yaml: Bicep only, offline, and every skipped id comes with its reason', () => {
  assert.match(config, /^framework:\s*\n\s*- bicep$/m);
  assert.match(config, /^skip-download: true$/m, 'no call to the vendor API');
  const ids = scan.skippedIds(config);
  assert.ok(ids.length > 0);
  assert.equal(new Set(ids).size, ids.length, 'no id twice');
  // Each run of ids is preceded by a comment block saying why.
  const lines = config.split('\n');
  for (const id of ids) {
    let i = lines.findIndex((l) => l.trim() === `- ${id}`);
    while (i > 0 && /^\s*- [A-Z0-9_]+\s*$/.test(lines[i - 1]!)) i--;
    assert.match(lines[i - 1] ?? '', /^\s*#\s*\S/, `${id}: a reason comment above it`);
  }
  assert.match(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'), /^npm run check:infra$/m, 'CI runs the scan');
  assert.match(readFileSync(join(ROOT, '.gitignore'), 'utf8'), /^\.venv-checkov\/$/m);
});
