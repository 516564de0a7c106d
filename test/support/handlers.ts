/** Helpers to call v4 handlers directly, the documented way: HttpRequest + InvocationContext in test mode. */
import functions, { type HttpResponseInit } from '@azure/functions';

// @azure/functions is a CommonJS bundle whose classes Node cannot see as named ESM exports.
const { HttpRequest, InvocationContext } = functions;
type HttpRequest = InstanceType<typeof HttpRequest>;
type InvocationContext = InstanceType<typeof InvocationContext>;

export interface Captured {
  context: InvocationContext;
  lines: string[];
}

/** An InvocationContext whose log lines are captured (not printed). */
export function capturingContext(functionName = 'test'): Captured {
  const lines: string[] = [];
  const context = new InvocationContext({
    functionName,
    invocationId: 'test-invocation',
    logHandler: (level, ...args) => lines.push(`${level}: ${args.map(String).join(' ')}`),
  });
  return { context, lines };
}

export function get(
  url: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): HttpRequest {
  return new HttpRequest({ method: 'GET', url, params, headers });
}

/** The response body as an object (handlers set jsonBody). */
export function body(response: HttpResponseInit): Record<string, unknown> {
  return (response.jsonBody ?? {}) as Record<string, unknown>;
}

export function header(response: HttpResponseInit, name: string): string | undefined {
  const headers = response.headers as Record<string, string> | undefined;
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

/** Captures everything written through console.* while `fn` runs. */
export async function captureConsole<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m].bind(console));
  const chunks: string[] = [];
  for (const m of methods) console[m] = (...args: unknown[]) => void chunks.push(args.map(String).join(' '));
  try {
    const result = await fn();
    return { result, output: chunks.join('\n') };
  } finally {
    methods.forEach((m, i) => (console[m] = saved[i]!));
  }
}
