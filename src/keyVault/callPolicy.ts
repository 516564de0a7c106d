/**
 * The call policy: how one Key Vault call is made. Each call is bounded by KEY_VAULT_TIMEOUT_MS (time spent
 * queued included) and by a per-vault concurrency limit (p-limit), and counted per vault for the config check.
 * The fetch itself is injected (the SDK adapter, or a test double), so this module never touches the network.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { CallSettings } from '../config.js';
import type { SecretFetch, SecretRecord, SecretReference } from './contract.js';
import { type FailureKind, KeyVaultFailure } from './failure.js';

export interface VaultStats {
  keyVaultCalls: number;
  lastError: { kind: FailureKind; message: string; at: string } | null;
}

export class VaultCalls {
  private readonly limiters = new Map<string, LimitFunction>();
  private readonly vaults = new Map<string, VaultStats>();

  constructor(
    private readonly fetchSecret: SecretFetch,
    private readonly settings: CallSettings,
  ) {}

  /** One Key Vault call. Rejects only with a {@link KeyVaultFailure}. */
  async call(ref: SecretReference): Promise<SecretRecord> {
    const stats = this.stats(ref.vaultUrl);
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const failure = new KeyVaultFailure(
          'timeout',
          `No answer from Key Vault within ${this.settings.timeoutMs} ms (KEY_VAULT_TIMEOUT_MS).`,
        );
        controller.abort(failure);
        reject(failure);
      }, this.settings.timeoutMs);
    });
    const task = this.limiter(ref.vaultUrl)(async () => {
      if (controller.signal.aborted) throw controller.signal.reason;
      stats.keyVaultCalls += 1;
      return this.fetchSecret(ref.vaultUrl, ref.name, ref.version, controller.signal);
    });
    try {
      return await Promise.race([task, timeout]);
    } catch (error) {
      const failure =
        error instanceof KeyVaultFailure
          ? error
          : new KeyVaultFailure('unexpected', 'The secret fetch failed without a classified error.');
      stats.lastError = { kind: failure.kind, message: failure.message, at: new Date().toISOString() };
      throw failure;
    } finally {
      clearTimeout(timer);
      task.catch(() => undefined);
    }
  }

  /** Per-vault call counts and last errors (copies; never values). */
  snapshot(): Record<string, VaultStats> {
    const out: Record<string, VaultStats> = {};
    for (const [url, s] of this.vaults) out[url] = { ...s, lastError: s.lastError && { ...s.lastError } };
    return out;
  }

  private stats(vaultUrl: string): VaultStats {
    let s = this.vaults.get(vaultUrl);
    if (!s) {
      s = { keyVaultCalls: 0, lastError: null };
      this.vaults.set(vaultUrl, s);
    }
    return s;
  }

  private limiter(vaultUrl: string): LimitFunction {
    let limit = this.limiters.get(vaultUrl);
    if (!limit) {
      limit = pLimit(this.settings.maxConcurrency);
      this.limiters.set(vaultUrl, limit);
    }
    return limit;
  }
}
