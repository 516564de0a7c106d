import { app, type HttpFunctionOptions } from '@azure/functions';
import { configCheck } from 'functions-keyvault/handlers';

/** GET /api/config/check: the package's config check (what is configured and whether it works, never a value). */
export { configCheck };

export const options = {
  route: 'config/check',
  methods: ['GET'],
  authLevel: 'function',
  handler: configCheck,
} satisfies HttpFunctionOptions;

app.http('configCheck', options);
