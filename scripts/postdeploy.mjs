/**
 * azd `postdeploy` hook (azure.yaml): the deployment succeeds only if the deployed app answers and its own
 * configuration check is healthy. It calls PING_URL, gets a function key through the Azure SDK, calls /api/config/check with it,
 * waits (bounded, one progress line per attempt) while the platform starts the app and resolves Key Vault references,
 * and fails with the check's own diagnosis (setting name, state word, detail; never a value) otherwise.
 *
 * Inputs: the azd environment values azd passes to hooks (PING_URL, AZURE_FUNCTION_APP_NAME, AZURE_RESOURCE_GROUP,
 * AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID), validated as ARM names before any goes into an ARM path, and:
 *   SKIP_POSTDEPLOY_CHECK=true              skip the gate
 *   POSTDEPLOY_CHECK_TIMEOUT_SECONDS=300     give up after this long
 *   POSTDEPLOY_CHECK_INTERVAL_SECONDS=10     between attempts
 *   AZURE_RESOURCE_MANAGER_ENDPOINT          another cloud's ARM endpoint (default https://management.azure.com)
 * Reads the function key through the Azure SDK (@azure/arm-appservice), signed in as azd is (`azd auth login`;
 * scripts/arm.mjs): no Azure CLI, no process of its own. The key is never printed. A token is asked for once first:
 * azd missing, not signed in, or signed in to another tenant fails at once with the fix.
 * Decision logic: scripts/postdeploy-gate.mjs (unit-tested against a local stub).
 */
import { WebSiteManagementClient } from '@azure/arm-appservice';
import { armEndpoint, azdCredential, checkSignIn, clientOptions, functionAppScope, seconds } from './arm.mjs';
import { functionKey } from './function-keys.mjs';
import { endpointsFrom, runGate, shouldSkip } from './postdeploy-gate.mjs';

const env = process.env;
const say = (line) => console.log(line);

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
  const endpoint = armEndpoint(env);
  const timeoutSeconds = seconds(env, 'POSTDEPLOY_CHECK_TIMEOUT_SECONDS', 300);
  const credential = azdCredential(env);
  // Once, up front: azd is signed in for this deployment. What this finds never clears by waiting.
  try {
    await checkSignIn(credential, endpoint, env);
  } catch (error) {
    printFailure(error.message, error.fix ? [`Fix: ${error.fix}`] : []);
    return 1;
  }
  const { webApps } = new WebSiteManagementClient(credential, scope.subscriptionId, clientOptions(endpoint));
  say(`postdeploy check: ${pingUrl}, then ${configCheckUrl} with a function key (up to ${timeoutSeconds} s)`);
  const result = await runGate({
    pingUrl,
    configCheckUrl,
    getKey: () => functionKey(webApps, scope, env),
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
