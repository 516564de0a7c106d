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
 * Through the Azure SDK, signed in as azd is (scripts/arm.mjs): the system key from @azure/arm-appservice
 * (`webApps.listHostKeys`), the subscription with @azure/arm-eventgrid (`systemTopicEventSubscriptions
 * .beginCreateOrUpdateAndWait`, whose long-running-operation poller follows the PUT to its end and throws what Event
 * Grid says went wrong, e.g. the webhook validation handshake; then `get`: Microsoft.EventGrid provisioning states
 * Creating, Updating, Deleting, Succeeded, Canceled, Failed, AwaitingManualAction). The SDK clients never send the ARM
 * token to another host (scripts/arm.mjs armOnlyPolicy), and this module never holds it.
 *
 * No process, environment or network access here beyond the clients and the fetch the caller passes in;
 * test/keyVaultEventsHook.test.ts runs it with the real Event Grid client against an HTTPS stub of ARM on 127.0.0.1.
 * The system key is never printed: it travels only in the subscription's request body, and every message that could
 * echo the webhook URL (Event Grid's validation errors name it) is redacted of every spelling of the key (raw,
 * percent-encoded in either case, encoded twice) and of any `code=` query value.
 */
import { ARM_NAMES, envValue, hookError, oneLine } from './arm.mjs';
import { systemKey } from './function-keys.mjs';
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
/** The Event Grid trigger's system key (the host creates it on first start with the extension loaded). */
export const SYSTEM_KEY_NAME = 'eventgrid_extension';
/**
 * PUTs per run when Event Grid's validation of the webhook fails: on Flex Consumption the secretEvents function
 * (not HTTP) scales on its own instances, so the first validation request can meet a cold instance and time out.
 */
export const PUT_ATTEMPTS = 3;

/** SKIP_KEY_VAULT_EVENTS=true (also 1/yes, any case) skips the hook. */
export function shouldSkip(env) {
  return /^(true|1|yes)$/i.test(String(env.SKIP_KEY_VAULT_EVENTS ?? '').trim());
}

/**
 * What the hook needs, from the azd environment: the subscription's ARM id (under the system topic), the function
 * host (from PING_URL, https only: the system key is sent to it), the app's name and group, and the optional
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
    topicName,
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

/**
 * The same subscription as the Azure SDK's EventSubscription model (@azure/arm-eventgrid serializes it into the body
 * above: `destination`, `filter`, ... under `properties`; the destination's own fields flattened into it).
 */
export function subscriptionModel(endpointUrl, deadLetter) {
  const { destination, deadLetterWithResourceIdentity, ...rest } = subscriptionBody(endpointUrl, deadLetter).properties;
  return {
    ...rest,
    destination: { endpointType: destination.endpointType, ...destination.properties },
    ...(deadLetterWithResourceIdentity
      ? {
          deadLetterWithResourceIdentity: {
            identity: deadLetterWithResourceIdentity.identity,
            deadLetterDestination: {
              endpointType: 'StorageBlob',
              ...deadLetterWithResourceIdentity.deadLetterDestination.properties,
            },
          },
        }
      : {}),
  };
}

/** `text` without the value of any `code=` query parameter (the webhook URL's key, in whatever spelling). */
export function withoutCodeParameter(text) {
  return String(text).replace(/([?&](?:amp;)?code(?:=|%3D))[^&\s"'<>]*/gi, '$1***');
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

/** Whether an Event Grid error is the webhook validation failing (worth another PUT). */
export function isValidationFailure(text) {
  return /validation|handshake/i.test(String(text ?? ''));
}

/**
 * Creates or updates the subscription. Resolves to { ok, summary, diagnosis }; never throws for ARM or HTTP failures.
 *
 *   webApps               @azure/arm-appservice WebSiteManagementClient.webApps (listHostKeys)
 *   eventSubscriptions    @azure/arm-eventgrid EventGridManagementClient.systemTopicEventSubscriptions
 *
 * Steps, within timeoutMs (the caller has checked the sign-in once): the ping answers 200 (the host runs, so the Event
 * Grid extension has created its system key); the `eventgrid_extension` system key is readable (it can lag behind the
 * first start, so it is polled, as Microsoft's Event Grid quickstart template does); create or update the
 * subscription and follow its long-running operation to the end (a failed validation is retried up to PUT_ATTEMPTS
 * PUTs); get it: Succeeded passes, a 404 after a successful PUT or AwaitingManualAction fails. A final failure (not
 * signed in, another tenant, no permission) stops at once with its fix.
 */
export async function runSubscribe({
  settings,
  webApps,
  eventSubscriptions,
  env = {},
  fetchImpl = globalThis.fetch,
  timeoutMs = 300_000,
  intervalMs = 10_000,
  pollIntervalMs = 5_000,
  log = () => undefined,
  now = () => Date.now(),
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}) {
  const started = now();
  const deadline = started + timeoutMs;
  const secrets = [];
  const clean = (text) => redact(withoutCodeParameter(oneLine(text)), secrets);
  const fail = (summary, diagnosis = []) => ({ ok: false, summary: clean(summary), diagnosis: diagnosis.map(clean) });
  const finalFailure = (error) =>
    fail(error?.message ?? String(error), error?.fix ? [`Fix: ${error.fix}`] : ['Waiting would not change this.']);
  const elapsed = () => Math.round((now() - started) / 1000);
  const remaining = () => Math.max(1000, deadline - now());
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
  /** An SDK call: { value } or { reason } (may clear) or { final } (a HookError with its fix). */
  const attemptSdk = async (call) => {
    try {
      return { value: await call() };
    } catch (error) {
      const failure = hookError(error, env);
      return failure.final ? { final: failure } : { reason: failure.message };
    }
  };

  const pinged = await poll('waiting for the deployed app', async () => {
    const reason = await pingOnce(fetchImpl, settings.pingUrl, Math.min(15_000, Math.max(0, deadline - now())));
    return reason === undefined ? { value: true } : { reason };
  });
  if (pinged.reason) return fail(pinged.reason, ['The deployed ping never answered 200, so the host is not running.']);

  const scope = { resourceGroup: settings.resourceGroup, appName: settings.appName };
  const keyed = await poll(`waiting for the ${SYSTEM_KEY_NAME} system key`, async () => {
    const answer = await attemptSdk(() => systemKey(webApps, scope, SYSTEM_KEY_NAME, env));
    if (answer.value) secrets.push(answer.value);
    return answer.value === '' ? { reason: 'the host has not created it yet' } : answer;
  });
  if (keyed.final) return finalFailure(keyed.final);
  if (keyed.reason) {
    return fail(keyed.reason, [
      `No ${SYSTEM_KEY_NAME} system key: is ${FUNCTION_NAME} deployed (the portal lists the app's functions), and ` +
        'may you list the host keys (Microsoft.Web/sites/host/listkeys/action)?',
    ]);
  }

  const notFound = () =>
    fail('the event subscription does not exist after a successful PUT', [
      'Event Grid removes a subscription whose endpoint validation failed; run `azd deploy` again, and check the ' +
        "system topic's DeliveryFailures log in Log Analytics (and that the topic exists: `azd provision`).",
    ]);
  const model = subscriptionModel(webhookUrl(settings.functionHost, keyed.value), settings.deadLetter);
  for (let put = 1; ; put++) {
    const created = await attemptSdk(() =>
      eventSubscriptions.beginCreateOrUpdateAndWait(
        settings.resourceGroup,
        settings.topicName,
        SUBSCRIPTION_NAME,
        model,
        { updateIntervalInMs: pollIntervalMs, abortSignal: AbortSignal.timeout(remaining()) },
      ),
    );
    if (created.final) {
      const diagnosis = /write|AuthorizationFailed|403/i.test(created.final.message)
        ? [
            'ARM refused the event subscription: you need Microsoft.EventGrid/systemTopics/eventSubscriptions/write ' +
              'on the system topic (Contributor on the resource group has it).',
          ]
        : [];
      return fail(`creating the event subscription failed: ${created.final.message}`, [
        ...diagnosis,
        ...(created.final.fix ? [`Fix: ${created.final.fix}`] : []),
      ]);
    }
    if (created.reason !== undefined) {
      const reason = created.reason;
      // The SDK's poller reads the subscription once its operation succeeded: a 404 then means Event Grid removed it.
      if (/\bResourceNotFound\b/.test(reason)) return notFound();
      if (isValidationFailure(reason) && put < PUT_ATTEMPTS && now() + intervalMs <= deadline) {
        log(
          `key vault events: ${clean(reason)}; the endpoint may have been cold, trying again (PUT ${put + 1} of ${PUT_ATTEMPTS})`,
        );
        await sleep(intervalMs);
        continue;
      }
      const diagnosis = isValidationFailure(reason)
        ? [
            'Event Grid could not validate the webhook: check that the host runs the deployed package ' +
              `(${FUNCTION_NAME} among the app's functions) and answers ${settings.pingUrl}.`,
          ]
        : [];
      return fail(`creating the event subscription failed: ${reason}`, diagnosis);
    }

    // The subscription itself: it must exist and be Succeeded.
    const state = await poll('waiting for the event subscription', async () => {
      const got = await attemptSdk(() =>
        eventSubscriptions.get(settings.resourceGroup, settings.topicName, SUBSCRIPTION_NAME),
      );
      if (got.final) return got;
      if (got.reason !== undefined)
        return /ResourceNotFound|NotFound|404/i.test(got.reason) ? { value: 'NotFound' } : got;
      const value = String(got.value?.provisioningState ?? '');
      return ['Succeeded', 'Failed', 'Canceled', 'AwaitingManualAction'].includes(value)
        ? { value }
        : { reason: `provisioning state ${value || 'unknown'}` };
    });
    if (state.final) return finalFailure(state.final);
    if (state.reason) return fail(state.reason);
    if (state.value === 'NotFound') return notFound();
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
