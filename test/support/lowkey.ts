/**
 * Connection facts for the Lowkey Vault that scripts/run-tests.mjs started, and helpers to seed it.
 * Integration tests skip (loudly, with the reason) when Lowkey could not be started.
 */
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';

export interface Lowkey {
  vaultUrl: string;
  tokenUrl: string;
  tokenAuthority: string;
  apiVersion: '7.2' | '7.3' | '7.4' | '7.5' | '7.6';
  /** TLS for the tests' HTTPS fault proxy: a throw-away certificate (trusted by the runner), else Lowkey's own. */
  proxyTls: { key: Buffer; cert: Buffer } | { pfx: Buffer; passphrase: string } | undefined;
}

function load(): Lowkey | undefined {
  const e = process.env;
  if (!e.LOWKEY_VAULT_URL || !e.LOWKEY_TOKEN_URL) return undefined;
  return {
    vaultUrl: e.LOWKEY_VAULT_URL,
    tokenUrl: e.LOWKEY_TOKEN_URL,
    tokenAuthority: e.LOWKEY_TOKEN_AUTHORITY ?? new URL(e.LOWKEY_TOKEN_URL).origin,
    apiVersion: (e.LOWKEY_API_VERSION ?? '7.5') as Lowkey['apiVersion'],
    proxyTls:
      e.TEST_PROXY_KEY && e.TEST_PROXY_CERT
        ? { key: readFileSync(e.TEST_PROXY_KEY), cert: readFileSync(e.TEST_PROXY_CERT) }
        : e.LOWKEY_CERT_P12
          ? { pfx: readFileSync(e.LOWKEY_CERT_P12), passphrase: e.LOWKEY_CERT_PASSWORD ?? 'changeit' }
          : undefined,
  };
}

export const lowkey = load();

/** `skip` option for node:test: false when Lowkey runs, else the reason (shown in the test report). */
export const skipUnlessLowkey: string | false = lowkey
  ? false
  : `INTEGRATION SKIPPED: Lowkey Vault unavailable (${process.env.LOWKEY_UNAVAILABLE ?? 'not started by scripts/run-tests.mjs'})`;

/** Like skipUnlessLowkey, and the HTTPS fault proxy needs a certificate (openssl, or Lowkey's key store). */
export const skipUnlessFaultProxy: string | false =
  skipUnlessLowkey ||
  (lowkey?.proxyTls ? false : 'FAULT TESTS SKIPPED: no TLS material for the fault proxy (openssl missing)');

/**
 * Point the real ManagedIdentityCredential at Lowkey's token endpoint (App Service style), and every other
 * identity endpoint at loopback. Call before the app creates its credential.
 */
export function useLowkeyIdentity(tokenUrl = lowkey!.tokenUrl): Record<string, string> {
  const identity = {
    IDENTITY_ENDPOINT: tokenUrl,
    IDENTITY_HEADER: 'lowkey-tests',
    IMDS_ENDPOINT: lowkey!.tokenAuthority,
    AZURE_POD_IDENTITY_AUTHORITY_HOST: lowkey!.tokenAuthority,
  };
  Object.assign(process.env, identity);
  return identity;
}

/** The app settings that point the app at a Lowkey vault (directly, or through a proxy at `vaultUrl`). */
export function vaultSettings(vaultUrl = lowkey!.vaultUrl): Record<string, string> {
  return {
    KEY_VAULT_URL: vaultUrl,
    KEY_VAULT_API_VERSION: lowkey!.apiVersion,
    KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
  };
}

/** Lowkey accepts any bearer token; seeding uses a fixed one so it does not depend on the code under test. */
const seedCredential: TokenCredential = {
  getToken: async () => ({ token: 'seed-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

export function seedClient(vaultUrl = lowkey!.vaultUrl): SecretClient {
  return new SecretClient(vaultUrl, seedCredential, {
    serviceVersion: lowkey!.apiVersion,
    disableChallengeResourceVerification: true,
  });
}

/** A name unique to this run, so test files sharing one Lowkey never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
}
