/** Types for scripts/az-cli.mjs (plain JavaScript, so the azd hooks run without a build). */

type Env = Readonly<Record<string, string | undefined>>;

export class AzError extends Error {
  constructor(message: string, options?: { final?: boolean; fix?: string });
  final: boolean;
  fix: string;
}

export function windowsCommandLine(args: readonly string[]): string;
export function classifyAzFailure(stderr: unknown): { final: boolean; fix: string };
export function az(
  args: readonly string[],
  options?: {
    timeoutMs?: number;
    platform?: string;
    spawn?: (
      command: string,
      args: readonly string[],
      options: object,
    ) => { error?: Error & { code?: string }; status: number | null; stdout?: string; stderr?: string };
  },
): string;
export function checkAzAccount(
  runAz: (args: string[]) => string,
  env: Env,
): { subscriptionId: string; tenantId: string };
export function envValue(env: Env, name: string, pattern: RegExp): string;
export const ARM_NAMES: Readonly<Record<string, RegExp>>;
export function functionAppScope(env: Env): string[];
export function seconds(env: Env, name: string, fallback: number): number;
