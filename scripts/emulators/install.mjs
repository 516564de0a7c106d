/**
 * `node scripts/emulators/install.mjs`: fetch what the Key Vault emulators need ahead of `npm test` (.ci/run calls
 * it): the pinned Lowkey Vault jar through Maven (when there is Java to run it and LOWKEY_VAULT_JAR names none) and
 * the pinned Go pair with `go install` into .emulators/bin (unless KEY_VAULT_EMULATOR_GO_BIN / ENTRA_EMULATOR_GO_BIN
 * name built ones). One line per emulator; it never fails: `npm test` decides what a missing emulator means (a
 * failure under CI=true unless KEY_VAULT_EMULATOR_BLOCKED is set).
 */
import { GO_ENTRA, GO_VAULT, installGoPair } from './goPair.mjs';
import { findJava, resolveJar } from './lowkey.mjs';

if (findJava()) {
  const { jar, error } = resolveJar();
  console.log(jar ? `[emulator] lowkey: jar at ${jar}` : `[emulator] lowkey: ${error}`);
} else {
  console.log('[emulator] lowkey: no Java (17+) found; Lowkey can still run from its Docker image');
}
try {
  const { bins, versions } = installGoPair();
  const found = [GO_VAULT, GO_ENTRA].map((t) => `${t.name} ${versions[t.name]} at ${bins[t.name]}`);
  console.log(`[emulator] go: ${found.join(', ')}`);
} catch (error) {
  console.log(`[emulator] go: ${error.message}`);
}
