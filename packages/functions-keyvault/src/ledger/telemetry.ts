/**
 * Telemetry of the rotation ledger through `@opentelemetry/api` (a no-op unless a provider is registered, as for the
 * Key Vault module): poll outcomes, write outcomes, and the lag from a version being seen somewhere in the fleet to
 * this instance acting on it. Attributes are outcome words only: no secret name (unbounded), never a value.
 */
import { metrics } from '@opentelemetry/api';
import type { LedgerEvents } from './rotationLedger.js';

export function ledgerTelemetry(): LedgerEvents {
  const meter = metrics.getMeter('keyvault-functions');
  const polls = meter.createCounter('ledger.polls', {
    description: 'Rotation ledger polls, by outcome (not-modified, changed, absent, invalid, failed:<kind>)',
  });
  const writes = meter.createCounter('ledger.writes', {
    description: 'Rotation ledger writes, by outcome (written, conflict, unchanged, failed:<kind>)',
  });
  const lag = meter.createHistogram('ledger.lag', {
    description: 'From a new version being seen (event or read) to this instance re-reading it',
    unit: 's',
  });
  return {
    poll: (outcome) => {
      if (outcome !== 'idle') polls.add(1, { 'ledger.outcome': outcome });
    },
    write: (outcome) => writes.add(1, { 'ledger.outcome': outcome }),
    lag: (seconds) => lag.record(seconds),
  };
}
