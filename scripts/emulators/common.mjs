/**
 * Small helpers shared by the Key Vault emulator adapters (lowkey.mjs, goPair.mjs) and the harness (index.mjs):
 * free loopback ports, readiness polling, the certificate a TLS server presents, one-line error text, PIDs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** A multi-line tool message (go, mvn) as one line, without ANSI colours. */
export function oneLine(text) {
  return stripVTControlCharacters(String(text))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/** Whether `cmd --version`-style probing finds a program on PATH. */
export function hasProgram(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return !r.error && r.status === 0;
}

/**
 * Why a program that exited at start said it did, from its log: Spring Boot's "Description:" paragraph (Lowkey),
 * else the last line that reads like an error (Java, Go). One line, at most 200 characters; '' when nothing fits.
 */
export function logReason(logPath) {
  if (!existsSync(logPath)) return '';
  const lines = stripVTControlCharacters(readFileSync(logPath, 'utf8'))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const description = lines.indexOf('Description:');
  const line =
    (description >= 0 ? lines[description + 1] : undefined) ??
    lines.findLast((l) => /\b(error|exception|fatal|panic|failed|refused|denied|invalid)\b/i.test(l)) ??
    '';
  const short = line.length > 200 ? `${line.slice(0, 197)}...` : line.replace(/[.;:,]+$/, '');
  return short;
}

/**
 * Poll `probe` (async, truthy when ready) until it answers, the process in `watch` exits, or `timeoutMs` passes.
 * `watch` is { exited: number | null } kept up to date by the caller's 'exit' listener.
 */
export async function waitUntil(probe, { timeoutMs, watch, what, logPath }) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (watch.exited !== null) {
      // Give the log a moment to be flushed by the exiting process before reading it.
      await sleep(100);
      const reason = logReason(logPath);
      throw new Error(`${what} exited with ${watch.exited}${reason ? `: ${reason}` : ''}; see ${logPath}`);
    }
    const ready = await probe().catch(() => undefined);
    if (ready) return ready;
    await sleep(300);
  }
  throw new Error(`${what} did not answer within ${timeoutMs} ms; see ${logPath}`);
}

/** GET with a short timeout; the Response, or undefined on any network error. */
export async function tryFetch(url, init = {}) {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
  } catch {
    return undefined;
  }
}

/**
 * The certificate a TLS server on 127.0.0.1:`port` presents, as PEM. Only this one self-signed certificate is then
 * trusted (NODE_EXTRA_CA_CERTS); rejectUnauthorized is off for this single handshake, whose only purpose is to
 * fetch that certificate. Everything that talks to the emulator afterwards verifies it.
 */
export function serverCertificatePem(port) {
  return new Promise((resolvePem, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const der = socket.getPeerCertificate().raw;
      socket.end();
      const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
      resolvePem(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
    });
    socket.setTimeout(2_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM each PID that is still running; returns the ones signalled. */
export function stopPids(pids) {
  const stopped = [];
  for (const pid of pids ?? []) {
    try {
      process.kill(pid, 'SIGTERM');
      stopped.push(pid);
    } catch {
      // already gone
    }
  }
  return stopped;
}
