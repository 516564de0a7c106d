/**
 * The HTTP side's testing entry: call a function's handler as the Functions host does, with the request and context
 * classes of `@azure/functions` (they work outside the host: its test mode), and read what it answered. Use it with
 * the Key Vault module's testing entry (`src/keyVault/testing.ts`). The project's own tests use it.
 *
 * ```ts
 * const { context, lines } = capturingContext('orders');
 * const response = await orders(get('http://localhost:7071/api/orders'), context);
 * assert.equal(response.status, 200);
 * assert.equal(body(response).configured, true);
 * ```
 *
 * Never imported by the app (test/layering.test.ts checks it), so it is not in the deployment bundle.
 */
import { createRequire } from 'node:module';
import type * as AzureFunctions from '@azure/functions';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

// @azure/functions is a CommonJS bundle whose classes Node cannot see as named ESM exports; a default import would
// also put `import functions from '@azure/functions'` into the published .d.ts, which a CommonJS consumer without
// esModuleInterop cannot compile (TS1192). Loaded with require, typed with type-only imports.
const functions = createRequire(import.meta.url)('@azure/functions') as typeof AzureFunctions;

export interface Captured {
  context: InvocationContext;
  /** What the handler logged through the context, one `<level>: <message>` line per call. */
  lines: string[];
}

/** An InvocationContext whose log lines are captured (not printed). */
export function capturingContext(functionName = 'test'): Captured {
  const lines: string[] = [];
  const context = new functions.InvocationContext({
    functionName,
    invocationId: 'test-invocation',
    logHandler: (level, ...args) => lines.push(`${level}: ${args.map(String).join(' ')}`),
  });
  return { context, lines };
}

/** A GET request; `params` are the route parameters the host would extract (e.g. `{ name }`). */
export function get(
  url: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): HttpRequest {
  return new functions.HttpRequest({ method: 'GET', url, params, headers });
}

/** The response body as an object (handlers set jsonBody). */
export function body(response: HttpResponseInit): Record<string, unknown> {
  return (response.jsonBody ?? {}) as Record<string, unknown>;
}

/** A response header, looked up case-insensitively. */
export function header(response: HttpResponseInit, name: string): string | undefined {
  const headers = response.headers as Record<string, string> | undefined;
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}
