/**
 * `node scripts/emulators/install.mjs`: fetch what the Key Vault emulators need ahead of `npm test` (.ci/run calls
 * it): the pinned Go pair with `go install` into .emulators/bin (unless KEY_VAULT_EMULATOR_GO_BIN /
 * ENTRA_EMULATOR_GO_BIN name built ones), ignoring a remembered failure (.emulators/install-failures.json). Lowkey
 * has nothing to fetch (its app jar is not on Maven Central): it says whether LOWKEY_VAULT_JAR names one. One line
 * per emulator; it never fails: `npm test` decides what a missing emulator means (a failure under CI=true unless
 * KEY_VAULT_EMULATOR_BLOCKED is set).
 */
import { GO_ENTRA, GO_VAULT, installGoPair } from './goPair.mjs';
import { LOWKEY_IMAGE, resolveJar } from './lowkey.mjs';

const { jar, error } = resolveJar();
console.log(
  jar ? `[emulator] lowkey: jar at ${jar}` : `[emulator] lowkey: ${error}; or the Docker image ${LOWKEY_IMAGE}`,
);
try {
  const { bins, versions } = installGoPair({ retry: true });
  const found = [GO_VAULT, GO_ENTRA].map((t) => `${t.name} ${versions[t.name]} at ${bins[t.name]}`);
  console.log(`[emulator] go: ${found.join(', ')}`);
} catch (error) {
  console.log(`[emulator] go: ${error.message}`);
}
