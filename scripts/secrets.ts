/**
 * `npm run secrets -- <command>`: a small secrets CLI for developers, through the app's own credential and client
 * code (the Key Vault module's public face) and configuration (KEY_VAULT_URL etc. from the environment, else
 * local.settings.json, parsed by src/config.ts like the app's own).
 *
 * Scripts rule: TypeScript scripts (bench.ts, secrets.ts) import app code and are compiled with it by `npm run
 * build` into dist/scripts/; .mjs scripts (test runner, emulator harness, bundler, start) run from source and
 * import no app code.
 *
 *   set <name> <value> | set <name> --stdin     create a new version
 *   get <name> [--version <v>] [--show]         metadata; the value only with --show
 *   list                                        names and metadata, never values
 *   delete <name>                               soft-delete
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig } from '../src/config.js';
import {
  classifyError,
  isValidSecretName,
  isValidSecretVersion,
  referenceStatusWord,
  sdkSecretClient,
} from '../src/keyVault/index.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const USAGE = `usage: npm run secrets -- set <name> <value>|--stdin | get <name> [--version <v>] [--show] | list | delete <name>`;

class UsageError extends Error {}

/** Settings from local.settings.json "Values" fill in what the environment does not set. */
function localSettings(): Record<string, string> {
  const path = resolve(ROOT, 'local.settings.json');
  if (!existsSync(path)) return {};
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, string> };
  return parsed.Values ?? {};
}

const env: Record<string, string | undefined> = { ...localSettings(), ...process.env };

// NODE_EXTRA_CA_CERTS is read only at process start: re-run once with it when local.settings.json sets it.
if (env.NODE_EXTRA_CA_CERTS && !process.env.NODE_EXTRA_CA_CERTS) {
  const certs = resolve(ROOT, env.NODE_EXTRA_CA_CERTS);
  const child = spawnSync(process.execPath, process.argv.slice(1), {
    stdio: 'inherit',
    env: { ...(env as Record<string, string>), NODE_EXTRA_CA_CERTS: certs },
  });
  process.exit(child.status ?? 1);
}
// @azure/identity reads IDENTITY_ENDPOINT and friends from process.env itself.
Object.assign(process.env, env);

function checkName(name: string | undefined): string {
  if (name === undefined) throw new UsageError(USAGE);
  if (!isValidSecretName(name)) {
    throw new UsageError(`"${name}" is not a valid secret name: use 1-127 letters, digits and dashes.`);
  }
  return name;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

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
  const config = parseConfig(env);
  const vaultUrl = config.vaultUrl;
  if (!vaultUrl) throw new UsageError('KEY_VAULT_URL is not set (environment or local.settings.json).');
  const client = await sdkSecretClient(config);

  switch (command) {
    case 'set': {
      const name = checkName(rest[0]);
      const value = rest[1] === '--stdin' ? await readStdin() : rest[1];
      if (value === undefined) throw new UsageError('set needs a value (or --stdin).');
      const secret = await client.setSecret(name, value);
      console.log(`set ${name} version ${secret.properties.version ?? '?'} in ${vaultUrl}`);
      return;
    }
    case 'get': {
      const name = checkName(rest[0]);
      const version = flag(rest, '--version');
      if (version !== undefined && !isValidSecretVersion(version)) {
        throw new UsageError('--version must be 32 hexadecimal characters.');
      }
      const secret = await client.getSecret(name, { version });
      const p = secret.properties;
      console.log(
        `${secret.name} version ${p.version ?? '?'} enabled=${String(p.enabled)} contentType=${p.contentType ?? '-'} updated=${p.updatedOn?.toISOString() ?? '-'}`,
      );
      if (rest.includes('--show')) console.log(secret.value ?? '');
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
  const failure = classifyError(error);
  console.error(`${failure.kind} (${referenceStatusWord(failure.kind)}): ${failure.message}`);
  process.exit(1);
});
