/**
 * azd `postdeploy` hook (azure.yaml): the deployment succeeds only if the deployed app answers and its own
 * configuration check is healthy. It calls PING_URL, gets a function key through `az`, calls /api/config/check with it,
 * waits (bounded, one progress line per attempt) while the platform starts the app and resolves Key Vault references,
 * and fails with the check's own diagnosis (setting name, state word, detail; never a value) otherwise.
 *
 * Inputs: the azd environment values azd passes to hooks (PING_URL, AZURE_FUNCTION_APP_NAME, AZURE_RESOURCE_GROUP,
 * AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID), validated as ARM names before any reaches az, and:
 *   SKIP_POSTDEPLOY_CHECK=true              skip the gate
 *   POSTDEPLOY_CHECK_TIMEOUT_SECONDS=300     give up after this long
 *   POSTDEPLOY_CHECK_INTERVAL_SECONDS=10     between attempts
 * Needs the Azure CLI signed in (`az login`) to read the function key; the key is never printed. `az account show`
 * runs once first: az missing, not signed in, another tenant or a subscription az cannot see fail at once with the fix.
 * Decision logic: scripts/postdeploy-gate.mjs (unit-tested against a local stub).
 */
import { az as azCli, checkAzAccount, functionAppScope, seconds } from './az-cli.mjs';
import { endpointsFrom, runGate, shouldSkip } from './postdeploy-gate.mjs';

const env = process.env;
const say = (line) => console.log(line);

function az(args) {
  return azCli(args, { timeoutMs: 60_000 }).trim();
}

/** The configCheck function's default key, else the host's default function key. A final az error stops at once. */
function functionKey(scope) {
  const attempts = [
    [
      'functionapp',
      'function',
      'keys',
      'list',
      ...scope,
      '--function-name',
      'configCheck',
      '--query',
      'default',
      '--output',
      'tsv',
    ],
    ['functionapp', 'keys', 'list', ...scope, '--query', 'functionKeys.default', '--output', 'tsv'],
  ];
  let failure;
  for (const args of attempts) {
    try {
      const key = az(args);
      if (key) return key;
    } catch (error) {
      if (error?.final) throw error;
      failure = error;
    }
  }
  throw failure ?? new Error('az returned no function key');
}

function printFailure(summary, diagnosis) {
  console.error(`postdeploy check FAILED: ${summary}`);
  for (const line of diagnosis) console.error(`  ${line}`);
}

async function main() {
  if (shouldSkip(env)) {
    say('postdeploy check: skipped (SKIP_POSTDEPLOY_CHECK=true)');
    return 0;
  }
  const { pingUrl, configCheckUrl } = endpointsFrom(env);
  const scope = functionAppScope(env);
  const timeoutSeconds = seconds(env, 'POSTDEPLOY_CHECK_TIMEOUT_SECONDS', 300);
  // Once, up front: az can act for this deployment. What this finds never clears by waiting.
  try {
    checkAzAccount(az, env);
  } catch (error) {
    printFailure(error.message, error.fix ? [`Fix: ${error.fix}`] : []);
    return 1;
  }
  say(`postdeploy check: ${pingUrl}, then ${configCheckUrl} with a function key (up to ${timeoutSeconds} s)`);
  const result = await runGate({
    pingUrl,
    configCheckUrl,
    getKey: () => functionKey(scope),
    timeoutMs: timeoutSeconds * 1000,
    intervalMs: seconds(env, 'POSTDEPLOY_CHECK_INTERVAL_SECONDS', 10) * 1000,
    log: say,
  });
  if (result.ok) {
    say(`postdeploy check: passed after ${Math.round(result.elapsedMs / 1000)} s (${result.summary})`);
    return 0;
  }
  printFailure(result.summary, result.diagnosis);
  console.error(
    'See docs/deployment.md (Call the functions, Rotate a secret) and docs/troubleshooting.md; fix the cause ' +
      'and run `azd deploy` again, or set SKIP_POSTDEPLOY_CHECK=true to deploy without this check.',
  );
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`postdeploy check FAILED: ${error.message}`);
    process.exit(1);
  },
);
