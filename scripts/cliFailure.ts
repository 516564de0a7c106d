/**
 * What the secrets CLI (scripts/secrets.ts) prints when a Key Vault call fails: one line saying what happened, in
 * plain words, and where the cause is usually local, one line saying what to run. Pure (tested in cli.test.ts).
 *
 * The first line keeps the failure kind and, where it means something, the word App Service uses for Key Vault
 * reference status (`access-denied (AccessToKeyVaultDenied)`), so it matches the config check and the portal. A
 * refused connection says so instead of `unreachable (FetchTimedOut)`: nothing timed out, nothing listens there.
 */
import { type KeyVaultFailure, referenceStatusWord } from 'functions-keyvault/internal/keyVault/index.js';

/** Whether the vault is on this machine (an emulator: `npm run vault:start`), from its URL's host. */
export function isLoopbackVault(vaultUrl: string): boolean {
  let host: string;
  try {
    host = new URL(vaultUrl).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

const EMULATOR_HINT =
  'Is the emulator running? `npm run vault:status` says, `npm run vault:start` starts it. ' +
  'KEY_VAULT_URL comes from your shell, else local.settings.json.';

/** What a refused command needs: the app's own role only reads, so `set` and `delete` need more. */
export function accessNeeded(command: string | undefined): string {
  const permission = command === 'set' || command === 'delete' || command === 'list' ? command : 'get';
  const role =
    permission === 'set' || permission === 'delete'
      ? '"Key Vault Secrets Officer" (the app\'s own "Key Vault Secrets User" may only read)'
      : '"Key Vault Secrets User"';
  return (
    `\`${command ?? 'get'}\` needs the role ${role} on the vault for the identity in use, or an access policy ` +
    `with secret permission "${permission}".`
  );
}

/** The lines to print (stderr) for `failure` while talking to `vaultUrl` during `command` (set, get, list...). */
export function failureLines(failure: KeyVaultFailure, vaultUrl: string, command?: string): string[] {
  const local = isLoopbackVault(vaultUrl);
  const refused = failure.errorCode === 'ECONNREFUSED';
  const word = referenceStatusWord(failure.kind);
  let label: string;
  if (refused) label = 'connection refused';
  else if (failure.kind === 'unreachable') label = `unreachable${failure.errorCode ? ` (${failure.errorCode})` : ''}`;
  else label = word === 'OtherReasons' ? failure.kind : `${failure.kind} (${word})`;
  const lines = [`${label}: ${failure.message}`];

  const notReached = ['unreachable', 'timeout', 'identity-unavailable'].includes(failure.kind);
  if (failure.kind === 'access-denied' && failure.statusCode !== 401) {
    lines.push(accessNeeded(command));
  } else if (failure.kind === 'identity-unavailable' && local && !refused) {
    // Something answered on the identity port but gave no token: usually a token path of the other emulator.
    lines.push(
      "The identity endpoint (IDENTITY_ENDPOINT) gave no token: it is the running emulator's own path (Lowkey " +
        'Vault: /metadata/identity/oauth2/token; the Go pair: /msi/token on entra-emulator). `npm run vault:status` ' +
        'prints the settings of the one running.',
    );
  } else if (notReached && local) {
    lines.push(`Nothing answered at ${vaultUrl} (or its identity endpoint). ${EMULATOR_HINT}`);
  } else if (failure.kind === 'unreachable') {
    lines.push(
      `${vaultUrl} refused or dropped the connection: check KEY_VAULT_URL (your shell, else local.settings.json) ` +
        'and any proxy (HTTPS_PROXY) or firewall between you and the vault.',
    );
  }
  return lines;
}
