/**
 * Telemetry of the Key Vault module through `@opentelemetry/api` only: a no-op unless a provider is registered
 * (`src/monitoring.ts` registers Azure Monitor's when APPLICATIONINSIGHTS_CONNECTION_STRING is set; tests register
 * in-memory ones). Loaded with the lazy half of the module, so ping and module load never import it.
 *
 * Metrics: reads by cache outcome, Key Vault calls (outcome, latency), token requests (latency, failures), age of
 * stale values served. One span per Key Vault call. Attributes name the vault host and the secret at most, plus an
 * outcome word: never a value, never a token, never server text.
 *
 * Cardinality: a caller chooses the names it asks for, so metrics name a secret only once Key Vault has returned a
 * value for it (it exists, and the app may read it), lower-cased, and at most METRIC_SECRET_NAMES of them per
 * process; every other name (404s, refusals, random names under an allowed prefix, the access probe's) is
 * `(other)`. Spans keep the name asked for: they are per call, bounded by the call budget, and not a metric series.
 */
import {
  type Attributes,
  type Counter,
  type Histogram,
  metrics,
  type MeterProvider,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { SecretReference } from './contract.js';
import { KeyVaultFailure } from './failure.js';

const SCOPE = 'keyvault-functions';

interface Instruments {
  reads: Counter;
  calls: Counter;
  callDuration: Histogram;
  tokenDuration: Histogram;
  tokenFailures: Counter;
  staleAge: Histogram;
}

let instruments: Instruments | undefined;
let instrumentsFrom: MeterProvider | undefined;

/** The instruments of the current global provider (re-created if a provider was registered after first use). */
function get(): Instruments {
  const provider = metrics.getMeterProvider();
  if (instruments === undefined || instrumentsFrom !== provider) {
    const meter = provider.getMeter(SCOPE);
    instruments = {
      reads: meter.createCounter('keyvault.secret.reads', {
        description: 'Secret reads answered, by cache outcome (hit, miss, stale, refresh-limited, refused)',
      }),
      calls: meter.createCounter('keyvault.calls', { description: 'Calls that reached Key Vault, by outcome' }),
      callDuration: meter.createHistogram('keyvault.call.duration', {
        description: 'Duration of Key Vault calls, token included',
        unit: 'ms',
      }),
      tokenDuration: meter.createHistogram('keyvault.token.duration', {
        description: 'Duration of token requests to the identity endpoint or developer credential',
        unit: 'ms',
      }),
      tokenFailures: meter.createCounter('keyvault.token.failures', { description: 'Failed token requests, by kind' }),
      staleAge: meter.createHistogram('keyvault.stale.age', {
        description: 'Age of last-known-good values served while Key Vault failed',
        unit: 's',
      }),
    };
    instrumentsFrom = provider;
  }
  return instruments;
}

/** How many distinct secret names metrics carry per process; past it, and for names never read, `(other)`. */
export const METRIC_SECRET_NAMES = 100;
/** The one value that stands for every secret name metrics do not carry. */
export const OTHER_SECRET_NAME = '(other)';

/** Names Key Vault returned a value for (`host|name`, lower case), up to METRIC_SECRET_NAMES. */
const namesRead = new Set<string>();

/** Vault URL → host, remembered for the few vaults an app reads (parsing a URL per read shows in profiles). */
const hosts = new Map<string, string>();
function hostOf(vaultUrl: string): string {
  let host = hosts.get(vaultUrl);
  if (host === undefined) {
    host = new URL(vaultUrl).host;
    if (hosts.size >= 64) hosts.clear();
    hosts.set(vaultUrl, host);
  }
  return host;
}

function nameKey(ref: SecretReference): string {
  return `${hostOf(ref.vaultUrl)}|${ref.name.toLowerCase()}`;
}

/** Key Vault returned a value for this name: metrics may carry it (while fewer than METRIC_SECRET_NAMES do). */
function noteNameRead(ref: SecretReference): void {
  if (namesRead.size >= METRIC_SECRET_NAMES) return;
  const key = nameKey(ref);
  if (namesRead.has(key)) return;
  namesRead.add(key);
  readAttributes.clear();
}

/** Attributes of successful reads per vault, name and outcome (see recordRead). */
const readAttributes = new Map<string, Attributes>();

/** Attributes for metrics: the vault host, and the secret name if it is one metrics carry, else `(other)`. */
function where(ref: SecretReference): Attributes {
  return {
    'server.address': hostOf(ref.vaultUrl),
    'keyvault.secret.name': namesRead.has(nameKey(ref)) ? ref.name.toLowerCase() : OTHER_SECRET_NAME,
  };
}

function outcomeOf(error: unknown): string {
  return error instanceof KeyVaultFailure ? error.kind : 'unexpected';
}

/** A read answered to a caller: its cache outcome, or `refused` with the failure kind. */
export function recordRead(ref: SecretReference, outcome: string, failure?: unknown, staleAgeMs?: number): void {
  const i = get();
  if (failure !== undefined) {
    i.reads.add(1, { ...where(ref), 'keyvault.cache.outcome': outcome, 'error.type': outcomeOf(failure) });
  } else {
    // The attributes of a successful read, made once per name and outcome (a read is mostly a cache hit, and a
    // new object per hit shows in profiles); forgotten whenever the set of names metrics carry changes.
    const key = `${ref.vaultUrl}|${ref.name}|${outcome}`;
    let attributes = readAttributes.get(key);
    if (attributes === undefined) {
      attributes = Object.freeze({ ...where(ref), 'keyvault.cache.outcome': outcome });
      if (readAttributes.size >= 4 * METRIC_SECRET_NAMES) readAttributes.clear();
      readAttributes.set(key, attributes);
    }
    i.reads.add(1, attributes);
  }
  if (staleAgeMs !== undefined) i.staleAge.record(staleAgeMs / 1000, where(ref));
}

/** Runs one Key Vault call inside a span, and records its outcome and latency. */
export async function traceCall<T>(ref: SecretReference, call: () => Promise<T>): Promise<T> {
  const tracer = trace.getTracer(SCOPE);
  const attributes: Attributes = { 'server.address': new URL(ref.vaultUrl).host, 'keyvault.secret.name': ref.name };
  return tracer.startActiveSpan('keyvault.get_secret', { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const started = performance.now();
    let outcome = 'ok';
    let status: number | undefined;
    try {
      const result = await call();
      noteNameRead(ref);
      return result;
    } catch (error) {
      outcome = outcomeOf(error);
      status = error instanceof KeyVaultFailure ? error.statusCode : undefined;
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      throw error;
    } finally {
      const result: Attributes = {
        'keyvault.outcome': outcome,
        ...(status !== undefined ? { 'http.response.status_code': status } : {}),
      };
      span.setAttributes(result);
      span.end();
      const i = get();
      i.calls.add(1, { ...where(ref), ...result });
      i.callDuration.record(performance.now() - started, { ...where(ref), ...result });
    }
  });
}

/** A token request: its latency, and its failure kind when it failed. */
export function recordToken(durationMs: number, failure?: unknown): void {
  const i = get();
  const outcome = failure === undefined ? 'ok' : outcomeOf(failure);
  i.tokenDuration.record(durationMs, { 'keyvault.outcome': outcome });
  if (failure !== undefined) i.tokenFailures.add(1, { 'error.type': outcome });
}
