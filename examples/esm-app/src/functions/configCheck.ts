import { app } from '@azure/functions';
import { configCheck } from 'functions-keyvault/handlers';

app.http('configCheck', { route: 'health/keyvault', methods: ['GET'], authLevel: 'function', handler: configCheck });
