/** Types for scripts/key-vault-events-subscription.mjs (plain JavaScript, so the azd hook runs without a build). */

export const FUNCTION_NAME: string;
export const EVENT_TYPES: readonly string[];
export const SUBSCRIPTION_NAME: string;
export const API_VERSION: string;
export const PUT_ATTEMPTS: number;

export interface DeadLetter {
  storageAccountId: string;
  container: string;
}

export interface SubscribeSettings {
  subscriptionId: string;
  resourceGroup: string;
  appName: string;
  pingUrl: string;
  functionHost: string;
  subscriptionResourceId: string;
  deadLetter?: DeadLetter;
}

export interface SubscriptionBody {
  properties: {
    destination: {
      endpointType: 'WebHook';
      properties: { endpointUrl: string; maxEventsPerBatch: number; preferredBatchSizeInKilobytes: number };
    };
    filter: { includedEventTypes: string[] };
    eventDeliverySchema: 'EventGridSchema';
    retryPolicy: { maxDeliveryAttempts: number; eventTimeToLiveInMinutes: number };
    deadLetterWithResourceIdentity?: {
      identity: { type: 'SystemAssigned' };
      deadLetterDestination: {
        endpointType: 'StorageBlob';
        properties: { resourceId: string; blobContainerName: string };
      };
    };
  };
}

export interface SubscribeResult {
  ok: boolean;
  summary: string;
  diagnosis: string[];
}

export interface SubscribeOptions {
  settings: SubscribeSettings;
  az: (args: string[]) => string;
  env?: Record<string, string | undefined>;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
  intervalMs?: number;
  log?: (line: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export function shouldSkip(env: Record<string, string | undefined>): boolean;
export function settingsFrom(env: Record<string, string | undefined>): SubscribeSettings;
export function webhookUrl(functionHost: string, systemKey: string): string;
export function subscriptionBody(endpointUrl: string, deadLetter?: DeadLetter): SubscriptionBody;
export function armError(json: unknown): string;
export function isValidationFailure(text: unknown): boolean;
export function runSubscribe(options: SubscribeOptions): Promise<SubscribeResult>;
