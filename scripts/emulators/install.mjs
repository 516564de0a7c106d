/**
 * `node scripts/emulators/install.mjs`: fetch what the Key Vault emulators need ahead of `npm test` (.ci/run calls
 * it): the pinned Lowkey Vault jar through Maven (when there is Java to run it) and the pinned Go pair with
 * `go install` into .emulators/bin. One line per outcome; it never fails: `npm test` decides what a missing emulator
 * means (a failure under CI=true unless KEY_VAULT_EMULATOR_BLOCKED is set).
 */
import { GO_ENTRA, GO_VAULT, installGoPair } from './goPair.mjs';
import { findJava, LOWKEY_VERSION, resolveJar } from './lowkey.mjs';

if (findJava()) {
  const { jar, error } = resolveJar();
  console.log(jar ? `[emulator] lowkey: Lowkey Vault ${LOWKEY_VERSION} jar at ${jar}` : `[emulator] lowkey: ${error}`);
} else {
  console.log('[emulator] lowkey: no Java (17+) found; Lowkey can still run from its Docker image');
}
try {
  const bins = installGoPair();
  for (const tool of [GO_VAULT, GO_ENTRA])
    console.log(`[emulator] go: ${tool.name} ${tool.version} at ${bins[tool.name]}`);
} catch (error) {
  for (const line of error.lines ?? [error.message]) console.log(`[emulator] go: ${line}`);
}
