import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { declareSetting, readSecret, resolveSetting } from 'functions-keyvault';
import { failureResponse } from 'functions-keyvault/handlers';

const DB_CONNECTION = declareSetting('DB_CONNECTION', 'the orders database connection string');

/** Reads one secret and one setting that may be a Key Vault reference; returns only their lengths. */
export async function dbPassword(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const password = (await readSecret('db-password')).value;
    const connection = (await resolveSetting(DB_CONNECTION)) ?? '';
    context.log(`db: ${password.length} + ${connection.length} characters`);
    return { status: 200, jsonBody: { passwordLength: password.length, connectionLength: connection.length } };
  } catch (error) {
    return failureResponse(error, { name: 'db-password' });
  }
}

app.http('dbPassword', { methods: ['GET'], authLevel: 'function', handler: dbPassword });
