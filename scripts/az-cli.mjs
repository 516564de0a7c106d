/**
 * What the azd hooks (postdeploy.mjs, key-vault-events.mjs) share: running the Azure CLI without printing its output
 * (it may hold a function key or a token), telling an az failure that waiting can clear from one it cannot, checking
 * once up front that az can act for this deployment, validating the azd environment values the hooks pass to az, and
 * reading a positive number of seconds from the environment.
 *
 * Hand-written (no library quotes for cmd.exe): on Windows az is az.cmd, a batch file, which only runs through cmd.exe.
 * cmd.exe gives `& | < > ^ ( )` their meaning outside double quotes and expands `%name%` (and `!name!` with delayed
 * expansion) even inside them, and there is no escape for `"` inside a quoted argument. So every argument that is not a
 * plain word is put in double quotes, trailing backslashes are doubled (else `\"` would escape the closing quote for
 * the program's own argument parser), and an argument holding `"`, `%`, `!` or a line break is refused before anything
 * runs. The hooks only ever pass ARM names, URLs, JMESPath queries and file paths, which need none of those.
 */
import { spawnSync } from 'node:child_process';

/** A word cmd.exe passes through unchanged, unquoted. */
const PLAIN = /^[\w.:/@?+-]+$/;
/** Characters no argument may carry on Windows: no quoting makes them inert for cmd.exe. */
const UNQUOTABLE = /["%!\r\n\0]/;

/** The command line cmd.exe runs for `az <args>` on Windows (exported for the quoting test). */
export function windowsCommandLine(args) {
  const quoted = args.map((arg) => {
    const text = String(arg);
    if (UNQUOTABLE.test(text)) {
      throw new AzError(
        `refusing to pass an argument with ", %, !, or a line break to az through cmd.exe: ${JSON.stringify(text.slice(0, 60))}`,
        { final: true, fix: 'check the azd environment values the hook reads (azd env get-values)' },
      );
    }
    if (text !== '' && PLAIN.test(text)) return text;
    return `"${text.replace(/(\\+)$/, '$1$1')}"`;
  });
  return ['az', ...quoted].join(' ');
}

/** An az failure. `final`: waiting will not clear it (the hook stops at once and prints `fix`). */
export class AzError extends Error {
  constructor(message, { final = false, fix = '' } = {}) {
    super(message);
    this.name = 'AzError';
    this.final = final;
    this.fix = fix;
  }
}

/**
 * What an az failure means, from its stderr: { final, fix }. Final are the failures no amount of waiting clears: az
 * not installed, not signed in (or the sign-in expired), signed in to another tenant, not allowed, a subscription az
 * cannot see. Anything else (the app still starting, a key not created yet, a throttled or failing request) may clear.
 */
export function classifyAzFailure(stderr) {
  const text = String(stderr ?? '');
  const rules = [
    [
      /is not recognized as an internal or external command|az: (command )?not found|ENOENT/i,
      'install the Azure CLI (https://aka.ms/azure-cli) and sign in with `az login`',
    ],
    [
      /InvalidAuthenticationTokenTenant|AADSTS50020|AADSTS90072|AADSTS700016|belongs to a different tenant|wrong issuer/i,
      'sign az in to the tenant of this deployment: `az login --tenant <AZURE_TENANT_ID from azd env get-values>`',
    ],
    [
      /az login|not logged in|AADSTS50173|AADSTS700082|AADSTS70043|AADSTS50078|AADSTS50076|refresh token has expired|Interactive authentication is needed|No subscription found/i,
      'sign the Azure CLI in: `az login` (in CI, sign it in as the identity azd uses)',
    ],
    [
      /SubscriptionNotFound|subscription .* (could not be found|doesn't exist|not found)|The subscription .* is disabled/i,
      'sign az in to an account that can see AZURE_SUBSCRIPTION_ID (`az account list`), or fix AZURE_SUBSCRIPTION_ID',
    ],
    [
      /AuthorizationFailed|does not have authorization to perform action|LinkedAuthorizationFailed/i,
      'the principal az is signed in as lacks a permission on this resource group (Contributor has what the hooks need)',
    ],
  ];
  for (const [pattern, fix] of rules) if (pattern.test(text)) return { final: true, fix };
  return { final: false, fix: '' };
}

/**
 * Runs az and returns its stdout, never printed. Throws AzError (with `final` and `fix`) on failure. On Windows az
 * is az.cmd, so it runs through the shell, as one command line built by windowsCommandLine.
 */
export function az(args, { timeoutMs = 120_000, platform = process.platform, spawn = spawnSync } = {}) {
  const windows = platform === 'win32';
  const options = { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true };
  const run = windows ? spawn(windowsCommandLine(args), [], { ...options, shell: true }) : spawn('az', args, options);
  const words = args.findIndex((arg) => String(arg).startsWith('-'));
  const what = `az ${args.slice(0, Math.min(words < 0 ? args.length : words, 4)).join(' ')}`;
  if (run.error) {
    const code = run.error.code ?? run.error.message;
    const failure = classifyAzFailure(code);
    throw new AzError(`${what} could not run (${code})`, {
      final: run.error.code === 'ENOENT' || failure.final,
      fix: failure.fix || 'install the Azure CLI (https://aka.ms/azure-cli)',
    });
  }
  if (run.status !== 0) {
    const stderr = String(run.stderr ?? '');
    // cmd.exe answers 9009 when az is not on PATH.
    const failure = windows && run.status === 9009 ? classifyAzFailure('ENOENT') : classifyAzFailure(stderr);
    const reason =
      stderr
        .trim()
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .pop() || `exit ${run.status}`;
    throw new AzError(`${what} failed: ${reason}`, failure);
  }
  return String(run.stdout ?? '');
}

/**
 * The one up-front check: az runs, is signed in, sees the deployment's subscription, in the deployment's tenant.
 * Throws a final AzError saying what to do; returns { subscriptionId, tenantId } of the account az uses.
 */
export function checkAzAccount(runAz, env) {
  const args = ['account', 'show', '--output', 'json'];
  if (env.AZURE_SUBSCRIPTION_ID) args.push('--subscription', env.AZURE_SUBSCRIPTION_ID);
  let account;
  try {
    account = JSON.parse(runAz(args));
  } catch (error) {
    if (error instanceof AzError) {
      // `az account show --subscription <id>` for a subscription the account cannot see fails this way.
      if (!error.final && /not found|doesn't exist/i.test(error.message)) {
        throw new AzError(error.message, { final: true, fix: classifyAzFailure('SubscriptionNotFound').fix });
      }
      throw new AzError(error.message, { final: true, fix: error.fix || classifyAzFailure('az login').fix });
    }
    throw new AzError(`az account show did not answer JSON (${error?.message ?? error})`, { final: true });
  }
  const tenantId = String(account?.tenantId ?? '');
  const expected = String(env.AZURE_TENANT_ID ?? '').trim();
  if (expected && tenantId && tenantId.toLowerCase() !== expected.toLowerCase()) {
    throw new AzError(`az is signed in to tenant ${tenantId}, the deployment is in tenant ${expected}`, {
      final: true,
      fix: `sign az in to the deployment's tenant: \`az login --tenant ${expected}\``,
    });
  }
  return { subscriptionId: String(account?.id ?? ''), tenantId };
}

/**
 * An azd environment value the hooks hand to az or put in a URL: set, trimmed, and matching `pattern` (ARM names and
 * ids only), else a clear error before anything runs. Same rule for every hook.
 */
export function envValue(env, name, pattern) {
  const value = String(env[name] ?? '').trim();
  if (!value) throw new Error(`${name} is not set: run \`azd provision\` first (it is an output of infra/main.bicep)`);
  if (!pattern.test(value)) throw new Error(`${name} is not a valid name: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

/** ARM name patterns of the values the hooks read. */
export const ARM_NAMES = Object.freeze({
  AZURE_SUBSCRIPTION_ID: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  AZURE_TENANT_ID: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  AZURE_RESOURCE_GROUP: /^[-\w.()]{1,90}$/,
  AZURE_FUNCTION_APP_NAME: /^[A-Za-z0-9-]{2,60}$/,
  KEY_VAULT_EVENTS_TOPIC_NAME: /^[A-Za-z0-9-]{3,128}$/,
});

/**
 * `--resource-group <g> --name <app> [--subscription <id>]` for az functionapp commands, from the azd environment,
 * every value validated first (and AZURE_TENANT_ID, when set, checked to be a tenant id).
 */
export function functionAppScope(env) {
  const group = envValue(env, 'AZURE_RESOURCE_GROUP', ARM_NAMES.AZURE_RESOURCE_GROUP);
  const app = envValue(env, 'AZURE_FUNCTION_APP_NAME', ARM_NAMES.AZURE_FUNCTION_APP_NAME);
  const subscription = env.AZURE_SUBSCRIPTION_ID
    ? ['--subscription', envValue(env, 'AZURE_SUBSCRIPTION_ID', ARM_NAMES.AZURE_SUBSCRIPTION_ID)]
    : [];
  if (env.AZURE_TENANT_ID) envValue(env, 'AZURE_TENANT_ID', ARM_NAMES.AZURE_TENANT_ID);
  return ['--resource-group', group, '--name', app, ...subscription];
}

/** A positive number of seconds from the environment variable `name`, else `fallback`. */
export function seconds(env, name, fallback) {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of seconds`);
  return value;
}
