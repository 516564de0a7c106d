/**
 * The settings the app declares, as the tests read them: APP_SETTINGS (src/config.ts) and every declareSetting() of
 * the function files, which register when their modules load. Used by the infra drift test (test/infra.test.ts),
 * the settings-declaration test (test/settings.test.ts) and the run of docs/your-own-function.md's example.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { declaredSettings, type SettingDeclaration } from 'functions-keyvault/internal/config.js';

const DIST_FUNCTIONS = fileURLToPath(new URL('../../src/functions/', import.meta.url));

/** Load every compiled function module of `dir` (dist/src/functions/ by default), so their declarations register. */
export async function loadFunctionModules(dir = DIST_FUNCTIONS): Promise<readonly SettingDeclaration[]> {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    await import(pathToFileURL(join(dir, file)).href);
  }
  return declaredSettings();
}

/** The source file under `srcDir`/functions that declares `name`, as `src/functions/<file>.ts`, or undefined. */
export function declaringFile(name: string, srcDir: string): string | undefined {
  const dir = join(srcDir, 'functions');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .find((f) => readFileSync(join(dir, f), 'utf8').includes(`declareSetting('${name}'`))
    ?.replace(/^/, 'src/functions/');
}

/**
 * What the infra drift test says when Bicep does not set a required declared setting: exactly what to add, where.
 * `declaredIn`: the file that declares it.
 */
export function missingFromBicep(declaration: SettingDeclaration, declaredIn = 'the code that reads it'): string {
  return (
    `${declaration.name} (${declaration.meaning}) is declared required in ${declaredIn}, but infra/main.bicep does ` +
    `not set it: add the line \`${declaration.name}: <value>\` to the \`appSettings\` object of the \`apiSettings\` ` +
    'module in infra/main.bicep (a Key Vault reference, ' +
    `'@Microsoft.KeyVault(SecretUri=\${keyVault.outputs.uri}secrets/<secret-name>/)', keeps the value in the vault; ` +
    'a value that differs per environment is a parameter of main.bicep, mapped in infra/main.parameters.json), or ' +
    'declare it with { required: false } if the app works without it.'
  );
}
