/** Types for scripts/key-vault-events-subscription.mjs (plain JavaScript, so the azd hook runs without a build). */
import type { WebAppsKeys } from './function-keys.mjs';

export const FUNCTION_NAME: string;
export const EVENT_TYPES: readonly string[];
export const SUBSCRIPTION_NAME: string;
export const SYSTEM_KEY_NAME: string;
export const PUT_ATTEMPTS: number;

export interface DeadLetter {
  storageAccountId: string;
  container: string;
}

export interface SubscribeSettings {
  subscriptionId: string;
  resourceGroup: string;
  appName: string;
  topicName: string;
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
  /** @azure/arm-appservice WebSiteManagementClient.webApps (listHostKeys). */
  webApps: WebAppsKeys;
  /** @azure/arm-eventgrid EventGridManagementClient.systemTopicEventSubscriptions. */
  eventSubscriptions: {
    beginCreateOrUpdateAndWait(
      resourceGroup: string,
      topicName: string,
      name: string,
      model: object,
      options?: { updateIntervalInMs?: number; abortSignal?: AbortSignal },
    ): Promise<unknown>;
    get(resourceGroup: string, topicName: string, name: string): Promise<{ provisioningState?: string }>;
  };
  env?: Record<string, string | undefined>;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
  intervalMs?: number;
  /** Between the SDK poller's status requests. */
  pollIntervalMs?: number;
  log?: (line: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export function shouldSkip(env: Record<string, string | undefined>): boolean;
export function settingsFrom(env: Record<string, string | undefined>): SubscribeSettings;
export function webhookUrl(functionHost: string, systemKey: string): string;
export function subscriptionBody(endpointUrl: string, deadLetter?: DeadLetter): SubscriptionBody;
export function subscriptionModel(endpointUrl: string, deadLetter?: DeadLetter): Record<string, unknown>;
export function withoutCodeParameter(text: string): string;
export function isValidationFailure(text: unknown): boolean;
export function runSubscribe(options: SubscribeOptions): Promise<SubscribeResult>;
