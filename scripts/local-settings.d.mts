/** Types for scripts/local-settings.mjs (plain JavaScript, so `npm start` runs it without app code). */

export type Profile = 'emulator' | 'azure';
export type SettingSource = 'environment' | 'local.settings.json';
type Env = Readonly<Record<string, string | undefined>>;

export const LOCAL_SETTINGS_FILE: 'local.settings.json';
export const PROFILES: readonly Profile[];
export const PROFILE_EXAMPLES: Readonly<Record<Profile, string>>;
export const CA_CHILD_MARKER: string;

export interface LocalSettings {
  path: string;
  exists: boolean;
  values: Record<string, string>;
  /** One line when the file is not valid JSON or "Values" is not an object. */
  error?: string;
}

export function readLocalSettings(dir: string): LocalSettings;
export function settingSource(name: string, values: Env, env: Env): SettingSource | undefined;
export function effectiveSettings(values: Env, env: Env): Record<string, string | undefined>;

export interface ProfileReport {
  profile: Profile | undefined;
  line: string;
  warnings: string[];
}
/** What is wrong with a vault URL (placeholder, no vault name, not a URL, not a Key Vault name), or undefined. */
export function vaultUrlProblem(raw: string): string | undefined;
/** The saved facts of a running `npm run vault:start` emulator (scripts/emulators/index.mjs). */
export interface EmulatorFacts {
  description: string;
  vaultUrl: string;
  identityEndpoint: string;
  identityHeader: string;
  tokenAuthority: string;
  apiVersion: string;
  caFile: string;
  pids: number[];
}
export function runningVaultEmulator(dir: string): EmulatorFacts | undefined;
export function emulatorMismatches(settings: Env, values: Env, env: Env, emulator: EmulatorFacts | undefined): string[];
export function profileReport(input: {
  exists: boolean;
  values: Env;
  env: Env;
  emulator?: EmulatorFacts | undefined;
}): ProfileReport;

export interface MissingCa {
  from: SettingSource;
  file: string;
}
export interface ExtraCaPlan {
  /** Absolute paths of existing files, each once, the environment's first. */
  files: string[];
  missing: MissingCa[];
  /** Whether a process started with NODE_EXTRA_CA_CERTS=envValue lacks one of `files`. */
  restart: boolean;
}
export function planExtraCaCerts(input: {
  envValue: string | undefined;
  settingsValue: string | undefined;
  cwd: string;
  settingsDir: string;
  exists?: (path: string) => boolean;
}): ExtraCaPlan;
export function caBundle(pems: readonly string[]): string;
export function writeCaBundle(files: readonly string[]): { file: string; dir: string | undefined };
export function missingCaLines(missing: readonly MissingCa[]): string[];
