import { app, type EventGridFunctionOptions } from '@azure/functions';
import { keyVaultEvents } from 'functions-keyvault/handlers';

/** Key Vault's Event Grid events for secrets: the package's ready handler (rotation, near expiry, expired). */
export { keyVaultEvents as secretEvents };

export const options = { handler: keyVaultEvents } satisfies EventGridFunctionOptions<unknown>;

app.eventGrid('secretEvents', options);
