/** Which credential the app uses, decided from the configuration. Pure: no SDK import. */
import type { IdentitySettings } from '../config.js';

export interface IdentityChoice {
  kind: 'managed-identity' | 'developer';
  /** Client id of a user-assigned managed identity; undefined for system-assigned or developer. */
  clientId?: string;
  /** Short name for diagnostics, e.g. "ManagedIdentityCredential (system-assigned)". */
  credential: string;
  /** Phrase naming the identity in problem details. */
  description: string;
}

/**
 * Where the platform provides a managed identity endpoint (App Service / Functions set IDENTITY_ENDPOINT and
 * IDENTITY_HEADER; the SDK needs both) the app uses ManagedIdentityCredential only: no probing chain in production.
 * Elsewhere it uses the developer chain.
 */
export function chooseIdentity(settings: IdentitySettings): IdentityChoice {
  const clientId = settings.clientId;
  if (settings.managedIdentityEndpoint) {
    return clientId
      ? {
          kind: 'managed-identity',
          clientId,
          credential: `ManagedIdentityCredential (user-assigned, client id ${clientId})`,
          description: `the user-assigned managed identity with client id ${clientId}`,
        }
      : {
          kind: 'managed-identity',
          credential: 'ManagedIdentityCredential (system-assigned)',
          description: "the Function App's system-assigned managed identity",
        };
  }
  return {
    kind: 'developer',
    credential:
      'Developer chain (EnvironmentCredential, AzureCliCredential, AzureDeveloperCliCredential, AzurePowerShellCredential)',
    description:
      'the developer credential (AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret or certificate, or az / azd / PowerShell login)',
  };
}
