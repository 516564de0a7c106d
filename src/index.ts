/**
 * App entry (package.json "main"): registers the HTTP functions and the optional start-up prefetch.
 * Nothing here loads the Azure SDK: the Key Vault service loads it on first use.
 */
import './functions/ping.js';
import './functions/secrets.js';
import './functions/configCheck.js';
import './prefetch.js';
