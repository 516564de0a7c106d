/**
 * Decision logic of the azd postdeploy gate (scripts/postdeploy.mjs): call the deployed ping, then the config check
 * with a function key, wait (bounded) while the platform is still starting or resolving Key Vault references, and
 * decide. No process, network client or environment access here beyond what the caller passes in; test/postdeploy.test.ts runs it
 * against a stub of the two endpoints on 127.0.0.1.
 *
 * Nothing printed here carries a value: only setting names, state words, the config check's own detail texts (which
 * never hold values) and HTTP statuses; the function key travels in the x-functions-key header, never in a URL, and any
 * text that would be printed is redacted of it.
 */

/** State words the config check reports per setting (src/diagnostics/configReport.ts). */
const SETTING_STATES = new Set(['loaded', 'missing', 'empty', 'unresolved-reference', 'invalid-reference']);
/** States that waiting cannot fix: the setting itself is wrong. */
const FINAL_STATES = new Set(['missing', 'empty', 'invalid-reference']);
const MAX_DETAIL = 400;

/** SKIP_POSTDEPLOY_CHECK=true (also 1/yes, any case) skips the gate. */
export function shouldSkip(env) {
  return /^(true|1|yes)$/i.test(String(env.SKIP_POSTDEPLOY_CHECK ?? '').trim());
}

/** A URL the gate may send a function key to: https, or plain http to a loopback address (tests). */
export function checkedUrl(text, what) {
  let url;
  try {
    url = new URL(String(text));
  } catch {
    throw new Error(`${what} is not a URL: ${JSON.stringify(String(text ?? ''))}`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(
      `${what} must be https (got ${url.protocol}//${url.host}): the function key is never sent in clear`,
    );
  }
  if (url.username || url.password || url.search) throw new Error(`${what} must not carry credentials or a query`);
  return url;
}

/** The two endpoints, from the azd environment's PING_URL output (https://<host>/api/ping). */
export function endpointsFrom(env) {
  if (!env.PING_URL)
    throw new Error('PING_URL is not set: run `azd provision` first (it is an output of infra/main.bicep)');
  const ping = checkedUrl(env.PING_URL, 'PING_URL');
  if (!ping.pathname.endsWith('/ping')) throw new Error(`PING_URL must end with /ping (got ${ping.pathname})`);
  return { pingUrl: ping.href, configCheckUrl: new URL('config/check', ping).href };
}

/**
 * A pattern for every spelling of `secret` a URL or an error message may carry: as written, or with any of its
 * characters percent-encoded, in either hex case, encoded more than once (`%2B`, `%2b`, `%252B`, ...), and `+` for a
 * space. Hand-written (no library redacts encodings): a key that travels in a query string (the Event Grid webhook's
 * `code=`) comes back in a service's error message in whichever spelling that service wrote it.
 */
export function secretPattern(secret) {
  const chars = [...String(secret)].map((ch) => {
    const literal = ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    const encoded = [...Buffer.from(ch, 'utf8')]
      .map((byte) => `%(?:25)*${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join('');
    return `(?:${[literal, encoded, ...(ch === ' ' ? ['\\+'] : [])].join('|')})`;
  });
  // Case-insensitive for the hex digits; a case variant of the secret itself is redacted too, which costs nothing.
  return new RegExp(chars.join(''), 'gi');
}

/** `text` with every spelling of each secret replaced (secretPattern), and cut to a printable length. */
export function redact(text, secrets = []) {
  let out = String(text);
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.replace(secretPattern(secret), '***');
  return out.length > MAX_DETAIL ? `${out.slice(0, MAX_DETAIL)}…` : out;
}

function oneLine(text) {
  return String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Verdict on one ping response: { ok, reason }. */
export function classifyPing(response) {
  if (response.error) return { ok: false, reason: `ping not reachable yet (${response.error})` };
  if (response.status === 200) return { ok: true, reason: 'ping answered 200' };
  return { ok: false, reason: `ping answered HTTP ${response.status}` };
}

/**
 * Verdict on one config check response:
 *   { verdict: 'ok' | 'wait' | 'fail', reason, diagnosis: string[] }
 * 'wait' covers what settles by itself after a deployment: the host still starting (404, 5xx without the report), the
 * key not accepted yet (401/403), Key Vault references not yet resolved, and RBAC not yet propagated (Key Vault denies
 * the identity). 'fail' is what waiting cannot fix: a missing, empty or malformed setting, or no KEY_VAULT_URL.
 */
export function classifyConfigCheck(response) {
  if (response.error) {
    return { verdict: 'wait', reason: `config check not reachable yet (${response.error})`, diagnosis: [] };
  }
  const { status } = response;
  if (status === 401 || status === 403) {
    return {
      verdict: 'wait',
      reason: `the config check refused the function key (HTTP ${status})`,
      diagnosis: [`The config check answered HTTP ${status} to the function key read through ARM.`],
    };
  }
  let report;
  try {
    report = JSON.parse(response.body ?? '');
  } catch {
    report = undefined;
  }
  const looksLikeReport = report !== null && typeof report === 'object' && typeof report.health === 'string';
  if (!looksLikeReport) {
    return {
      verdict: 'wait',
      reason: `the config check answered HTTP ${status} without its report (host starting?)`,
      diagnosis: [`The config check answered HTTP ${status} without a configuration report.`],
    };
  }
  if (status === 200 && report.health === 'ok') return { verdict: 'ok', reason: 'configuration ok', diagnosis: [] };

  const settings = Array.isArray(report.settings) ? report.settings : [];
  const diagnosis = [];
  let final = false;
  let unresolved = 0;
  for (const setting of settings) {
    const state = SETTING_STATES.has(setting?.state) ? setting.state : 'unknown-state';
    if (state === 'loaded') continue;
    const name = /^[A-Za-z0-9_.:-]{1,128}$/.test(String(setting?.name)) ? setting.name : '(unnamed setting)';
    diagnosis.push(`${name}: ${state}`);
    if (setting?.detail) diagnosis.push(`    ${oneLine(setting.detail)}`);
    if (FINAL_STATES.has(state)) final = true;
    if (state === 'unresolved-reference') unresolved += 1;
  }
  const keyVault = report.keyVault && typeof report.keyVault === 'object' ? report.keyVault : {};
  const vaultProblem = keyVault.configured === false || keyVault.canReadSecrets === false;
  if (vaultProblem) diagnosis.push(`Key Vault: ${oneLine(keyVault.detail) || 'not usable'}`);
  if (keyVault.configured === false) final = true;
  if (diagnosis.length === 0) diagnosis.push(`health ${oneLine(report.health)} (HTTP ${status}) without details`);

  const health = oneLine(report.health).slice(0, 40);
  if (final) {
    const reason = `the config check reports a configuration error (health ${health}, HTTP ${status})`;
    return { verdict: 'fail', reason, diagnosis };
  }
  const reasons = [];
  if (unresolved > 0) reasons.push(`waiting for Key Vault references to resolve (${unresolved} unresolved)`);
  if (keyVault.canReadSecrets === false) reasons.push('waiting for Key Vault to accept the app identity');
  const reason = reasons.join('; ') || `config check health ${health} (HTTP ${status})`;
  return { verdict: 'wait', reason, diagnosis };
}

async function request(fetchImpl, url, headers, timeoutMs) {
  try {
    const response = await fetchImpl(url, {
      headers: { accept: 'application/json', ...headers },
      redirect: 'error',
      signal: AbortSignal.timeout(Math.max(1000, timeoutMs)),
    });
    const body = await response.text();
    return { status: response.status, body };
  } catch (error) {
    const cause = error?.cause?.code ?? error?.name ?? 'error';
    return { error: String(cause) };
  }
}

/**
 * Runs the gate. Resolves to { ok, attempts, elapsedMs, summary, diagnosis }; never throws for HTTP or key failures.
 *
 * getKey(): Promise<string> | string, called after the first good ping and again when the key is refused; a throw
 * means "not available yet" (its message is redacted and shown), unless the error is marked `final` (an AzError from
 * scripts/arm.mjs that waiting cannot clear): then the gate fails at once with the error's `fix`.
 */
export async function runGate({
  pingUrl,
  configCheckUrl,
  getKey,
  timeoutMs = 300_000,
  intervalMs = 10_000,
  requestTimeoutMs = 15_000,
  log = () => undefined,
  fetchImpl = globalThis.fetch,
  now = () => Date.now(),
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}) {
  checkedUrl(pingUrl, 'ping URL');
  checkedUrl(configCheckUrl, 'config check URL');
  const started = now();
  const deadline = started + timeoutMs;
  const secrets = [];
  let key;
  let last = { reason: 'not started', diagnosis: [] };
  for (let attempt = 1; ; attempt++) {
    const remaining = () => Math.max(0, deadline - now());
    const ping = classifyPing(await request(fetchImpl, pingUrl, {}, Math.min(requestTimeoutMs, remaining())));
    if (!ping.ok) {
      last = { reason: ping.reason, diagnosis: [`The deployed ping never answered 200: last ${ping.reason}.`] };
    } else {
      if (key === undefined) {
        try {
          key = String(await getKey()).trim();
          if (!key) throw new Error('ARM returned an empty key');
          secrets.push(key);
        } catch (error) {
          key = undefined;
          const message = redact(oneLine(error?.message ?? error), secrets);
          if (error?.final) {
            // Waiting cannot clear it (azd missing, not signed in, wrong tenant, no permission): say so at once.
            const diagnosis = [`No function key: ${message}`];
            if (error.fix) diagnosis.push(`Fix: ${redact(oneLine(error.fix), secrets)}`);
            return { ok: false, attempts: attempt, elapsedMs: now() - started, summary: message, diagnosis };
          }
          last = { reason: `function key not available yet (${message})`, diagnosis: [`No function key: ${message}`] };
        }
      }
      if (key !== undefined) {
        const response = await request(
          fetchImpl,
          configCheckUrl,
          { 'x-functions-key': key },
          Math.min(requestTimeoutMs, remaining()),
        );
        const check = classifyConfigCheck(response);
        const diagnosis = check.diagnosis.map((line) => redact(line, secrets));
        const elapsedMs = now() - started;
        if (check.verdict === 'ok') {
          return { ok: true, attempts: attempt, elapsedMs, summary: 'ping 200, configuration ok', diagnosis: [] };
        }
        if (check.verdict === 'fail') {
          return { ok: false, attempts: attempt, elapsedMs, summary: redact(check.reason, secrets), diagnosis };
        }
        if (response.status === 401 || response.status === 403) key = undefined; // fetch it again next time
        last = { reason: redact(check.reason, secrets), diagnosis };
      }
    }
    const elapsedMs = now() - started;
    if (now() + intervalMs > deadline) {
      return {
        ok: false,
        attempts: attempt,
        elapsedMs,
        summary: `gave up after ${Math.round(elapsedMs / 1000)} s: ${last.reason}`,
        diagnosis: last.diagnosis,
      };
    }
    log(
      `postdeploy check: ${last.reason} (attempt ${attempt}, ${Math.round(elapsedMs / 1000)} s of ${Math.round(timeoutMs / 1000)} s)`,
    );
    await sleep(intervalMs);
  }
}
