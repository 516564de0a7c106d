/**
 * Decision logic of the `preprovision` hook (scripts/preprovision.mjs): the resource providers the template needs and
 * ARM does not register by itself are registered before anything is created. Flex Consumption runs on
 * `Microsoft.App`, and neither a Bicep deployment of a Microsoft.Web site nor `az functionapp create` registers it:
 * a fresh subscription fails late, at the site, with an unclear error (Azure/azure-cli#33177). A deployment does
 * register the providers of the resource types its template declares (Event Grid, Key Vault, ...), so only this one
 * is checked.
 *
 * Through the Azure SDK (@azure/arm-resources `providers.get` / `providers.register`, which the caller passes in): the
 * state is read; `Registered` passes at once; `Registering` is waited for; anything else is registered and then waited
 * for, bounded, the way `az provider register --wait` does. A principal that may not register providers (403) stops at
 * once with the command an owner runs. No process, environment or network access here beyond the `providers` client.
 */
import { hookError, oneLine } from './arm.mjs';

/** Providers to check: those a deployment of infra/ needs but does not register itself. */
export const REQUIRED_PROVIDERS = Object.freeze(['Microsoft.App']);

export function registerCommand(namespace, subscriptionId) {
  return `az provider register --namespace ${namespace} --subscription ${subscriptionId} --wait`;
}

/**
 * Resolves to { ok, summary, diagnosis, registered: string[] }; never throws for ARM failures.
 *   providers   { get(namespace), register(namespace) } (ResourceManagementClient.providers)
 */
export async function runProviderCheck({
  providers,
  subscriptionId,
  namespaces = REQUIRED_PROVIDERS,
  env = {},
  timeoutMs = 300_000,
  intervalMs = 10_000,
  log = () => undefined,
  now = () => Date.now(),
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}) {
  const started = now();
  const deadline = started + timeoutMs;
  const registered = [];
  const fail = (summary, diagnosis) => ({ ok: false, summary: oneLine(summary), diagnosis, registered });
  for (const namespace of namespaces) {
    const command = registerCommand(namespace, subscriptionId);
    let asked = false;
    for (let n = 1; ; n++) {
      let state;
      try {
        state = String((await providers.get(namespace))?.registrationState ?? '');
      } catch (error) {
        const failure = hookError(error, env);
        if (failure.final) return fail(`reading ${namespace}: ${failure.message}`, [`Fix: ${failure.fix}`]);
        state = `unknown (${failure.message})`;
      }
      if (state === 'Registered') break;
      if (!asked && state !== 'Registering' && !state.startsWith('unknown')) {
        log(`resource providers: ${namespace} is ${state || 'not registered'} in this subscription; registering it`);
        try {
          await providers.register(namespace);
          asked = true;
          registered.push(namespace);
        } catch (error) {
          const failure = hookError(error, env);
          return fail(`registering ${namespace} failed: ${failure.message}`, [
            `Flex Consumption needs the ${namespace} resource provider. Someone allowed to register providers ` +
              `(Owner or Contributor on the subscription) runs once: ${command}`,
          ]);
        }
      }
      if (now() + intervalMs > deadline) {
        return fail(`${namespace} is still ${state} after ${Math.round((now() - started) / 1000)} s`, [
          `Registration can take several minutes. Wait for it (${command}, or the portal's Subscriptions > Resource providers), then run \`azd up\` again.`,
        ]);
      }
      log(`resource providers: ${namespace} ${state || 'state unknown'} (attempt ${n})`);
      await sleep(intervalMs);
    }
  }
  const what = registered.length ? `registered ${registered.join(', ')}` : 'already registered';
  return { ok: true, summary: `${namespaces.join(', ')} ${what}`, diagnosis: [], registered };
}
