/**
 * azd `preprovision` hook (azure.yaml): before anything is created, the subscription has the resource providers the
 * template needs and a deployment does not register by itself (Microsoft.App for Flex Consumption; decision logic and
 * sources in scripts/resource-providers.mjs). Registers a missing one and waits (bounded), or stops with the command
 * to run.
 *
 * Inputs: AZURE_SUBSCRIPTION_ID (and AZURE_TENANT_ID) from the azd environment, and:
 *   SKIP_PROVIDER_CHECK=true                 skip
 *   PROVIDER_CHECK_TIMEOUT_SECONDS=300       give up waiting for a registration after this long
 *   AZURE_RESOURCE_MANAGER_ENDPOINT          another cloud's ARM endpoint (default https://management.azure.com)
 * Signed in as azd is (`azd auth login`): no Azure CLI needed, no process of its own.
 */
// No static import: every module below needs the packages `npm ci` installs (see main).

/** SKIP_PROVIDER_CHECK=true (also 1/yes, any case) skips the hook. */
function shouldSkip(env) {
  return /^(true|1|yes)$/i.test(String(env.SKIP_PROVIDER_CHECK ?? '').trim());
}

const env = process.env;
const say = (line) => console.log(line);

async function main() {
  if (shouldSkip(env)) {
    say('resource providers: skipped (SKIP_PROVIDER_CHECK=true)');
    return 0;
  }
  if (!String(env.AZURE_SUBSCRIPTION_ID ?? '').trim()) {
    say(
      'resource providers: not checked (no AZURE_SUBSCRIPTION_ID in the azd environment yet). If provisioning fails ' +
        "at the Function App, register Flex Consumption's provider: az provider register --namespace Microsoft.App --wait",
    );
    return 0;
  }
  // Loaded here, not at the top: `azd provision` on a clone without `npm ci` gets a sentence, not a stack trace.
  let sdk;
  try {
    sdk = {
      ...(await import('@azure/arm-resources')),
      ...(await import('./arm.mjs')),
      ...(await import('./resource-providers.mjs')),
    };
  } catch (error) {
    console.error(`resource providers FAILED: ${error.message}`);
    console.error(
      '  Fix: run `npm ci` in the project folder first (the hooks use the Azure SDK packages it installs).',
    );
    return 1;
  }
  const { ARM_NAMES, ResourceManagementClient, armEndpoint, azdCredential, checkSignIn, clientOptions } = sdk;
  const { envValue, runProviderCheck, seconds } = sdk;
  const subscriptionId = envValue(env, 'AZURE_SUBSCRIPTION_ID', ARM_NAMES.AZURE_SUBSCRIPTION_ID);
  const endpoint = armEndpoint(env);
  const credential = azdCredential(env);
  try {
    await checkSignIn(credential, endpoint, env);
  } catch (error) {
    console.error(`resource providers FAILED: ${error.message}`);
    if (error.fix) console.error(`  Fix: ${error.fix}`);
    return 1;
  }
  const client = new ResourceManagementClient(credential, subscriptionId, clientOptions(endpoint));
  const result = await runProviderCheck({
    providers: client.providers,
    subscriptionId,
    env,
    timeoutMs: seconds(env, 'PROVIDER_CHECK_TIMEOUT_SECONDS', 300) * 1000,
    intervalMs: seconds(env, 'PROVIDER_CHECK_INTERVAL_SECONDS', 10) * 1000,
    log: say,
  });
  if (result.ok) {
    say(`resource providers: ${result.summary}`);
    return 0;
  }
  console.error(`resource providers FAILED: ${result.summary}`);
  for (const line of result.diagnosis) console.error(`  ${line}`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`resource providers FAILED: ${error.message}`);
    process.exit(1);
  },
);
