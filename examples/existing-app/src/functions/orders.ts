import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { readSecret } from 'functions-keyvault';
import { failureResponse } from 'functions-keyvault/handlers';

export async function orders(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const apiKey = (await readSecret('orders-api-key')).value;
    context.log(`orders: read the API key (${apiKey.length} characters)`);
    return { status: 200, jsonBody: { configured: true } };
  } catch (error) {
    return failureResponse(error, { name: 'orders-api-key' });
  }
}

app.http('orders', { methods: ['GET'], authLevel: 'function', handler: orders });
