/**
 * Telemetry export to Application Insights through the Azure Monitor OpenTelemetry distro, the way Microsoft
 * documents OpenTelemetry for Node.js function apps (learn.microsoft.com/azure/azure-functions/opentelemetry-howto;
 * learn.microsoft.com/javascript/api/overview/azure/monitor-opentelemetry-readme). On only when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set; loaded with a dynamic import from the start-up hook, so an app
 * without it loads nothing of it.
 *
 * The app's own metrics and spans (src/keyVault/telemetry.ts) are what it exports: the distro's automatic HTTP and
 * Azure SDK instrumentations are off, so no URL with a function key and no SDK detail reaches telemetry. With
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD (set by infra: the resource allows Entra
 * authentication only) it sends with the app's managed identity.
 */
import { ManagedIdentityCredential } from '@azure/identity';
import { useAzureMonitor } from '@azure/monitor-opentelemetry';
import type { MonitoringSettings } from './appSettings.js';

export function startAzureMonitor(settings: MonitoringSettings): void {
  const credential = settings.entraAuth
    ? settings.clientId
      ? new ManagedIdentityCredential({ clientId: settings.clientId })
      : new ManagedIdentityCredential()
    : undefined;
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: settings.connectionString,
      ...(credential ? { credential } : {}),
    },
    enableLiveMetrics: false,
    instrumentationOptions: {
      http: { enabled: false },
      azureSdk: { enabled: false },
    },
  });
}
