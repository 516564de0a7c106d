/**
 * The app-level entry: the start-up hook, loaded once. The functions are not imported here: package.json `main`
 * (`dist/src/{index.js,functions/*.js}`, a glob the v4 programming model supports) makes the host load this file and
 * every file under src/functions/, each of which registers its function; the deployment bundle's entry is generated
 * from the same folder (scripts/bundle.mjs). A new function is one file there. Nothing here loads the Azure SDK: the
 * Key Vault service loads it on first use.
 */
import './startup.js';
