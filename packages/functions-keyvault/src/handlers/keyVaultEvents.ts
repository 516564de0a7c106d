import { type InvocationContext } from '@azure/functions';
import { parseKeyVaultEvent, type SecretEvent } from '../events/keyVaultEvents.js';
import { keyVault, type RotationOutcome } from '../keyVault/index.js';
import { recordRotationEvent } from '../ledger/index.js';

const ROTATION_OUTCOME: Record<RotationOutcome, string> = {
  'not-cached': 'not cached on this instance, nothing to refresh.',
  current: 'this instance already holds that version.',
  refreshing: 're-reading it in the background; the value held is served until the new one arrives.',
  deferred:
    'merged with a re-read made moments ago; re-read once more after SECRET_CACHE_MIN_REFRESH_SECONDS, ' +
    'the value held is served meanwhile.',
};

function describe(event: SecretEvent): string {
  return `secret "${event.name}" in ${new URL(event.vaultUrl).host}${event.version ? ` (version ${event.version})` : ''}`;
}

/**
 * Key Vault's Event Grid events for secrets (Event Grid schema or CloudEvents 1.0), one per invocation.
 *
 * - SecretNewVersionCreated: a rotation notice (`secretRotated`): if this instance holds an older value of that
 *   secret, it is re-read in the background (merged and rate-limited; the value held is served until the new one is
 *   in hand); a secret this instance never read is left alone (no Key Vault call).
 * - SecretNearExpiry / SecretExpired: a notice the config check shows (at most MAX_EXPIRY_NOTICES kept); a warning
 *   naming the secret when the app uses it (allowed, prefetched, referenced or read), else an information line. Only
 *   an expired secret the app uses degrades health.
 * - Anything else (other event types, malformed events, a vault the app does not read): one log line, nothing else.
 *
 * With a rotation ledger, SecretNewVersionCreated returns only once the ledger holds the version (on any instance,
 * whether it holds secrets or not, waiting for a ledger still starting): if that write fails or times out it throws,
 * so the invocation fails and Event Grid delivers the event again. Never throws for a bad event: Event Grid would
 * only retry it. Logs names, hosts, versions and dates; never a value.
 */
export async function secretEvents(input: unknown, context: InvocationContext): Promise<void> {
  const service = keyVault();
  const parsed = parseKeyVaultEvent(input, { isAppVault: (url) => service.isAppVault(url) });
  if (!parsed.ok) {
    context.log(
      `Ignored an Event Grid event${parsed.eventType ? ` of type ${parsed.eventType}` : ''}: ${parsed.reason}.`,
    );
    return;
  }
  const { event } = parsed;
  switch (event.kind) {
    case 'new-version': {
      const outcome = service.secretRotated(event.vaultUrl, event.name, event.version ?? undefined);
      context.log(`Key Vault: new version of ${describe(event)}; ${ROTATION_OUTCOME[outcome]}`);
      // The other instances learn of it from the rotation ledger (when configured), within a poll interval.
      try {
        if (await recordRotationEvent(event.vaultUrl, event.name, event.version)) {
          context.log(`Rotation ledger: recorded ${describe(event)} for the other instances.`);
        }
      } catch (error) {
        const kind = (error as { kind?: unknown }).kind;
        const why = typeof kind === 'string' && /^[a-z-]{1,30}$/.test(kind) ? kind : 'not running';
        context.warn(`Rotation ledger: could not record ${describe(event)} (${why}); Event Grid delivers it again.`);
        throw new Error(`The rotation ledger could not record this event (${why}); deliver it again.`);
      }
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
      const what =
        event.kind === 'expired'
          ? `Key Vault: ${describe(event)} has expired${when}`
          : `Key Vault: ${describe(event)} is near expiry${when}`;
      // A shared vault publishes for every secret in it: only the ones this app uses are its concern.
      if (service.usesSecret(event.vaultUrl, event.name)) context.warn(`${what}; rotate it.`);
      else context.log(`${what}; this app does not use it (listed in the config check as information only).`);
      return;
    }
  }
}
