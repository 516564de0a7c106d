/** Types for scripts/arm.mjs (plain JavaScript, so the azd hooks run without a build). */
import type { TokenCredential } from '@azure/identity';

type Env = Readonly<Record<string, string | undefined>>;

export const PUBLIC_ARM_ENDPOINT: string;
export class HookError extends Error {
  constructor(message: string, options?: { final?: boolean; fix?: string });
  final: boolean;
  fix: string;
}
export function armEndpoint(env: Env): string;
export function azdCredential(env: Env): TokenCredential;
export function clientOptions(endpoint: string, extra?: object): Record<string, unknown>;
export function armOnlyPolicy(endpoint: string): {
  name: string;
  sendRequest(request: { url: string }, next: (request: unknown) => Promise<unknown>): Promise<unknown>;
};
export function classifyArmFailure(error: unknown, env?: Env): { final: boolean; fix: string; message: string };
export function hookError(error: unknown, env?: Env): HookError;
export function checkSignIn(credential: TokenCredential, endpoint: string, env?: Env): Promise<void>;
export function envValue(env: Env, name: string, pattern: RegExp): string;
export const ARM_NAMES: Readonly<Record<string, RegExp>>;
export function functionAppScope(env: Env): { subscriptionId: string; resourceGroup: string; appName: string };
export function seconds(env: Env, name: string, fallback: number): number;
export function oneLine(text: unknown): string;
