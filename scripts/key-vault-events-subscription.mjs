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
 * The subscription goes to ARM over HTTPS from this process (not `az rest`, which neither polls a long-running
 * operation nor shows its headers): PUT, then the operation's `Azure-AsyncOperation` status until it is final, whose
 * `error` is what Event Grid says went wrong (e.g. the webhook validation handshake), then a GET of the subscription
 * (Microsoft.EventGrid 2022-06-15: PUT answers 201 and is long-running; provisioning states Creating, Updating,
 * Deleting, Succeeded, Canceled, Failed, AwaitingManualAction). The ARM endpoint and a token come from az (`az cloud
 * show`, `az account get-access-token`), so the signed-in account and cloud are the ones az uses.
 *
 * No process, az or environment access here beyond what the caller passes in; test/keyVaultEventsHook.test.ts runs it
 * with a stand-in for az and stubs of the ping endpoint and of ARM on 127.0.0.1. The system key and the ARM token are
 * never printed and never put on a command line, and are redacted from every message that could echo them (Event
 * Grid's validation errors name the endpoint URL).
 */
import { ARM_NAMES, checkAzAccount, envValue } from './az-cli.mjs';
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
/**
 * PUTs per run when Event Grid's validation of the webhook fails: on Flex Consumption the secretEvents function
 * (not HTTP) scales on its own instances, so the first validation request can meet a cold instance and time out.
 */
export const PUT_ATTEMPTS = 3;
const OPERATION_FINAL = new Set(['Succeeded', 'Failed', 'Canceled']);
/** Larger ARM answers are cut: nothing the hook reads is bigger. */
const MAX_ARM_BODY = 64 * 1024;

/** SKIP_KEY_VAULT_EVENTS=true (also 1/yes, any case) skips the hook. */
export function shouldSkip(env) {
  return /^(true|1|yes)$/i.test(String(env.SKIP_KEY_VAULT_EVENTS ?? '').trim());
}

/**
 * What the hook needs, from the azd environment: the subscription's ARM id (under the system topic), the function
 * host (from PING_URL, https only: the system key is sent to it), the app's name and group for `az`, and the optional
 * dead-letter destination (outputs of infra/main.bicep; both empty = none).
 */
export function settingsFrom(env) {
  const subscriptionId = envValue(env, 'AZURE_SUBSCRIPTION_ID', ARM_NAMES.AZURE_SUBSCRIPTION_ID);
  const resourceGroup = envValue(env, 'AZURE_RESOURCE_GROUP', ARM_NAMES.AZURE_RESOURCE_GROUP);
  const topicName = envValue(env, 'KEY_VAULT_EVENTS_TOPIC_NAME', ARM_NAMES.KEY_VAULT_EVENTS_TOPIC_NAME);
  const appName = envValue(env, 'AZURE_FUNCTION_APP_NAME', ARM_NAMES.AZURE_FUNCTION_APP_NAME);
  if (env.AZURE_TENANT_ID) envValue(env, 'AZURE_TENANT_ID', ARM_NAMES.AZURE_TENANT_ID);
  if (!env.PING_URL)
    throw new Error('PING_URL is not set: run `azd provision` first (it is an output of infra/main.bicep)');
  const ping = checkedUrl(env.PING_URL, 'PING_URL');
  if (ping.protocol !== 'https:')
    throw new Error('PING_URL must be https: the Event Grid system key is sent to that host');
  let deadLetter;
  if (env.KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID || env.KEY_VAULT_EVENTS_DEAD_LETTER_CONTAINER) {
    deadLetter = {
      storageAccountId: envValue(
        env,
        'KEY_VAULT_EVENTS_DEAD_LETTER_STORAGE_ID',
        /^\/subscriptions\/[0-9a-fA-F-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Storage\/storageAccounts\/[a-z0-9]{3,24}$/,
      ),
      container: envValue(env, 'KEY_VAULT_EVENTS_DEAD_LETTER_CONTAINER', /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/),
    };
  }
  return {
    subscriptionId,
    resourceGroup,
    appName,
    pingUrl: ping.href,
    functionHost: ping.host,
    subscriptionResourceId:
      `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.EventGrid` +
      `/systemTopics/${topicName}/eventSubscriptions/${SUBSCRIPTION_NAME}`,
    ...(deadLetter ? { deadLetter } : {}),
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
 * secret event types, Event Grid schema, Event Grid's default retry policy written out (30 attempts within 24 h), and,
 * when given, dead-lettering to a blob container with the system topic's own identity (deadLetterWithResourceIdentity,
 * StorageBlob: resourceId + blobContainerName; the topic identity's grant is in infra/app/rbac.bicep).
 */
export function subscriptionBody(endpointUrl, deadLetter) {
  return {
    properties: {
      destination: {
        endpointType: 'WebHook',
        properties: { endpointUrl, maxEventsPerBatch: 1, preferredBatchSizeInKilobytes: 64 },
      },
      filter: { includedEventTypes: [...EVENT_TYPES] },
      eventDeliverySchema: 'EventGridSchema',
      retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 },
      ...(deadLetter
        ? {
            deadLetterWithResourceIdentity: {
              identity: { type: 'SystemAssigned' },
              deadLetterDestination: {
                endpointType: 'StorageBlob',
                properties: { resourceId: deadLetter.storageAccountId, blobContainerName: deadLetter.container },
              },
            },
          }
        : {}),
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

/** `code: message` of an ARM error body ({ error: { code, message } }), or '' when there is none. */
export function armError(json) {
  const error = json?.error ?? json?.properties?.error;
  if (!error || typeof error !== 'object') return '';
  return oneLine([error.code, error.message].filter(Boolean).join(': '));
}

/** Whether an Event Grid error is the webhook validation failing (worth another PUT). */
export function isValidationFailure(text) {
  return /validation|handshake/i.test(String(text ?? ''));
}

/**
 * Creates or updates the subscription. Resolves to { ok, summary, diagnosis }; never throws for az or HTTP failures.
 *
 *   az(args): string   runs the Azure CLI, returns stdout, throws (an AzError marked `final` when waiting cannot help)
 *   env                the azd environment (AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID) for the up-front az check
 *
 * Steps, within timeoutMs: az can act for this deployment (`az account show`, once: a final failure stops at once);
 * the ping answers 200 (the host runs, so the Event Grid extension has created its system key); the
 * `eventgrid_extension` system key is readable (it can lag behind the first start, so it is polled, as Microsoft's
 * Event Grid quickstart template does); PUT the subscription to ARM and follow its asynchronous operation to the end
 * (a failed validation is retried up to PUT_ATTEMPTS PUTs); GET it: Succeeded passes, a 404 after a successful PUT or
 * AwaitingManualAction fails.
 */
export async function runSubscribe({
  settings,
  az,
  env = {},
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
  const finalFailure = (error) =>
    fail(error?.message ?? String(error), error?.fix ? [`Fix: ${error.fix}`] : ['Waiting would not change this.']);
  const elapsed = () => Math.round((now() - started) / 1000);
  /** Waits for `attempt` to return a value (undefined + a reason string means "not yet"; `final` means stop). */
  const poll = async (what, attempt) => {
    for (let n = 1; ; n++) {
      const { value, reason, final } = await attempt();
      if (final) return { final };
      if (value !== undefined) return { value };
      if (now() + intervalMs > deadline) return { reason: `gave up after ${elapsed()} s ${what}: ${clean(reason)}` };
      log(
        `key vault events: ${what}: ${clean(reason)} (attempt ${n}, ${elapsed()} s of ${Math.round(timeoutMs / 1000)} s)`,
      );
      await sleep(intervalMs);
    }
  };
  const azValue = (args) => {
    try {
      return { value: oneLine(az(args)) };
    } catch (error) {
      return error?.final ? { final: error } : { reason: error?.message ?? String(error) };
    }
  };

  try {
    checkAzAccount(az, env);
  } catch (error) {
    return finalFailure(error);
  }

  const pinged = await poll('waiting for the deployed app', async () => {
    const reason = await pingOnce(fetchImpl, settings.pingUrl, Math.min(15_000, Math.max(0, deadline - now())));
    return reason === undefined ? { value: true } : { reason };
  });
  if (pinged.reason) return fail(pinged.reason, ['The deployed ping never answered 200, so the host is not running.']);

  const scope = [
    '--resource-group',
    settings.resourceGroup,
    '--name',
    settings.appName,
    '--subscription',
    settings.subscriptionId,
  ];
  const keyed = await poll('waiting for the eventgrid_extension system key', async () => {
    const answer = azValue([
      'functionapp',
      'keys',
      'list',
      ...scope,
      '--query',
      'systemKeys.eventgrid_extension',
      '--output',
      'tsv',
    ]);
    if (answer.value) secrets.push(answer.value, encodeURIComponent(answer.value));
    return answer.value === '' ? { reason: 'the host has not created it yet' } : answer;
  });
  if (keyed.final) return finalFailure(keyed.final);
  if (keyed.reason) {
    return fail(keyed.reason, [
      `No eventgrid_extension system key: is ${FUNCTION_NAME} deployed (az functionapp function list), and may you ` +
        'list the host keys (Microsoft.Web/sites/host/listkeys/action)?',
    ]);
  }

  // ARM endpoint of az's cloud, and a token for it (kept out of every message).
  const endpoint = azValue(['cloud', 'show', '--query', 'endpoints.resourceManager', '--output', 'tsv']);
  if (endpoint.final || endpoint.reason) return endpoint.final ? finalFailure(endpoint.final) : fail(endpoint.reason);
  let arm;
  try {
    arm = checkedUrl(endpoint.value, 'the ARM endpoint of az');
  } catch (error) {
    return fail(error.message);
  }
  // --resource-type arm: the ARM audience of az's cloud; --subscription: a token from the deployment's tenant.
  const token = azValue([
    'account',
    'get-access-token',
    '--resource-type',
    'arm',
    '--subscription',
    settings.subscriptionId,
    '--query',
    'accessToken',
    '--output',
    'tsv',
  ]);
  if (token.value) secrets.push(token.value);
  if (token.final || token.reason || !token.value) {
    return token.final ? finalFailure(token.final) : fail(token.reason ?? 'az returned no ARM token');
  }

  const resourceUrl = new URL(`${settings.subscriptionResourceId}?api-version=${API_VERSION}`, arm).href;
  const request = async (method, url, body) => {
    try {
      const response = await fetchImpl(url, {
        method,
        headers: {
          authorization: `Bearer ${token.value}`,
          accept: 'application/json',
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        redirect: 'error',
        signal: AbortSignal.timeout(Math.max(1000, Math.min(60_000, deadline - now()))),
      });
      const text = (await response.text()).slice(0, MAX_ARM_BODY);
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, json, text };
    } catch (error) {
      return { error: String(error?.cause?.code ?? error?.name ?? 'error') };
    }
  };
  /** The Azure-AsyncOperation URL, only on the ARM endpoint the token is for. */
  const operationUrl = (headers) => {
    const header = headers?.get('azure-asyncoperation');
    if (!header) return undefined;
    try {
      const url = new URL(header);
      return url.origin === arm.origin ? url.href : undefined;
    } catch {
      return undefined;
    }
  };

  const body = subscriptionBody(webhookUrl(settings.functionHost, keyed.value), settings.deadLetter);
  for (let put = 1; ; put++) {
    const created = await request('PUT', resourceUrl, body);
    if (created.error || created.status >= 300) {
      const reason = created.error ?? (armError(created.json) || `HTTP ${created.status}`);
      const final = created.status === 401 || created.status === 403 || created.status === 404;
      const diagnosis = final
        ? [
            'ARM refused the event subscription: you need Microsoft.EventGrid/systemTopics/eventSubscriptions/write on ' +
              'the system topic (Contributor on the resource group has it).',
          ]
        : [];
      if (!final && isValidationFailure(reason) && put < PUT_ATTEMPTS && now() + intervalMs <= deadline) {
        log(
          `key vault events: ${clean(reason)}; the endpoint may have been cold, trying again (PUT ${put + 1} of ${PUT_ATTEMPTS})`,
        );
        await sleep(intervalMs);
        continue;
      }
      return fail(`creating the event subscription failed: ${reason}`, diagnosis);
    }

    // Follow the long-running operation to its end, and read its error.
    const operation = operationUrl(created.headers);
    let operationError = '';
    if (operation) {
      const done = await poll('waiting for Event Grid to validate the endpoint', async () => {
        const status = await request('GET', operation);
        if (status.error || status.status >= 300)
          return { reason: status.error ?? `operation status HTTP ${status.status}` };
        const state = String(status.json?.status ?? '');
        return OPERATION_FINAL.has(state)
          ? { value: { state, error: armError(status.json) } }
          : { reason: `operation ${state || 'unknown'}` };
      });
      if (done.reason) return fail(done.reason);
      if (done.value.state !== 'Succeeded') {
        operationError = done.value.error || `the operation ended ${done.value.state}`;
        if (isValidationFailure(operationError) && put < PUT_ATTEMPTS && now() + intervalMs <= deadline) {
          log(
            `key vault events: ${clean(operationError)}; the endpoint may have been cold, trying again ` +
              `(PUT ${put + 1} of ${PUT_ATTEMPTS})`,
          );
          await sleep(intervalMs);
          continue;
        }
        return fail(`the event subscription failed: ${operationError}`, [
          'Event Grid could not validate the webhook: check that the host runs the deployed package ' +
            `(${FUNCTION_NAME} listed by az functionapp function list) and answers ${settings.pingUrl}.`,
        ]);
      }
    }

    // The subscription itself: it must exist and be Succeeded.
    const state = await poll('waiting for the event subscription', async () => {
      const got = await request('GET', resourceUrl);
      if (got.status === 404) return { value: 'NotFound' };
      if (got.error || got.status >= 300) return { reason: got.error ?? (armError(got.json) || `HTTP ${got.status}`) };
      const value = String(got.json?.properties?.provisioningState ?? '');
      return ['Succeeded', 'Failed', 'Canceled', 'AwaitingManualAction'].includes(value)
        ? { value }
        : { reason: `provisioning state ${value || 'unknown'}` };
    });
    if (state.reason) return fail(state.reason);
    if (state.value === 'NotFound') {
      return fail('the event subscription does not exist after a successful PUT', [
        'Event Grid removes a subscription whose endpoint validation failed; run `azd deploy` again, and check the ' +
          "system topic's DeliveryFailures log in Log Analytics.",
      ]);
    }
    if (state.value === 'AwaitingManualAction') {
      return fail('the event subscription is AwaitingManualAction', [
        'Event Grid is waiting for a manual validation of the webhook: the function host did not answer the ' +
          'validation handshake itself. Check that the deployed package registers ' +
          `${FUNCTION_NAME} with an Event Grid trigger, then run \`azd deploy\` again.`,
      ]);
    }
    if (state.value !== 'Succeeded') return fail(`the event subscription ended ${state.value}`);
    return {
      ok: true,
      summary:
        `${EVENT_TYPES.length} secret event types deliver to ${FUNCTION_NAME} (${elapsed()} s` +
        `${put > 1 ? `, ${put} PUTs` : ''}${settings.deadLetter ? ', dead-letter to blob' : ''})`,
      diagnosis: [],
    };
  }
}
