/**
 * The package's API reports (review/<name>[-<entry>].api.md), one per `exports` entry, the way the Azure SDK for JS's
 * dev-tool extract-api derives them. `--local` rewrites the reports (a developer, after a deliberate change); without
 * it (CI) a report that differs from what the code exports fails the run.
 */
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = process.env.API_ROOT ? resolve(process.env.API_ROOT) : resolve(import.meta.dirname, '..');
const local = process.argv.includes('--local');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const base = ExtractorConfig.loadFile(join(root, 'api-extractor.json'));
let failed = 0;
/** Names the main entry's report declares: a subpath may mention them without re-exporting them. */
let mainExports = new Set();
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target !== 'object' || !target.types) continue; // ./package.json
  const suffix = subpath === '.' ? '' : `-${subpath.replace(/^\.\//, '').replaceAll('/', '-')}`;
  const config = ExtractorConfig.prepare({
    configObject: {
      ...base,
      mainEntryPointFilePath: join(root, target.types),
      apiReport: { ...base.apiReport, reportFileName: `${pkg.name}${suffix}.api.md` },
    },
    configObjectFullPath: join(root, 'api-extractor.json'),
    packageJsonFullPath: join(root, 'package.json'),
  });
  const result = Extractor.invoke(config, {
    localBuild: local,
    messageCallback: (m) => {
      if (m.messageId === 'console-preamble' || m.messageId === 'console-compiler-version-notice') m.handled = true;
      // A subpath's d.ts may name a type of '.' (e.g. failureResponse's KeyVaultFailure): that type is public, and its
      // shape is in the main report. Any other unexported type a public signature reaches is an error.
      const symbol = /The symbol "([^"]+)"/.exec(m.text)?.[1];
      if (m.messageId === 'ae-forgotten-export' && subpath !== '.' && mainExports.has(symbol)) m.logLevel = 'none';
    },
  });
  if (subpath === '.') {
    const report = readFileSync(config.reportFilePath, 'utf8');
    mainExports = new Set(
      [
        ...report.matchAll(
          /^export (?:declare )?(?:abstract )?(?:class|interface|type|function|const|enum|let) (\w+)/gm,
        ),
      ].map((x) => x[1]),
    );
  }
  if (!result.succeeded) {
    failed += 1;
    console.error(
      `✖ ${subpath}: the public API changed and review/${pkg.name}${suffix}.api.md was not updated ` +
        `(run \`npm run api:update\`, review the diff, commit it)`,
    );
  } else
    console.log(
      `✔ ${subpath}: matches review/${pkg.name}${suffix}.api.md${result.apiReportChanged ? ' (updated)' : ''}`,
    );
}
process.exit(failed > 0 ? 1 : 0);
