import {
  app,
  type HttpFunctionOptions,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { problem } from '../http/problems.js';
import { classifyError, referenceStatusWord } from '../keyVault/errors.js';
import { type KeyVaultService, keyVaultService, type StoreStats } from '../keyVault/service.js';
import { parseKeyVaultReference } from '../references.js';
import { APP_SETTINGS, listSetting } from '../settings.js';

export type SettingState = 'loaded' | 'missing' | 'empty' | 'unresolved-reference' | 'invalid-reference';

export interface SettingReport {
  name: string;
  state: SettingState;
  detail: string | null;
}

export interface ConfigReport {
  status: 'ok' | 'degraded' | 'failed';
  keyVault: {
    configured: boolean;
    url: string | null;
    credential: string;
    reachable: boolean | null;
    canReadSecrets: boolean | null;
    detail: string;
  };
  settings: SettingReport[];
  cache: StoreStats;
}

async function keyVaultReport(service: KeyVaultService): Promise<ConfigReport['keyVault']> {
  const url = service.vaultUrl;
  const credential = service.identity.credential;
  if (url === undefined) {
    return {
      configured: false,
      url: null,
      credential,
      reachable: null,
      canReadSecrets: null,
      detail: 'KEY_VAULT_URL is not set: the secret-read function answers 503 until it is.',
    };
  }
  const probe = await service.probeAccess(url);
  let detail: string;
  if (probe.canReadSecrets) {
    detail = `Key Vault answered and accepts ${service.identity.description} for reading secrets.`;
  } else if (probe.failure?.kind === 'access-denied') {
    detail =
      `AccessToKeyVaultDenied: Key Vault answered ${probe.failure.statusCode ?? 403} for ${service.identity.description}. ` +
      'Grant it the role "Key Vault Secrets User" on the vault, or an access policy with secret permission "get".';
  } else {
    const failure = probe.failure ?? classifyError(new Error('unknown failure'));
    detail = `${referenceStatusWord(failure.kind)}: ${failure.message}`;
  }
  return {
    configured: true,
    url,
    credential,
    reachable: probe.reachable,
    canReadSecrets: probe.canReadSecrets,
    detail,
  };
}

async function settingReport(service: KeyVaultService, name: string): Promise<SettingReport> {
  const value = service.env[name];
  if (value === undefined) return { name, state: 'missing', detail: 'The app setting is not set.' };
  if (value.trim() === '') return { name, state: 'empty', detail: 'The app setting is set but empty.' };

  const parsed = parseKeyVaultReference(value, service.vaultDnsSuffix());
  if (parsed.kind === 'not-reference') return { name, state: 'loaded', detail: null };
  if (parsed.kind === 'invalid') return { name, state: 'invalid-reference', detail: parsed.reason };

  const { vaultUrl, name: secretName, version } = parsed.reference;
  const target = `secret "${secretName}"${version ? ` version ${version}` : ''} in ${vaultUrl}`;
  const prefix = 'The platform left this Key Vault reference unresolved';
  try {
    await service.readSecret(parsed.reference);
    return {
      name,
      state: 'unresolved-reference',
      detail:
        `${prefix}, but the app's own identity can read ${target}, so access works: the app resolves it itself ` +
        "(getSetting). In Azure, check the platform side: the reference's identity (keyVaultReferenceIdentity), " +
        'network access from the platform to the vault, and the reference status in the portal.',
    };
  } catch (error) {
    const failure = classifyError(error, version !== undefined);
    return {
      name,
      state: 'unresolved-reference',
      detail:
        `${prefix}, and the app's own identity cannot read ${target} either: ` +
        `${referenceStatusWord(failure.kind)} (${failure.message}).`,
    };
  }
}

function overallStatus(report: Omit<ConfigReport, 'status'>): ConfigReport['status'] {
  if (report.keyVault.configured && !report.keyVault.canReadSecrets) return 'failed';
  if (!report.keyVault.configured || report.settings.some((s) => s.state !== 'loaded')) return 'degraded';
  return 'ok';
}

/** GET /api/config/check: what is configured and whether it works, never a value. */
export async function configCheck(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const service = keyVaultService();
  const [keyVault, settings] = await Promise.all([
    keyVaultReport(service),
    Promise.all(
      listSetting(service.env, APP_SETTINGS.CONFIG_CHECK_SETTINGS).map((name) => settingReport(service, name)),
    ),
  ]);
  const partial = { keyVault, settings, cache: service.stats() };
  const report: ConfigReport = { status: overallStatus(partial), ...partial };
  context.log(
    `Config check: ${report.status}; ${settings.map((s) => `${s.name}=${s.state}`).join(', ') || 'no settings listed'}.`,
  );
  if (report.status === 'ok') {
    return { status: 200, jsonBody: { ...report, health: report.status }, headers: { 'Cache-Control': 'no-store' } };
  }
  // Unhealthy: 503 with the same report as an RFC 9457 problem. Its extension members carry the report; the
  // problem's own `status` member is the HTTP status (a number, per RFC 9457), so the health word is in `health`
  // (present on the 200 body too, so clients can read one field either way).
  const summary = [
    !keyVault.configured || !keyVault.canReadSecrets ? keyVault.detail : undefined,
    ...settings.filter((s) => s.state !== 'loaded').map((s) => `${s.name}: ${s.state}`),
  ]
    .filter((part) => part !== undefined)
    .join(' ');
  return {
    status: 503,
    jsonBody: problem('config-check-failed', `Configuration ${report.status}`, 503, summary, {
      health: report.status,
      keyVault,
      settings,
      cache: partial.cache,
    }),
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' },
  };
}

export const options = {
  route: 'config/check',
  methods: ['GET'],
  authLevel: 'function',
  handler: configCheck,
} satisfies HttpFunctionOptions;

app.http('configCheck', options);
