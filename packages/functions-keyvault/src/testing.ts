/** functions-keyvault/testing: in-memory vault, manual clock, test configuration, and handler-call helpers. */
export {
  configureTestKeyVault,
  InMemoryVault,
  keyVaultError,
  ManualClock,
  secretRecord,
  TEST_VAULT_URL,
  type SecretAttributes,
  type TestKeyVault,
  type TestKeyVaultOptions,
} from './keyVault/testing.js';
export { body, capturingContext, get, header, type Captured } from './http/testing.js';
