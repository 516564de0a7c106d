/**
 * The Key Vault emulator scripts/run-tests.mjs started (through scripts/emulators/), as the tests see it, and
 * helpers to seed it. Tests written against this run unchanged on every emulator the harness supports (Lowkey Vault,
 * or azure-keyvault-emulator + entra-emulator); a test that needs what only one offers must say so in its name.
 * Without an emulator the tests skip with a short reason; run-tests.mjs prints the one summary line.
 */
import { readFileSync } from 'node:fs';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';

export interface Emulator {
  kind: 'lowkey' | 'go';
  description: string;
  vaultUrl: string;
  /** The App Service-style managed-identity endpoint (IDENTITY_ENDPOINT) and the header value it expects. */
  identityEndpoint: string;
  identityHeader: string;
  /** Origin of the identity endpoint (where IMDS_ENDPOINT / AZURE_POD_IDENTITY_AUTHORITY_HOST point in tests). */
  tokenAuthority: string;
  apiVersion: '7.2' | '7.3' | '7.4' | '7.5' | '7.6';
  /** Whether the vault checks tokens (signature, issuer, audience, expiry). Lowkey accepts any token. */
  validatesTokens: boolean;
  /** The principal (oid, else sub) the vault sees for the managed identity, where the emulator has one. */
  principalId?: string;
  /** The emulator's own certificate (PEM), the file `npm run vault:start` writes to .emulators/vault/ca.pem. */
  caFile?: string;
  /** Go pair only: the vault's control surface (clock, faults, permissions, rbac), e.g. https://127.0.0.1:<p>/_emulator */
  vaultControlUrl?: string;
  /** Go pair only: entra-emulator's admin API (clock, faults, token forge), e.g. http://127.0.0.1:<p>/admin/api */
  identityAdminUrl?: string;
}

function load(): Emulator | undefined {
  const raw = process.env.KEY_VAULT_EMULATOR_FACTS;
  return raw ? (JSON.parse(raw) as Emulator) : undefined;
}

export const emulator = load();

/** TLS for the tests' HTTPS fault proxy: a throw-away certificate the runner made and trusts. */
export const proxyTls =
  process.env.TEST_PROXY_KEY && process.env.TEST_PROXY_CERT
    ? { key: readFileSync(process.env.TEST_PROXY_KEY), cert: readFileSync(process.env.TEST_PROXY_CERT) }
    : undefined;

/** `skip` option for node:test: false when an emulator runs, else a short reason. */
export const skipUnlessEmulator: string | false = emulator ? false : 'no Key Vault emulator';

/** Like skipUnlessEmulator, and the HTTPS fault proxy needs its certificate (openssl). */
export const skipUnlessFaultProxy: string | false =
  skipUnlessEmulator || (proxyTls ? false : 'no TLS material for the fault proxy (openssl missing)');

/** The identity endpoint's URL with its origin replaced, e.g. by a FaultProxy's url in front of it. */
export function identityEndpointVia(origin: string): string {
  return `${origin}${new URL(emulator!.identityEndpoint).pathname}`;
}

/**
 * Point the real ManagedIdentityCredential at the emulator's identity endpoint (App Service style), and every other
 * identity endpoint at loopback. Call before the app creates its credential.
 */
export function useEmulatorIdentity(identityEndpoint = emulator!.identityEndpoint): Record<string, string> {
  const identity = {
    IDENTITY_ENDPOINT: identityEndpoint,
    IDENTITY_HEADER: emulator!.identityHeader,
    IMDS_ENDPOINT: emulator!.tokenAuthority,
    AZURE_POD_IDENTITY_AUTHORITY_HOST: emulator!.tokenAuthority,
  };
  Object.assign(process.env, identity);
  return identity;
}

/**
 * The app settings that point the app at the emulator's vault (directly, or through a proxy at `vaultUrl`). Behind
 * the tests' fault proxy the app's vault is the proxy, while the emulator's challenge still names the emulator
 * itself (Lowkey asks for a token for its own https://127.0.0.1:<port>): that host is trusted too, as a user would
 * trust a vault host with KEY_VAULT_ALLOWED_HOSTS. The app's rule (a token only for a trusted vault host) stays.
 */
export function vaultSettings(vaultUrl = emulator!.vaultUrl): Record<string, string> {
  const own = new URL(emulator!.vaultUrl).host;
  return {
    KEY_VAULT_URL: vaultUrl,
    KEY_VAULT_API_VERSION: emulator!.apiVersion,
    KEY_VAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    ...(new URL(vaultUrl).host === own ? {} : { KEY_VAULT_ALLOWED_HOSTS: own }),
  };
}

/**
 * Seeding must not depend on the code under test. Lowkey accepts any bearer token, so a fixed one; a validating
 * emulator gets a token from its managed-identity endpoint with one plain request (App Service protocol).
 */
let seedToken: AccessToken | undefined;
const seedCredential: TokenCredential = {
  getToken: async (scopes) => {
    if (!emulator!.validatesTokens) return { token: 'seed-token', expiresOnTimestamp: Date.now() + 3_600_000 };
    if (seedToken && seedToken.expiresOnTimestamp > Date.now() + 60_000) return seedToken;
    const resource = [scopes].flat()[0]!.replace(/\/\.default$/, '');
    const url = `${emulator!.identityEndpoint}?resource=${encodeURIComponent(resource)}&api-version=2019-08-01`;
    const r = await fetch(url, { headers: { 'X-IDENTITY-HEADER': emulator!.identityHeader } });
    if (!r.ok) throw new Error(`seeding: the identity endpoint answered ${r.status}`);
    const body = (await r.json()) as { access_token: string; expires_on: string };
    seedToken = { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
    return seedToken;
  },
};

export function seedClient(vaultUrl = emulator!.vaultUrl): SecretClient {
  return new SecretClient(vaultUrl, seedCredential, {
    serviceVersion: emulator!.apiVersion,
    disableChallengeResourceVerification: true,
  });
}

/** A name unique to this run, so test files sharing one emulator never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
}
