/**
 * functions-keyvault/handlers: ready handlers for an @azure/functions v4 app (a peer dependency; only its types are
 * imported here), each mounted with one line of the app's own:
 *
 * ```ts
 * import { app } from '@azure/functions';
 * import { configCheck, keyVaultEvents, onAppStart } from 'functions-keyvault/handlers';
 * app.hook.appStart(onAppStart); // config problems logged, rotation ledger, SECRET_PREFETCH: in the background
 * app.eventGrid('secretEvents', { handler: keyVaultEvents });
 * app.http('configCheck', { route: 'config/check', methods: ['GET'], authLevel: 'function', handler: configCheck });
 * ```
 */
export { onAppStart, startKeyVault, type KeyVaultStart } from './handlers/appStart.js';
export { configCheck } from './handlers/configCheck.js';
export { secretEvents as keyVaultEvents } from './handlers/keyVaultEvents.js';
export { failureResponse } from './http/failureResponse.js';
export {
  DEFAULT_RETRY_AFTER_SECONDS,
  MAX_RETRY_AFTER_SECONDS,
  problem,
  problemForFailure,
  problemResponse,
  retryAfterSeconds,
  type FailureContext,
  type Problem,
} from './http/problems.js';
