/**
 * Key Vault secret events as Event Grid delivers them, for the parser and handler tests.
 *
 * DOC_* are the samples in "Azure Key Vault as Event Grid source" (MicrosoftDocs/azure-docs,
 * articles/event-grid/event-schema-key-vault.md), copied as published, quirks included: the HTTP body is an array
 * (the Functions trigger hands the function one element of it), the key "ObjectName " has a trailing space, the version
 * a leading one, and NBF/EXP are strings although the property table says numbers.
 *
 * The builders make the same events for any vault, secret and type, with NBF/EXP as numbers, as the Event Grid
 * data-plane spec (KeyVaultSecretNewVersionCreatedEventData: NBF, EXP numbers) describes them.
 */
import { randomUUID } from 'node:crypto';

export const DOC_EVENT_GRID_SCHEMA = JSON.parse(`[
   {
      "id":"00eccf70-95a7-4e7c-8299-2eb17ee9ad64",
      "topic":"/subscriptions/{subscription-id}/resourceGroups/sample-rg/providers/Microsoft.KeyVault/vaults/sample-kv",
      "subject":"newsecret",
      "eventType":"Microsoft.KeyVault.SecretNewVersionCreated",
      "eventTime":"2019-07-25T01:08:33.1036736Z",
      "data":{
         "Id":"https://sample-kv.vault.azure.net/secrets/newsecret/ee059b2bb5bc48398a53b168c6cdcb10",
         "VaultName":"sample-kv",
         "ObjectType":"Secret",
         "ObjectName ":"newsecret",
         "Version":" ee059b2bb5bc48398a53b168c6cdcb10",
         "NBF":"1559081980",
         "EXP":"1559082102"
      },
      "dataVersion":"1",
      "metadataVersion":"1"
   }
]`) as Record<string, unknown>[];

export const DOC_CLOUD_EVENT_SCHEMA = JSON.parse(`[
   {
      "id":"00eccf70-95a7-4e7c-8299-2eb17ee9ad64",
      "source":"/subscriptions/{subscription-id}/resourceGroups/sample-rg/providers/Microsoft.KeyVault/vaults/sample-kv",
      "subject":"newsecret",
      "type":"Microsoft.KeyVault.SecretNewVersionCreated",
      "time":"2019-07-25T01:08:33.1036736Z",
      "data":{
         "Id":"https://sample-kv.vault.azure.net/secrets/newsecret/ee059b2bb5bc48398a53b168c6cdcb10",
         "VaultName":"sample-kv",
         "ObjectType":"Secret",
         "ObjectName ":"newsecret",
         "Version":" ee059b2bb5bc48398a53b168c6cdcb10",
         "NBF":"1559081980",
         "EXP":"1559082102"
      },
      "specversion":"1.0"
   }
]`) as Record<string, unknown>[];

export type Schema = 'EventGridSchema' | 'CloudEventSchemaV1_0';
export const SCHEMAS: Schema[] = ['EventGridSchema', 'CloudEventSchemaV1_0'];

export interface EventSpec {
  type: string;
  /** Vault origin, e.g. https://kv.vault.azure.net/ */
  vaultUrl: string;
  name: string;
  version: string;
  /** Seconds since 1970, or null. */
  exp?: number | null;
  nbf?: number | null;
}

/** The vault name Key Vault puts in VaultName: the first label of the vault host. */
export function vaultNameOf(vaultUrl: string): string {
  return new URL(vaultUrl).hostname.split('.')[0]!;
}

/** One event in the given delivery schema, shaped like Key Vault's (see DOC_* above). */
export function keyVaultEvent(schema: Schema, spec: EventSpec): Record<string, unknown> {
  const vaultName = vaultNameOf(spec.vaultUrl);
  const resource =
    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-events' +
    `/providers/Microsoft.KeyVault/vaults/${vaultName}`;
  const data = {
    Id: `${spec.vaultUrl}secrets/${spec.name}/${spec.version}`,
    VaultName: vaultName,
    ObjectType: 'Secret',
    ObjectName: spec.name,
    Version: spec.version,
    NBF: spec.nbf === undefined ? 1_767_225_600 : spec.nbf,
    EXP: spec.exp === undefined ? null : spec.exp,
  };
  const time = '2026-01-01T00:00:00.0000000Z';
  return schema === 'EventGridSchema'
    ? {
        id: randomUUID(),
        topic: resource,
        subject: spec.name,
        eventType: spec.type,
        eventTime: time,
        data,
        dataVersion: '1',
        metadataVersion: '1',
      }
    : { id: randomUUID(), source: resource, subject: spec.name, type: spec.type, time, data, specversion: '1.0' };
}

/**
 * The trigger input as the Node.js worker hands it to the handler: the host sends the one event as JSON, and the
 * worker's fromRpcTypedData JSON-parses it (azure-functions-nodejs-library, src/converters/fromRpcTypedData.ts).
 */
export function asDelivered(event: unknown): unknown {
  return JSON.parse(JSON.stringify(event)) as unknown;
}
