/** Types for scripts/postdeploy-gate.mjs (plain JavaScript, so the azd hook runs without a build). */

export interface HttpOutcome {
  status?: number;
  body?: string;
  /** Set instead of status when the request failed (connection refused, timeout, ...). */
  error?: string;
}

export interface ConfigCheckVerdict {
  verdict: 'ok' | 'wait' | 'fail';
  reason: string;
  diagnosis: string[];
}

export interface GateResult {
  ok: boolean;
  attempts: number;
  elapsedMs: number;
  summary: string;
  diagnosis: string[];
}

export interface GateOptions {
  pingUrl: string;
  configCheckUrl: string;
  getKey: () => Promise<string> | string;
  timeoutMs?: number;
  intervalMs?: number;
  requestTimeoutMs?: number;
  log?: (line: string) => void;
  fetchImpl?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export function shouldSkip(env: Record<string, string | undefined>): boolean;
export function checkedUrl(text: unknown, what: string): URL;
export function endpointsFrom(env: Record<string, string | undefined>): { pingUrl: string; configCheckUrl: string };
export function redact(text: unknown, secrets?: string[]): string;
export function classifyPing(response: HttpOutcome): { ok: boolean; reason: string };
export function classifyConfigCheck(response: HttpOutcome): ConfigCheckVerdict;
export function runGate(options: GateOptions): Promise<GateResult>;
