/**
 * The Function App keys the azd hooks need, read through the Azure SDK (@azure/arm-appservice `webApps`, which the
 * caller passes in): the configCheck function's default key (else the host's default function key) for the postdeploy
 * check, and a host system key (eventgrid_extension) for the Key Vault events hook. Keys are returned, never printed.
 *
 * ARM answers functions/{name}/listkeys with the keys at the top level (`{"default": "..."}`, as `az functionapp
 * function keys list` prints them) while the SDK's StringDictionary model reads `properties`; both shapes are read,
 * from the SDK's result and from the raw response body (the `onResponse` callback every SDK operation takes).
 */
import { HookError, hookError } from './arm.mjs';

function rawBody(response) {
  if (response?.parsedBody && typeof response.parsedBody === 'object') return response.parsedBody;
  try {
    return JSON.parse(response?.bodyAsText ?? '');
  } catch {
    return undefined;
  }
}

/** The configCheck function's default key, else the host's default function key. A final SDK error is rethrown. */
export async function functionKey(webApps, { resourceGroup, appName }, env = {}) {
  let failure;
  try {
    let raw;
    const keys = await webApps.listFunctionKeys(resourceGroup, appName, 'configCheck', {
      onResponse: (response) => (raw = response),
    });
    const body = rawBody(raw);
    const key = keys?.properties?.default ?? body?.default ?? body?.properties?.default;
    if (key) return String(key);
  } catch (error) {
    failure = hookError(error, env);
    if (failure.final) throw failure;
  }
  try {
    const host = await webApps.listHostKeys(resourceGroup, appName);
    if (host?.functionKeys?.default) return String(host.functionKeys.default);
  } catch (error) {
    throw hookError(error, env);
  }
  throw failure ?? new HookError('no function key yet (the host has not created one)');
}

/** A host system key, or '' while the host has not created it yet. A final SDK error is thrown as a HookError. */
export async function systemKey(webApps, { resourceGroup, appName }, name, env = {}) {
  try {
    const host = await webApps.listHostKeys(resourceGroup, appName);
    return String(host?.systemKeys?.[name] ?? '');
  } catch (error) {
    throw hookError(error, env);
  }
}
