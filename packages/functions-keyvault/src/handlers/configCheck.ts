import { type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { buildConfigReport, reportLogLine, reportSummary } from '../diagnostics/configReport.js';
import { DEFAULT_RETRY_AFTER_SECONDS, problem, problemResponse } from '../http/problems.js';
import { keyVault, KeyVaultFailure } from '../keyVault/index.js';

const NO_STORE = { 'Cache-Control': 'no-store' };

/**
 * GET /api/config/check: what is configured and whether it works, never a value (the report:
 * src/diagnostics/configReport.ts). 200 when healthy; otherwise 503 with the same report as an RFC 9457 problem.
 * Never throws.
 */
export async function configCheck(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { report, retryable } = await buildConfigReport(keyVault());
    context.log(reportLogLine(report));
    if (report.status === 'ok') {
      return { status: 200, jsonBody: { ...report, health: report.status }, headers: NO_STORE };
    }
    // The problem's extension members carry the report; its own `status` member is the HTTP status (a number, per
    // RFC 9457), so the health word is in `health` (present on the 200 body too, so clients read one field either
    // way). Retry-After only when a transient failure is involved: a configuration mistake does not heal by retrying.
    const { status, ...rest } = report;
    return problemResponse(
      problem('config-check-failed', `Configuration ${status}`, 503, reportSummary(report), {
        health: status,
        ...rest,
      }),
      retryable ? { 'Retry-After': String(DEFAULT_RETRY_AFTER_SECONDS) } : {},
    );
  } catch (error) {
    const why = error instanceof KeyVaultFailure ? error.message : 'an unexpected error';
    context.error(`Config check could not complete: ${why}`);
    return problemResponse(
      problem('config-check-failed', 'Configuration check failed', 503, `The config check could not complete: ${why}`, {
        health: 'failed',
      }),
      { 'Retry-After': String(DEFAULT_RETRY_AFTER_SECONDS) },
    );
  }
}
