/** Types for scripts/resource-providers.mjs (plain JavaScript, so the azd hook runs without a build). */

export const REQUIRED_PROVIDERS: readonly string[];
export function registerCommand(namespace: string, subscriptionId: string): string;
export interface ProviderCheckResult {
  ok: boolean;
  summary: string;
  diagnosis: string[];
  registered: string[];
}
export function runProviderCheck(options: {
  providers: {
    get(namespace: string): Promise<{ registrationState?: string }>;
    register(namespace: string): Promise<unknown>;
  };
  subscriptionId: string;
  namespaces?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
  intervalMs?: number;
  log?: (line: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}): Promise<ProviderCheckResult>;
