/**
 * Decision logic of the Key Vault events hook (scripts/key-vault-events.mjs): subscribe the deployed `secretEvents`
 * function to the vault's Event Grid system topic (infra/app/key-vault-events.bicep) for exactly the three secret
 * event types, the way Microsoft's Flex Consumption samples wire Event Grid to a function: after the code is
 * deployed, as a webhook to the host's Event Grid endpoint with the `eventgrid_extension` system key
 * (Azure-Samples/azure-functions-flex-consumption-samples E2E/BLOB-PDF/scripts/post-up.sh,
 * Azure-Samples/functions-quickstart-dotnet-azd-eventgrid-blob scripts/post-up.sh). It cannot be part of the Bicep:
 * azd provisions before it deploys, and Event Grid validates the endpoint when the subscription is created, so on a
 * first `azd up` the function does not exist yet (Azure/bicep#11656: "Destination endpoint not found").
 *
 * No process, az or environment access here beyond what the caller passes in; test/keyVaultEventsHook.test.ts runs it
 * with a stand-in for az and a stub of the ping endpoint on 127.0.0.1. The system key is never printed, never put on a
 * command line (the subscription goes to ARM as a request body the caller writes to a private file) and redacted from
 * every message that could echo it (Event Grid's validation errors name the endpoint URL).
 */
import { checkedUrl, redact } from './postdeploy-gate.mjs';

/** The function the subscription delivers to (src/functions/secretEvents.ts registers it). */
export const FUNCTION_NAME = 'secretEvents';
/** The event types, exactly those src/events/keyVaultEvents.ts handles (the infra drift test compares the two). */
export const EVENT_TYPES = Object.freeze([
  'Microsoft.KeyVault.SecretNewVersionCreated',
  'Microsoft.KeyVault.SecretNearExpiry',
  'Microsoft.KeyVault.SecretExpired',
]);
export const SUBSCRIPTION_NAME = 'secret-events-to-function';
/** Microsoft.EventGrid API version for the system topic's event subscription (GA). */
export const API_VERSION = '2022-06-15';
const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

/** SKIP_KEY_VAULT_EVENTS=true (also 1/yes, any case) skips the hook. */
export function shouldSkip(env) {
  return /^(true|1|yes)$/i.test(String(env.SKIP_KEY_VAULT_EVENTS ?? '').trim());
}

function armName(env, name, pattern) {
  const value = String(env[name] ?? '').trim();
  if (!value) throw new Error(`${name} is not set: run \`azd provision\` first (it is an output of infra/main.bicep)`);
  if (!pattern.test(value)) throw new Error(`${name} is not a valid name: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

/**
 * What the hook needs, from the azd environment: the subscription's ARM id (under the system topic), the function
 * host (from PING_URL, https only: the system key is sent to it), and the app's name and group for `az`.
 */
export function settingsFrom(env) {
  const subscriptionId = armName(env, 'AZURE_SUBSCRIPTION_ID', /^[0-9a-fA-F-]{36}$/);
  const resourceGroup = armName(env, 'AZURE_RESOURCE_GROUP', /^[-\w.()]{1,90}$/);
  const topicName = armName(env, 'KEY_VAULT_EVENTS_TOPIC_NAME', /^[A-Za-z0-9-]{3,128}$/);
  const appName = armName(env, 'AZURE_FUNCTION_APP_NAME', /^[A-Za-z0-9-]{2,60}$/);
  if (!env.PING_URL)
    throw new Error('PING_URL is not set: run `azd provision` first (it is an output of infra/main.bicep)');
  const ping = checkedUrl(env.PING_URL, 'PING_URL');
  if (ping.protocol !== 'https:')
    throw new Error('PING_URL must be https: the Event Grid system key is sent to that host');
  return {
    subscriptionId,
    resourceGroup,
    appName,
    pingUrl: ping.href,
    functionHost: ping.host,
    subscriptionResourceId:
      `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.EventGrid` +
      `/systemTopics/${topicName}/eventSubscriptions/${SUBSCRIPTION_NAME}`,
  };
}

/** The host's Event Grid webhook for the function (Functions runtime 2.x+: /runtime/webhooks/eventgrid). */
export function webhookUrl(functionHost, systemKey) {
  return (
    `https://${functionHost}/runtime/webhooks/eventgrid` +
    `?functionName=${encodeURIComponent(FUNCTION_NAME)}&code=${encodeURIComponent(systemKey)}`
  );
}

/**
 * The ARM request body of the event subscription: a webhook to the function, one event per request, exactly the three
 * secret event types, Event Grid schema, Event Grid's default retry policy written out (30 attempts within 24 h).
 */
export function subscriptionBody(endpointUrl) {
  return {
    properties: {
      destination: {
        endpointType: 'WebHook',
        properties: { endpointUrl, maxEventsPerBatch: 1, preferredBatchSizeInKilobytes: 64 },
      },
      filter: { includedEventTypes: [...EVENT_TYPES] },
      eventDeliverySchema: 'EventGridSchema',
      retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 },
    },
  };
}

function oneLine(text) {
  return String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim();
}

async function pingOnce(fetchImpl, url, timeoutMs) {
  try {
    const response = await fetchImpl(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(Math.max(1000, timeoutMs)),
    });
    await response.arrayBuffer();
    return response.status === 200 ? undefined : `ping answered HTTP ${response.status}`;
  } catch (error) {
    return `ping not reachable yet (${error?.cause?.code ?? error?.name ?? 'error'})`;
  }
}

/**
 * Creates or updates the subscription. Resolves to { ok, summary, diagnosis }; never throws for az or HTTP failures.
 *
 *   az(args): string        runs the Azure CLI, returns stdout, throws with a short message on failure
 *   writeBody(json): string writes the request body to a file only this user can read, returns its path
 *   removeBody(path)        deletes it
 *
 * Steps, within timeoutMs: the ping answers 200 (the host runs, so the Event Grid extension has created its system
 * key); the `eventgrid_extension` system key is readable (it can lag behind the first start, so it is polled, as
 * Microsoft's Event Grid quickstart template does); PUT the subscription through `az rest` (ARM endpoint of the
 * current cloud); GET it until its provisioning state is final (Event Grid validates the webhook meanwhile).
 */
export async function runSubscribe({
  settings,
  az,
  writeBody,
  removeBody = () => undefined,
  fetchImpl = globalThis.fetch,
  timeoutMs = 300_000,
  intervalMs = 10_000,
  log = () => undefined,
  now = () => Date.now(),
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}) {
  const started = now();
  const deadline = started + timeoutMs;
  const secrets = [];
  const clean = (text) => redact(oneLine(text), secrets);
  const fail = (summary, diagnosis = []) => ({ ok: false, summary: clean(summary), diagnosis: diagnosis.map(clean) });
  /** Waits for `attempt` to return a value (undefined + a reason string means "not yet"). */
  const poll = async (what, attempt) => {
    for (let n = 1; ; n++) {
      const { value, reason } = await attempt();
      if (value !== undefined) return { value };
      const elapsed = Math.round((now() - started) / 1000);
      if (now() + intervalMs > deadline) return { reason: `gave up after ${elapsed} s ${what}: ${clean(reason)}` };
      log(
        `key vault events: ${what}: ${clean(reason)} (attempt ${n}, ${elapsed} s of ${Math.round(timeoutMs / 1000)} s)`,
      );
      await sleep(intervalMs);
    }
  };

  const pinged = await poll('waiting for the deployed app', async () => {
    const reason = await pingOnce(fetchImpl, settings.pingUrl, Math.min(15_000, Math.max(0, deadline - now())));
    return reason === undefined ? { value: true } : { reason };
  });
  if (pinged.reason) return fail(pinged.reason, ['The deployed ping never answered 200, so the host is not running.']);

  const keyed = await poll('waiting for the eventgrid_extension system key', async () => {
    try {
      const key = String(
        az([
          'functionapp',
          'keys',
          'list',
          '--resource-group',
          settings.resourceGroup,
          '--name',
          settings.appName,
          '--subscription',
          settings.subscriptionId,
          '--query',
          'systemKeys.eventgrid_extension',
          '--output',
          'tsv',
        ]),
      ).trim();
      if (key) {
        secrets.push(key, encodeURIComponent(key));
        return { value: key };
      }
      return { reason: 'the host has not created it yet' };
    } catch (error) {
      return { reason: error?.message ?? String(error) };
    }
  });
  if (keyed.reason) {
    return fail(keyed.reason, [
      `No eventgrid_extension system key: is ${FUNCTION_NAME} deployed (az functionapp function list), and may you ` +
        'list the host keys (Microsoft.Web/sites/host/listkeys/action)?',
    ]);
  }

  const body = subscriptionBody(webhookUrl(settings.functionHost, keyed.value));
  const url = `${settings.subscriptionResourceId}?api-version=${API_VERSION}`;
  const path = writeBody(JSON.stringify(body));
  try {
    az(['rest', '--method', 'put', '--url', url, '--body', `@${path}`, '--output', 'none']);
  } catch (error) {
    return fail(`creating the event subscription failed: ${error?.message ?? error}`, [
      'ARM refused the event subscription: you need Microsoft.EventGrid/systemTopics/eventSubscriptions/write on ' +
        'the system topic (Contributor on the resource group has it).',
    ]);
  } finally {
    removeBody(path);
  }

  const state = await poll('waiting for Event Grid to validate the endpoint', async () => {
    try {
      const value = oneLine(
        az(['rest', '--method', 'get', '--url', url, '--query', 'properties.provisioningState', '--output', 'tsv']),
      );
      return TERMINAL.has(value) ? { value } : { reason: `provisioning state ${value || 'unknown'}` };
    } catch (error) {
      return { reason: error?.message ?? String(error) };
    }
  });
  if (state.reason) return fail(state.reason);
  if (state.value !== 'Succeeded') {
    return fail(`the event subscription ended ${state.value}`, [
      'Event Grid could not validate the webhook: check that the host runs the deployed package ' +
        `(${FUNCTION_NAME} listed by az functionapp function list) and answers ${settings.pingUrl}.`,
    ]);
  }
  return {
    ok: true,
    summary: `${EVENT_TYPES.length} secret event types deliver to ${FUNCTION_NAME} (${Math.round((now() - started) / 1000)} s)`,
    diagnosis: [],
  };
}
