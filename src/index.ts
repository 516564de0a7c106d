/**
 * App entry (package.json "main"): registers the HTTP functions and the start-up hook.
 * Nothing here loads the Azure SDK: the Key Vault service loads it on first use.
 * A new function file under src/functions/ must be imported here (the bundle follows these imports);
 * test/registration.test.ts fails when one is forgotten.
 */
import './functions/ping.js';
import './functions/getSecret.js';
import './functions/configCheck.js';
import './functions/secretEvents.js';
import './startup.js';
