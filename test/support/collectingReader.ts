/** A MetricReader that exports nothing: tests call `collect()` on it to read what the app's instruments recorded. */
import { MetricReader } from '@opentelemetry/sdk-metrics';

export class CollectingReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}
