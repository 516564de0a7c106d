/** Types for scripts/function-keys.mjs (plain JavaScript, so the azd hooks run without a build). */

type Env = Readonly<Record<string, string | undefined>>;
export interface WebAppsKeys {
  listFunctionKeys(
    resourceGroup: string,
    appName: string,
    functionName: string,
    options?: { onResponse?: (response: unknown) => void },
  ): Promise<{ properties?: Record<string, string> }>;
  listHostKeys(
    resourceGroup: string,
    appName: string,
  ): Promise<{ functionKeys?: Record<string, string>; systemKeys?: Record<string, string> }>;
}
export function functionKey(
  webApps: WebAppsKeys,
  scope: { resourceGroup: string; appName: string },
  env?: Env,
): Promise<string>;
export function systemKey(
  webApps: WebAppsKeys,
  scope: { resourceGroup: string; appName: string },
  name: string,
  env?: Env,
): Promise<string>;
