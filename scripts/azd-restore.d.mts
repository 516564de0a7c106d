/** Types for scripts/azd-restore.mjs (plain JavaScript, so the azd hook runs before anything is installed). */

export const CORE_TOOLS: string;
export const CORE_TOOLS_BINS: string[];
export const NPM_CI: string[];

export interface HiddenLockfile {
  packages?: Record<string, unknown>;
  [key: string]: unknown;
}

export function isUpToDate(root: string): boolean;
export function withoutCoreTools<T extends HiddenLockfile>(hiddenLockfile: T): T;
export function removeCoreTools(root: string): void;
export function restore(
  root: string,
  options?: { log?: (line: string) => void; run?: (args: string[], root: string) => void },
): 'up-to-date' | 'installed';
