/**
 * Old names of the Key Vault testing entry, kept only so that tests written before it compile: import from
 * src/keyVault/testing.ts instead (InMemoryVault, ManualClock, keyVaultError). To be deleted once no test uses them.
 */
export {
  InMemoryVault as FakeVault,
  ManualClock as FakeClock,
  keyVaultError as restError,
} from '../../src/keyVault/testing.js';
