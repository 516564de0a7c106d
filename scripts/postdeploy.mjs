/**
 * azd `postdeploy` hook (azure.yaml): the deployment succeeds only if the deployed app answers and its own
 * configuration check is healthy. It calls PING_URL, gets a function key through `az`, calls /api/config/check with it,
 * waits (bounded, one progress line per attempt) while the platform starts the app and resolves Key Vault references,
 * and fails with the check's own diagnosis (setting name, state word, detail; never a value) otherwise.
 *
 * Inputs: the azd environment values azd passes to hooks (PING_URL, AZURE_FUNCTION_APP_NAME, AZURE_RESOURCE_GROUP,
 * AZURE_SUBSCRIPTION_ID), and:
 *   SKIP_POSTDEPLOY_CHECK=true              skip the gate
 *   POSTDEPLOY_CHECK_TIMEOUT_SECONDS=300     give up after this long
 *   POSTDEPLOY_CHECK_INTERVAL_SECONDS=10     between attempts
 * Needs the Azure CLI signed in (`az login`) to read the function key; the key is never printed.
 * Decision logic: scripts/postdeploy-gate.mjs (unit-tested against a local stub).
 */
import { az as azCli, seconds } from './az-cli.mjs';
import { endpointsFrom, runGate, shouldSkip } from './postdeploy-gate.mjs';

const env = process.env;
const say = (line) => console.log(line);

function az(args) {
  return azCli(args, { timeoutMs: 60_000 }).trim();
}

/** The configCheck function's default key, else the host's default function key. */
function functionKey() {
  const app = env.AZURE_FUNCTION_APP_NAME;
  const group = env.AZURE_RESOURCE_GROUP;
  if (!app || !group) throw new Error('AZURE_FUNCTION_APP_NAME / AZURE_RESOURCE_GROUP are not set (run azd provision)');
  const scope = [
    '--resource-group',
    group,
    '--name',
    app,
    ...(env.AZURE_SUBSCRIPTION_ID ? ['--subscription', env.AZURE_SUBSCRIPTION_ID] : []),
  ];
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
      failure = error;
    }
  }
  throw failure ?? new Error('az returned no function key');
}

async function main() {
  if (shouldSkip(env)) {
    say('postdeploy check: skipped (SKIP_POSTDEPLOY_CHECK=true)');
    return 0;
  }
  const { pingUrl, configCheckUrl } = endpointsFrom(env);
  const timeoutSeconds = seconds(env, 'POSTDEPLOY_CHECK_TIMEOUT_SECONDS', 300);
  say(`postdeploy check: ${pingUrl}, then ${configCheckUrl} with a function key (up to ${timeoutSeconds} s)`);
  const result = await runGate({
    pingUrl,
    configCheckUrl,
    getKey: functionKey,
    timeoutMs: timeoutSeconds * 1000,
    intervalMs: seconds(env, 'POSTDEPLOY_CHECK_INTERVAL_SECONDS', 10) * 1000,
    log: say,
  });
  if (result.ok) {
    say(`postdeploy check: passed after ${Math.round(result.elapsedMs / 1000)} s (${result.summary})`);
    return 0;
  }
  console.error(`postdeploy check FAILED: ${result.summary}`);
  for (const line of result.diagnosis) console.error(`  ${line}`);
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
