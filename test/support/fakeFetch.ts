/**
 * An in-memory SecretFetch for unit tests of the cache policy and the handlers. It is a function double at the
 * service's fetch seam (no HTTP, no Key Vault protocol): the Key Vault protocol itself is exercised against
 * Lowkey Vault in the integration tests. Like the SDK adapter it stands in for, it classifies its errors once,
 * at the seam, with the app's own classifier.
 */
import { classifyError } from '../../src/keyVault/classify.js';
import type { SecretFetch, SecretRecord } from '../../src/keyVault/index.js';

export class FakeVault {
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** When set, every call fails with this error (after `delayMs`). */
  failWith: Error | undefined;
  delayMs = 0;
  /** When true, calls never settle until aborted. */
  hang = false;
  private readonly versions = new Map<string, SecretRecord[]>();
  private counter = 0;

  set(name: string, value: string, contentType: string | null = null): SecretRecord {
    const version = (++this.counter).toString(16).padStart(32, '0');
    const now = new Date(Date.UTC(2026, 0, 1, 0, 0, this.counter));
    const record: SecretRecord = {
      name,
      value,
      version,
      contentType,
      enabled: true,
      createdOn: now,
      updatedOn: now,
      expiresOn: null,
      notBefore: null,
    };
    const key = name.toLowerCase();
    this.versions.set(key, [...(this.versions.get(key) ?? []), record]);
    return record;
  }

  delete(name: string): void {
    this.versions.delete(name.toLowerCase());
  }

  readonly fetch: SecretFetch = (vaultUrl, name, version, signal) =>
    this.fetchRaw(vaultUrl, name, version, signal).catch((error: unknown) => {
      throw classifyError(error, version !== undefined);
    });

  private readonly fetchRaw: SecretFetch = async (_vaultUrl, name, version, signal) => {
    this.calls += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.hang) {
        await new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))),
        );
      }
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.failWith !== undefined) throw this.failWith;
      const all = this.versions.get(name.toLowerCase());
      const found = version === undefined ? all?.at(-1) : all?.find((r) => r.version === version);
      if (!found) throw restError(404, `A secret with (name/id) ${name} was not found in this key vault.`);
      return { ...found };
    } finally {
      this.inFlight -= 1;
    }
  };
}

/** An error shaped like @azure/core-rest-pipeline's RestError. */
export function restError(statusCode: number, message: string, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), {
    name: 'RestError',
    statusCode,
    response: { headers: { get: (n: string) => headers[n.toLowerCase()] } },
  });
}

export class FakeClock {
  constructor(public t = 1_000_000) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
