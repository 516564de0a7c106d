/**
 * The notices @azure/functions prints whenever it is loaded outside the Functions host (its test mode):
 * "WARNING: Failed to detect the Azure Functions runtime..." once, then "WARNING: Skipping call to register ..." for
 * every function and hook the app registers. That mode is how the package is meant to be used without the host (the
 * tests, the bench) and it has no switch for them, so `npm test` (run-tests.mjs) and `npm run bench` drop exactly
 * these lines. Plain JavaScript: run-tests.mjs runs from source; bench.ts (compiled) loads it by path.
 */
export const TEST_MODE_NOTICE =
  /^WARNING: (Failed to detect the Azure Functions runtime\. Switching "@azure\/functions" package to test mode|Skipping call to register .* because the "@azure\/functions" package is in test mode\.)/;
