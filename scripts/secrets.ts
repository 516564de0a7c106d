/**
 * `npm run secrets -- <command>`: a small secrets CLI for developers, through the app's own credential and client
 * code (the Key Vault module's public face) and configuration (KEY_VAULT_URL etc. from the environment, else
 * local.settings.json in the current directory, which `npm run` sets to the project root; parsed by src/config.ts like
 * the app's own). It first prints (to stderr) which local profile is in use, and combines NODE_EXTRA_CA_CERTS from
 * the environment and from local.settings.json (scripts/local-settings.mjs).
 *
 * Scripts rule: TypeScript scripts (bench.ts, secrets.ts) import app code and are compiled with it by `npm run
 * build` into dist/scripts/; .mjs scripts (test runner, emulator harness, bundler, start) run from source and
 * import no app code.
 *
 *   set <name> --stdin                          create a new version, the value read from stdin (the way)
 *   set <name> <value>                          the same, with a warning: the value is in the process list and
 *                                               the shell history
 *   get <name> [--version <v>] [--show]         metadata; the value only with --show; --version needs a value
 *   list                                        names and metadata, never values
 *   delete <name>                               soft-delete
 *   help                                        this list (exit 0)
 */
import { parseConfig } from 'functions-keyvault/internal/config.js';
import {
  classifyError,
  isValidSecretName,
  isValidSecretVersion,
  sdkSecretClient,
} from 'functions-keyvault/internal/keyVault/index.js';
import { failureLines } from './cliFailure.js';
import { applyLocalSettings } from './localEnv.js';

const USAGE = `usage: npm run secrets -- set <name> --stdin | get <name> [--version <v>] [--show] | list | delete <name> | help`;

const HELP = `npm run secrets -- <command>: the configured vault's secrets (KEY_VAULT_URL from your shell, else
local.settings.json), through the app's own credential and client code.
  set <name> --stdin           create a new version, the value read from stdin:
                                 printf '%s' "$VALUE" | npm run secrets -- set <name> --stdin
                               (set <name> <value> works, with a warning: a value on the command line is
                               visible in the process list and kept in your shell history)
  get <name> [--version <v>]   metadata; add --show to print the value
  list                         names and metadata, never values
  delete <name>                soft-delete
  help                         this text`;

class UsageError extends Error {}

if (['help', '--help', '-h'].includes(process.argv[2] ?? '')) {
  console.log(HELP);
  process.exit(0);
}

// local.settings.json as func start would load it, the profile line, and the emulator's certificate (scripts/localEnv.ts).
const env = await applyLocalSettings();

function checkName(name: string | undefined): string {
  if (name === undefined) throw new UsageError(USAGE);
  if (!isValidSecretName(name)) {
    throw new UsageError(`"${name}" is not a valid secret name: use 1-127 letters, digits and dashes.`);
  }
  return name;
}

/** `get`'s options: `--version <32 hex>` and `--show`, each at most once; anything else is a usage error. */
function getOptions(args: string[]): { version?: string; show: boolean } {
  let version: string | undefined;
  let show = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--show' && !show) show = true;
    else if (arg === '--version' && version === undefined) {
      const value = args[++i];
      if (value === undefined || value.startsWith('--')) {
        throw new UsageError('--version needs a value: 32 hexadecimal characters (without it, get reads the latest).');
      }
      if (!isValidSecretVersion(value)) throw new UsageError('--version must be 32 hexadecimal characters.');
      version = value;
    } else throw new UsageError(`get: unexpected argument "${arg.slice(0, 40)}". ${USAGE}`);
  }
  return version === undefined ? { show } : { version, show };
}

const ARGUMENT_VALUE_WARNING =
  'warning: a secret value on the command line is visible in the process list and kept in your shell history; ' +
  'prefer: printf \'%s\' "$VALUE" | npm run secrets -- set <name> --stdin';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  if (!command || !['set', 'get', 'list', 'delete'].includes(command)) throw new UsageError(USAGE);
  // Bad input is rejected before anything talks to Key Vault.
  if (command !== 'list') checkName(rest[0]);
  const options = command === 'get' ? getOptions(rest.slice(1)) : undefined;
  if (command === 'set' && rest.length > 2) throw new UsageError(`set takes a name and --stdin. ${USAGE}`);
  if (command === 'set' && rest[1] !== undefined && rest[1] !== '--stdin') console.error(ARGUMENT_VALUE_WARNING);
  const config = parseConfig(env);
  const vaultUrl = config.vaultUrl;
  if (!vaultUrl) {
    const problem = config.problems.find((p) => p.setting === 'KEY_VAULT_URL' || p.setting === 'KEY_VAULT_URI');
    throw new UsageError(problem?.message ?? 'KEY_VAULT_URL is not set (environment or local.settings.json).');
  }
  const client = await sdkSecretClient(config);

  switch (command) {
    case 'set': {
      const name = checkName(rest[0]);
      if (rest[1] === '--stdin' && process.stdin.isTTY) {
        console.error('Type the value, then press Enter and Ctrl-D (it is not kept in your shell history).');
      }
      const value = rest[1] === '--stdin' ? await readStdin() : rest[1];
      if (value === undefined) throw new UsageError('set needs --stdin (the value is read from stdin).');
      const secret = await client.setSecret(name, value);
      console.log(`set ${name} version ${secret.properties.version ?? '?'} in ${vaultUrl}`);
      return;
    }
    case 'get': {
      const name = checkName(rest[0]);
      const { version, show } = options ?? { show: false };
      const secret = await client.getSecret(name, { version });
      const p = secret.properties;
      console.log(
        `${secret.name} version ${p.version ?? '?'} enabled=${String(p.enabled)} contentType=${p.contentType ?? '-'} updated=${p.updatedOn?.toISOString() ?? '-'}`,
      );
      if (show) console.log(secret.value ?? '');
      else console.log('(value hidden; add --show to print it)');
      return;
    }
    case 'list': {
      let count = 0;
      for await (const p of client.listPropertiesOfSecrets()) {
        count += 1;
        console.log(`${p.name}  enabled=${String(p.enabled)}  updated=${p.updatedOn?.toISOString() ?? '-'}`);
      }
      console.log(`${count} secret(s) in ${vaultUrl}`);
      return;
    }
    case 'delete': {
      const name = checkName(rest[0]);
      const poller = await client.beginDeleteSecret(name);
      await poller.pollUntilDone();
      console.log(`deleted ${name} (soft delete) from ${vaultUrl}`);
      return;
    }
    default:
      throw new UsageError(`unknown command "${command}". ${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(error.message);
    process.exit(2);
  }
  const lines = failureLines(classifyError(error), parseConfig(env).vaultUrl ?? '', process.argv[2]);
  for (const line of lines) console.error(line);
  process.exit(1);
});
