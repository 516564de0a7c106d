/**
 * local.settings.json as the local tools read it: `npm start` (scripts/start.mjs) and `npm run secrets`
 * (scripts/secrets.ts). Which profile it was copied from, the line that says so, what looks wrong for that profile,
 * and NODE_EXTRA_CA_CERTS when both the shell and local.settings.json name a certificate file.
 *
 * Plain JavaScript that imports no app code, so start.mjs runs it from source; secrets.ts (compiled into dist/)
 * loads it by path. Types: local-settings.d.mts. Everything but readLocalSettings and writeCaBundle is pure.
 *
 * Precedence is Core Tools' own: a setting already defined (non-empty) in the environment wins over
 * local.settings.json "Values"; `func start` says "Skipping '<name>' from local settings as it's already defined in
 * current environment variables." The one setting where that loses something is NODE_EXTRA_CA_CERTS: Node reads it
 * once, when the process starts, and it names one file. So when the shell names one (a corporate proxy's CA, say)
 * and local.settings.json names the emulator's, the tools write one file holding both and give that to the process
 * that talks to the vault. TLS verification stays on throughout.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { appEnvFor, runningEmulator } from './emulators/index.mjs';

export const LOCAL_SETTINGS_FILE = 'local.settings.json';
export const PROFILES = ['emulator', 'azure'];
/** The two examples, one per profile (docs/local-development.md); the first is the one a user copies first. */
export const PROFILE_EXAMPLES = {
  emulator: 'local.settings.json.example',
  azure: 'local.settings.azure.json.example',
};
/** Set in the environment of a child started with combined certificates, so it does not start another. */
export const CA_CHILD_MARKER = 'LOCAL_SETTINGS_CA_APPLIED';

/**
 * local.settings.json in `dir` (the project directory: `npm run` starts scripts there, and `func start` reads the
 * file from its working directory). `{ path, exists, values, error }`; `error` is one line when the file is not
 * valid JSON or its "Values" is not an object of strings.
 */
export function readLocalSettings(dir) {
  const path = join(dir, LOCAL_SETTINGS_FILE);
  if (!existsSync(path)) return { path, exists: false, values: {} };
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return { path, exists: true, values: {}, error: `${path} is not valid JSON: ${error.message}` };
  }
  const values = parsed?.Values ?? {};
  if (typeof values !== 'object' || Array.isArray(values)) {
    return { path, exists: true, values: {}, error: `${path}: "Values" must be an object of settings` };
  }
  return { path, exists: true, values: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)])) };
}

/** Where a setting's effective value comes from: the environment (when non-empty there), the file, or nowhere. */
export function settingSource(name, values, env) {
  if (env[name] !== undefined && env[name] !== '') return 'environment';
  if (values[name] !== undefined) return LOCAL_SETTINGS_FILE;
  return undefined;
}

/** The settings the app sees: local.settings.json "Values", with non-empty environment values winning. */
export function effectiveSettings(values, env) {
  const merged = { ...values };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && (v !== '' || !(k in merged))) merged[k] = v;
  return merged;
}

function where(source) {
  return source === 'environment' ? 'in the environment' : `in ${LOCAL_SETTINGS_FILE}`;
}

/** Key Vault's DNS suffixes (public, China, US Government, Germany): a host under one is `<vault-name>.<suffix>`. */
const VAULT_SUFFIXES = ['vault.azure.net', 'vault.azure.cn', 'vault.usgovcloudapi.net', 'vault.microsoftazure.de'];
/** Key Vault's naming rule: 3-24 letters, digits and hyphens; a letter first; no hyphen last or twice in a row. */
const VAULT_NAME = /^(?=.{3,24}$)[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/i;
const FIND_VAULT_NAME =
  'azd env get-value AZURE_KEY_VAULT_NAME prints the name of the vault azd up created (az keyvault list --query ' +
  '"[].name" -o tsv lists the vaults you can see); put it in KEY_VAULT_URL and DEMO_SECRET_REFERENCE of ' +
  `${LOCAL_SETTINGS_FILE}, as https://<vault-name>.vault.azure.net/.`;

/**
 * What is wrong with a vault URL, as the end of a sentence starting with the setting's name, or undefined. Catches
 * what an unedited or half-filled copy of the azure example holds: the placeholder, `https://.vault.azure.net/` (the
 * README's sed line run where `azd` printed nothing), an error message pasted in, a vault name Key Vault would refuse.
 */
export function vaultUrlProblem(raw) {
  if (/[<>]/.test(raw)) return `is still the example's placeholder (${raw})`;
  let host;
  try {
    host = new URL(raw).hostname;
  } catch {
    return `is not a URL (${raw})`;
  }
  const suffix = VAULT_SUFFIXES.find((s) => host === s || host.endsWith(`.${s}`));
  if (host.startsWith('.') || host.includes('..') || host === suffix) return `has no vault name (${raw})`;
  if (suffix) {
    const name = host.slice(0, -suffix.length - 1);
    if (!VAULT_NAME.test(name)) {
      return `names "${name}", which is not a Key Vault name (3-24 letters, digits and hyphens, a letter first) (${raw})`;
    }
  }
  return undefined;
}

/** The facts of the emulator `npm run vault:start` left running for project `dir`, or undefined. */
export function runningVaultEmulator(dir) {
  try {
    return runningEmulator(join(dir, '.emulators', 'vault'));
  } catch {
    return undefined;
  }
}

/** The settings that must match the running emulator for the app to reach it (vault:start prints them all). */
const EMULATOR_BOUND = ['KEY_VAULT_URL', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER'];

/**
 * Warnings for settings that point elsewhere than the running emulator (`emulator`: its saved facts). The example
 * file is written for Lowkey Vault: with the Go pair its IDENTITY_ENDPOINT (Lowkey's token path) gets no token, and
 * without this the failure reads as an unreachable vault.
 */
export function emulatorMismatches(settings, values, env, emulator) {
  if (!emulator) return [];
  const wanted = appEnvFor(emulator);
  const warnings = [];
  for (const name of EMULATOR_BOUND) {
    const have = settings[name]?.trim();
    const bare = (url) => url?.replace(/\/+$/, '');
    if (!have || bare(have) === bare(wanted[name])) continue;
    const shown = name === 'IDENTITY_HEADER' ? 'another value' : have;
    warnings.push(
      `Warning: ${name} ${where(settingSource(name, values, env))} is ${shown}, but the running emulator ` +
        `(${emulator.description}) wants ${name === 'IDENTITY_HEADER' ? 'the one it was started with' : wanted[name]}` +
        (name === 'IDENTITY_ENDPOINT'
          ? ': no token comes from that path, and every Key Vault call fails as if the vault were down. '
          : '. ') +
        'Use the settings `npm run vault:status` prints (local.settings.json.example is written for Lowkey Vault).',
    );
  }
  return warnings;
}

/**
 * The one line saying which local profile is in use, and warnings for settings that contradict it (or the running
 * emulator, `emulator`: its saved facts, see runningVaultEmulator). `{ profile, line, warnings }`; `profile` is
 * 'emulator' | 'azure' | undefined.
 */
export function profileReport({ exists, values, env, emulator }) {
  const settings = effectiveSettings(values, env);
  const raw = settings.LOCAL_PROFILE?.trim() || undefined;
  const source = settingSource('LOCAL_PROFILE', values, env);
  const profile = PROFILES.includes(raw) ? raw : undefined;
  const vault = (settings.KEY_VAULT_URL ?? settings.KEY_VAULT_URI)?.trim() || 'not set';
  const warnings = [];

  let line;
  if (profile) {
    const from =
      source === 'environment' ? 'LOCAL_PROFILE in the environment' : `LOCAL_PROFILE in ${LOCAL_SETTINGS_FILE}`;
    const how =
      profile === 'emulator'
        ? 'a local Key Vault emulator, tokens from its identity endpoint'
        : 'a real vault, your own sign-in (az login / azd auth login)';
    line = `Local profile: ${profile} (${from}): ${how}; vault ${vault}`;
  } else if (raw) {
    line = `Local profile: "${raw}" is not a profile (LOCAL_PROFILE ${where(source)} must be emulator or azure); vault ${vault}`;
  } else if (exists) {
    line =
      `Local profile: none named (${LOCAL_SETTINGS_FILE} has no LOCAL_PROFILE; copy ${PROFILE_EXAMPLES.emulator} ` +
      `or ${PROFILE_EXAMPLES.azure}); vault ${vault}`;
  } else {
    line = `Local profile: none (no ${LOCAL_SETTINGS_FILE}): environment only; vault ${vault}`;
  }

  if (profile === 'azure') {
    const endpoint = settingSource('IDENTITY_ENDPOINT', values, env);
    if (endpoint && settings.IDENTITY_ENDPOINT?.trim()) {
      warnings.push(
        `Warning: the azure profile signs in as you, but IDENTITY_ENDPOINT is set ${where(endpoint)}: with it (and ` +
          'IDENTITY_HEADER) the app asks that managed-identity endpoint for tokens instead of az/azd, and fails ' +
          '(MSINotEnabled) where nothing answers. Remove IDENTITY_ENDPOINT and IDENTITY_HEADER.',
      );
    }
    if (settings.KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION?.trim().toLowerCase() === 'true') {
      warnings.push(
        'Warning: the azure profile has KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION=true, which is for ' +
          'emulators only: remove it for a real vault.',
      );
    }
  }
  const urlSetting =
    !settings.KEY_VAULT_URL?.trim() && settings.KEY_VAULT_URI?.trim() ? 'KEY_VAULT_URI' : 'KEY_VAULT_URL';
  const urlProblem = vault === 'not set' ? (profile === 'azure' ? 'is not set' : undefined) : vaultUrlProblem(vault);
  if (urlProblem) {
    const whereFrom = vault === 'not set' ? '' : ` ${where(settingSource(urlSetting, values, env))}`;
    const fix =
      profile === 'emulator'
        ? 'npm run vault:start (or vault:status) prints the URL of the running emulator.'
        : FIND_VAULT_NAME;
    warnings.push(`Warning: ${urlSetting} ${urlProblem}${whereFrom}: ${fix}`);
  }
  if (profile !== 'azure') warnings.push(...emulatorMismatches(settings, values, env, emulator));
  return { profile, line, warnings };
}

/**
 * Which certificate files NODE_EXTRA_CA_CERTS should name for a process that talks to the vault: the environment's
 * (resolved against `cwd`, as Node resolves it) and local.settings.json's (resolved against `settingsDir`), each once,
 * environment first; files that do not exist are left out and listed in `missing` (Node would only warn "Ignoring
 * extra certs"). `restart` says whether this process, started with NODE_EXTRA_CA_CERTS=`envValue`, lacks one of them
 * and must hand the work to a child process.
 */
export function planExtraCaCerts({ envValue, settingsValue, cwd, settingsDir, exists = existsSync }) {
  const candidates = [];
  if (envValue?.trim()) candidates.push({ from: 'environment', file: resolve(cwd, envValue.trim()) });
  if (settingsValue?.trim()) {
    candidates.push({ from: LOCAL_SETTINGS_FILE, file: resolve(settingsDir, settingsValue.trim()) });
  }
  const files = [];
  const missing = [];
  for (const c of candidates) {
    if (!exists(c.file)) missing.push(c);
    else if (!files.includes(c.file)) files.push(c.file);
  }
  const loaded = candidates.find((c) => c.from === 'environment')?.file;
  const restart = files.length > 0 && !(files.length === 1 && files[0] === loaded);
  return { files, missing, restart };
}

/** PEM texts as one bundle: each trimmed, newline-terminated, in order, blank ones dropped. */
export function caBundle(pems) {
  return pems
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => `${p}\n`)
    .join('');
}

/** The file NODE_EXTRA_CA_CERTS should name for `files`: the file itself when one, else a bundle in a new temp dir. */
export function writeCaBundle(files) {
  if (files.length === 1) return { file: files[0], dir: undefined };
  const dir = mkdtempSync(join(tmpdir(), 'local-settings-ca-'));
  const file = join(dir, 'ca-bundle.pem');
  writeFileSync(file, caBundle(files.map((f) => readFileSync(f, 'utf8'))));
  return { file, dir };
}

/** One line per missing certificate file, saying which setting named it and what usually writes it. */
export function missingCaLines(missing) {
  return missing.map(
    (m) =>
      `Warning: NODE_EXTRA_CA_CERTS ${where(m.from)} names ${m.file}, which does not exist` +
      (m.from === LOCAL_SETTINGS_FILE
        ? ", so the emulator's certificate is not trusted: npm run vault:start writes it."
        : ': fix or unset it in your shell.'),
  );
}
