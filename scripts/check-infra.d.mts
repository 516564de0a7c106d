/** Types for scripts/check-infra.mjs (plain JavaScript: runs without a build). */

export const CHECKOV_VERSION: string;
export function bicepFiles(dir?: string): string[];
export function skippedIds(configText: string): string[];
export function judge(
  report: unknown,
  files: readonly string[],
): { ok: boolean; lines: string[]; summary: Record<string, number | string> };
