/**
 * azd `postdeploy` hook of the `api` service (azure.yaml): subscribes the deployed `secretEvents` function to Key
 * Vault's secret events (SecretNewVersionCreated, SecretNearExpiry, SecretExpired) on the vault's Event Grid system
 * topic, which infra/ creates. Runs after every deploy of the service (before the project's postdeploy check);
 * creating the subscription again is an update, so it also picks up a regenerated system key.
 *
 * Inputs: the azd environment values azd passes to hooks (AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID, AZURE_RESOURCE_GROUP,
 * AZURE_FUNCTION_APP_NAME, KEY_VAULT_EVENTS_TOPIC_NAME, PING_URL, and KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID /
 * KEY_VAULT_EVENTS_DEAD_LETTER_CONTAINER when dead-lettering is on), and:
 *   SKIP_KEY_VAULT_EVENTS=true              skip (the app then picks up rotations within SECRET_CACHE_TTL_SECONDS)
 *   POSTDEPLOY_CHECK_TIMEOUT_SECONDS=300     give up after this long
 *   POSTDEPLOY_CHECK_INTERVAL_SECONDS=10     between attempts
 *   AZURE_RESOURCE_MANAGER_ENDPOINT          another cloud's ARM endpoint (default https://management.azure.com)
 * Signed in as azd is (`azd auth login`; scripts/arm.mjs), as a principal that may list the app's host keys and write
 * event subscriptions on the system topic; a token is asked for once up front. No Azure CLI, no process of its own.
 * The system key and the ARM token are never printed.
 * Decision logic: scripts/key-vault-events-subscription.mjs (tested against an HTTPS stub of ARM).
 */
import { WebSiteManagementClient } from '@azure/arm-appservice';
import { EventGridManagementClient } from '@azure/arm-eventgrid';
import { armEndpoint, azdCredential, checkSignIn, clientOptions, seconds } from './arm.mjs';
import { runSubscribe, settingsFrom, shouldSkip } from './key-vault-events-subscription.mjs';

const env = process.env;
const say = (line) => console.log(line);

/**
 * The subscription is optional: azure.yaml marks this hook continueOnError, so azd reports the non-zero exit as a
 * warning and goes on to the project's postdeploy check, which decides whether the deployment works.
 */
function warn(summary, diagnosis = []) {
  console.error(`key vault events: NOT SUBSCRIBED (warning; the deployment continues): ${summary}`);
  for (const line of diagnosis) console.error(`  ${line}`);
  console.error(
    'The app works without the subscription: rotations then reach it within its cache TTL ' +
      '(docs/deployment-reference.md, Key Vault events). Fix the cause and run `azd deploy` again to subscribe, or set ' +
      'SKIP_KEY_VAULT_EVENTS=true to deploy without it. The postdeploy check runs next and decides.',
  );
}

async function main() {
  if (shouldSkip(env)) {
    say('key vault events: skipped (SKIP_KEY_VAULT_EVENTS=true); rotations reach the app within its cache TTL');
    return 0;
  }
  const settings = settingsFrom(env);
  const endpoint = armEndpoint(env);
  const credential = azdCredential(env);
  try {
    await checkSignIn(credential, endpoint, env);
  } catch (error) {
    warn(error.message, error.fix ? [`Fix: ${error.fix}`] : []);
    return 1;
  }
  const options = clientOptions(endpoint);
  say(`key vault events: subscribing ${settings.appName} to the vault's secret events`);
  const result = await runSubscribe({
    settings,
    webApps: new WebSiteManagementClient(credential, settings.subscriptionId, options).webApps,
    eventSubscriptions: new EventGridManagementClient(credential, settings.subscriptionId, options)
      .systemTopicEventSubscriptions,
    env,
    timeoutMs: seconds(env, 'POSTDEPLOY_CHECK_TIMEOUT_SECONDS', 300) * 1000,
    intervalMs: seconds(env, 'POSTDEPLOY_CHECK_INTERVAL_SECONDS', 10) * 1000,
    log: say,
  });
  if (result.ok) {
    say(`key vault events: ${result.summary}`);
    return 0;
  }
  warn(result.summary, result.diagnosis);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    warn(error.message);
    process.exit(1);
  },
);
