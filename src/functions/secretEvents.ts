import { app, type EventGridFunctionOptions, type InvocationContext } from '@azure/functions';
import { parseKeyVaultEvent, type SecretEvent } from '../events/keyVaultEvents.js';
import { keyVault } from '../keyVault/index.js';
import { recordRotationEvent } from '../ledger/index.js';

function describe(event: SecretEvent): string {
  return `secret "${event.name}" in ${new URL(event.vaultUrl).host}${event.version ? ` (version ${event.version})` : ''}`;
}

/**
 * Key Vault's Event Grid events for secrets (Event Grid schema or CloudEvents 1.0), one per invocation.
 *
 * - SecretNewVersionCreated: if this instance holds the latest value of that secret, it is dropped and re-read in
 *   the background; a secret this instance never read is left alone (no Key Vault call).
 * - SecretNearExpiry / SecretExpired: a warning naming the secret, and a notice the config check shows.
 * - Anything else (other event types, malformed events, a vault the app does not trust): one log line, nothing else.
 *
 * Never throws for a bad event: Event Grid would only retry it. Logs names, hosts, versions and dates; never a value.
 */
export function secretEvents(input: unknown, context: InvocationContext): void {
  const service = keyVault();
  const parsed = parseKeyVaultEvent(input, { isTrustedVault: (url) => service.isTrustedVault(url) });
  if (!parsed.ok) {
    context.log(
      `Ignored an Event Grid event${parsed.eventType ? ` of type ${parsed.eventType}` : ''}: ${parsed.reason}.`,
    );
    return;
  }
  const { event } = parsed;
  switch (event.kind) {
    case 'new-version': {
      // The other instances learn of it from the rotation ledger (when configured), within a poll interval.
      recordRotationEvent(event.vaultUrl, event.name, event.version);
      const cachedHere = service.secretRotated(event.vaultUrl, event.name);
      context.log(
        cachedHere
          ? `Key Vault: new version of ${describe(event)}; dropped this instance's cached value, re-reading it in the background.`
          : `Key Vault: new version of ${describe(event)}; not cached on this instance, nothing to refresh.`,
      );
      return;
    }
    case 'near-expiry':
    case 'expired': {
      service.noteExpiryEvent({
        vaultUrl: event.vaultUrl,
        name: event.name,
        version: event.version,
        event: event.kind,
        expiresOn: event.expiresOn,
        receivedAt: new Date().toISOString(),
      });
      const when = event.expiresOn ? ` (expires ${event.expiresOn})` : '';
      context.warn(
        event.kind === 'expired'
          ? `Key Vault: ${describe(event)} has expired${when}; rotate it.`
          : `Key Vault: ${describe(event)} is near expiry${when}; rotate it.`,
      );
      return;
    }
  }
}

export const options = { handler: secretEvents } satisfies EventGridFunctionOptions<unknown>;

app.eventGrid('secretEvents', options);
