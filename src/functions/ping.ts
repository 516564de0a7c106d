import {
  app,
  type HttpFunctionOptions,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { APP_VERSION } from '../version.js';

/** Liveness: touches no Azure service and needs no settings. */
export function ping(_request: HttpRequest, _context: InvocationContext): HttpResponseInit {
  return { status: 200, jsonBody: { status: 'ok', version: APP_VERSION }, headers: { 'Cache-Control': 'no-store' } };
}

export const options = {
  route: 'ping',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: ping,
} satisfies HttpFunctionOptions;

app.http('ping', options);
