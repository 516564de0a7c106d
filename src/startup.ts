/**
 * What happens when the app starts: the telemetry export starts when Application Insights is configured, then the
 * package's start-up work (functions-keyvault/handlers startKeyVault: configuration problems logged once, the rotation
 * ledger, SECRET_PREFETCH read into the cache). None of it is awaited: start-up is never delayed, and a failure only
 * logs a warning.
 */
import { app } from '@azure/functions';
import { configureRotationLedger } from 'functions-keyvault';
import { startKeyVault } from 'functions-keyvault/handlers';
import { parseMonitoring } from './appSettings.js';

// The deployment bundle carries no node_modules: hand the package the Storage SDK (an optional peer it loads only
// when ROTATION_LEDGER_URL is set) with a literal import, so esbuild puts it in a chunk of its own.
configureRotationLedger({ loadStorageSdk: () => import('@azure/storage-blob') });

/** Starts the export to Application Insights when it is configured; never throws (telemetry must not stop the app). */
export async function startTelemetry(log: (message: string) => void = (m) => console.warn(m)): Promise<boolean> {
  const monitoring = parseMonitoring(process.env);
  if (monitoring === undefined) return false;
  try {
    const { startAzureMonitor } = await import('./monitoring.js');
    startAzureMonitor(monitoring);
    return true;
  } catch (error) {
    log(`Telemetry: Application Insights export could not start (${error instanceof Error ? error.name : 'error'}).`);
    return false;
  }
}

app.hook.appStart(() => {
  // Telemetry first (about 0.2 s to load the distro from the bundle), so the prefetch's reads are measured.
  void startKeyVault({ after: startTelemetry() });
});
