/**
 * What the azd hooks (preprovision.mjs, postdeploy.mjs, key-vault-events.mjs) share to speak to Azure Resource Manager
 * through the Azure SDK, signed in as azd is: the credential (`AzureDeveloperCliCredential` from @azure/identity, the
 * account `azd auth login` signed in, so a user needs azd and nothing else), the ARM endpoint and the SDK client options
 * for it, one up-front sign-in check, telling an SDK failure that waiting can clear from one it cannot, validating the
 * azd environment values the hooks put in ARM paths, and reading a positive number of seconds from the environment.
 *
 * No process of its own: the SDK clients send HTTPS requests; the credential runs `azd auth token` (the SDK's own
 * child process, its only one). Tests pass a credential and an endpoint on 127.0.0.1, or put a stand-in `azd` on PATH.
 */
import { AzureDeveloperCliCredential } from '@azure/identity';

/** Azure Resource Manager in the public cloud; AZURE_RESOURCE_MANAGER_ENDPOINT names another cloud's. */
export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';

/** A hook failure. `final`: waiting will not clear it (the hook stops at once and prints `fix`). */
export class HookError extends Error {
  constructor(message, { final = false, fix = '' } = {}) {
    super(message);
    this.name = 'HookError';
    this.final = final;
    this.fix = fix;
  }
}

/** The ARM endpoint's origin: AZURE_RESOURCE_MANAGER_ENDPOINT (https only, no path) or the public cloud's. */
export function armEndpoint(env) {
  const raw = String(env.AZURE_RESOURCE_MANAGER_ENDPOINT ?? '').trim() || PUBLIC_ARM_ENDPOINT;
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`AZURE_RESOURCE_MANAGER_ENDPOINT is not a URL: ${JSON.stringify(raw.slice(0, 80))}`);
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.pathname !== '/') {
    throw new Error('AZURE_RESOURCE_MANAGER_ENDPOINT must be an https origin, e.g. https://management.azure.com');
  }
  return url.origin;
}

/** The credential azd signed in with (`azd auth login`), for the deployment's tenant when AZURE_TENANT_ID is set. */
export function azdCredential(env) {
  const tenantId = env.AZURE_TENANT_ID ? envValue(env, 'AZURE_TENANT_ID', ARM_NAMES.AZURE_TENANT_ID) : undefined;
  return new AzureDeveloperCliCredential({ tenantId, processTimeoutInMs: 60_000 });
}

/**
 * Options for an Azure SDK management client talking to `endpoint`: both spellings of the endpoint (the generated
 * "classic" clients build URLs from `$host`, the newer ones from `endpoint`) and of the token scope, a few retries of
 * the SDK's own (429, 5xx, network), and `extra`.
 */
export function clientOptions(endpoint, extra = {}) {
  const scope = `${endpoint}/.default`;
  return {
    endpoint,
    $host: endpoint,
    credentialScopes: [scope],
    credentials: { scopes: [scope] },
    retryOptions: { maxRetries: 2, retryDelayInMs: 1000, maxRetryDelayInMs: 8000 },
    userAgentOptions: { userAgentPrefix: 'keyvault-functions-azd-hook' },
    additionalPolicies: [{ policy: armOnlyPolicy(endpoint), position: 'perCall' }],
    ...extra,
  };
}

/**
 * A pipeline policy that refuses any request to another origin than the ARM endpoint, before the SDK signs it: a
 * long-running operation's status URL (Azure-AsyncOperation, Location) comes from the service's answer, and the ARM
 * token must never follow one to another host.
 */
export function armOnlyPolicy(endpoint) {
  const origin = new URL(endpoint).origin;
  return {
    name: 'armOnly',
    sendRequest(request, next) {
      if (new URL(request.url).origin !== origin) {
        return Promise.reject(
          new HookError(`refused to send the ARM token to ${new URL(request.url).host} (not ${new URL(origin).host})`, {
            final: true,
            fix: 'a status URL from ARM pointed elsewhere; run the hook again, and report it if it repeats',
          }),
        );
      }
      return next(request);
    },
  };
}

const SIGN_IN_FIX = 'sign azd in: `azd auth login` (in CI, sign it in as the identity that runs the deployment)';

/**
 * What an SDK or credential failure means: { final, fix, message }. Final are the failures no amount of waiting clears:
 * azd missing or not signed in, a token for another tenant, not allowed, a subscription the account cannot see. The
 * rest (the app still starting, a key not created yet, a throttled or failing request) may clear.
 */
export function classifyArmFailure(error, env = {}) {
  const code = String(error?.code ?? error?.details?.error?.code ?? '');
  const status = Number(error?.statusCode ?? 0);
  const message = oneLine([code, error?.message ?? String(error)].filter(Boolean).join(': '));
  const tenant = String(env.AZURE_TENANT_ID ?? '').trim();
  if (error?.name === 'CredentialUnavailableError' || error?.name === 'AuthenticationError') {
    if (/couldn't be found|not found|not recognized|ENOENT/i.test(message)) {
      return { final: true, fix: 'install the Azure Developer CLI (https://aka.ms/azd-install)', message };
    }
    if (/tenant|AADSTS50020|AADSTS90072|AADSTS700016/i.test(message) && tenant) {
      return {
        final: true,
        fix: `sign azd in to the deployment's tenant: \`azd auth login --tenant-id ${tenant}\``,
        message,
      };
    }
    return { final: true, fix: SIGN_IN_FIX, message };
  }
  if (/InvalidAuthenticationTokenTenant|wrong issuer/i.test(message) || (status === 401 && tenant)) {
    const fix = tenant
      ? `sign azd in to the deployment's tenant: \`azd auth login --tenant-id ${tenant}\``
      : SIGN_IN_FIX;
    return { final: true, fix, message };
  }
  if (status === 401) return { final: true, fix: SIGN_IN_FIX, message };
  if (/SubscriptionNotFound|InvalidSubscriptionId/i.test(code) || /SubscriptionNotFound/.test(message)) {
    return {
      final: true,
      fix: 'sign azd in to an account that can see AZURE_SUBSCRIPTION_ID, or fix AZURE_SUBSCRIPTION_ID (azd env get-values)',
      message,
    };
  }
  if (status === 403 || /AuthorizationFailed|LinkedAuthorizationFailed/i.test(code)) {
    return {
      final: true,
      fix: 'the account azd is signed in as lacks a permission on this resource group (Contributor has what the hooks need)',
      message,
    };
  }
  return { final: false, fix: '', message };
}

/** `error` as a HookError: its classification (final, fix) and a one-line message. */
export function hookError(error, env = {}) {
  if (error instanceof HookError) return error;
  const { final, fix, message } = classifyArmFailure(error, env);
  return new HookError(message, { final, fix });
}

/**
 * The one up-front check: the credential gives a token for ARM (azd installed and signed in, in the deployment's
 * tenant). Throws a final HookError saying what to do. The token is not kept: the SDK clients ask for their own.
 */
export async function checkSignIn(credential, endpoint, env = {}) {
  try {
    const token = await credential.getToken(`${endpoint}/.default`);
    if (!token?.token) throw new HookError('the credential returned no token', { final: true, fix: SIGN_IN_FIX });
  } catch (error) {
    const failure = hookError(error, env);
    throw new HookError(`no ARM token from azd: ${failure.message}`, { final: true, fix: failure.fix || SIGN_IN_FIX });
  }
}

/**
 * An azd environment value the hooks put in an ARM path or a URL: set, trimmed, and matching `pattern` (ARM names and
 * ids only), else a clear error before anything is sent. Same rule for every hook.
 */
export function envValue(env, name, pattern) {
  const value = String(env[name] ?? '').trim();
  if (!value) throw new Error(`${name} is not set: run \`azd provision\` first (it is an output of infra/main.bicep)`);
  if (!pattern.test(value)) throw new Error(`${name} is not a valid name: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** ARM name patterns of the values the hooks read. */
export const ARM_NAMES = Object.freeze({
  AZURE_SUBSCRIPTION_ID: GUID,
  AZURE_TENANT_ID: GUID,
  AZURE_RESOURCE_GROUP: /^[-\w.()]{1,90}$/,
  AZURE_FUNCTION_APP_NAME: /^[A-Za-z0-9-]{2,60}$/,
  KEY_VAULT_EVENTS_TOPIC_NAME: /^[A-Za-z0-9-]{3,128}$/,
});

/** The Function App's { subscriptionId, resourceGroup, appName } from the azd environment, every value validated. */
export function functionAppScope(env) {
  const resourceGroup = envValue(env, 'AZURE_RESOURCE_GROUP', ARM_NAMES.AZURE_RESOURCE_GROUP);
  const appName = envValue(env, 'AZURE_FUNCTION_APP_NAME', ARM_NAMES.AZURE_FUNCTION_APP_NAME);
  const subscriptionId = envValue(env, 'AZURE_SUBSCRIPTION_ID', ARM_NAMES.AZURE_SUBSCRIPTION_ID);
  if (env.AZURE_TENANT_ID) envValue(env, 'AZURE_TENANT_ID', ARM_NAMES.AZURE_TENANT_ID);
  return { subscriptionId, resourceGroup, appName };
}

/** A positive number of seconds from the environment variable `name`, else `fallback`. */
export function seconds(env, name, fallback) {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of seconds`);
  return value;
}

export function oneLine(text) {
  return String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim();
}
