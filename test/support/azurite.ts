/**
 * Azurite (the Storage emulator from the `azurite` npm package), blob service only, for the rotation ledger's tests:
 * started on 127.0.0.1 on a free port, HTTPS with the test harness's loopback certificate (TEST_PROXY_CERT/KEY, which
 * NODE_EXTRA_CA_CERTS trusts), `--oauth basic` so requests authenticate with a bearer token as in Azure, in memory,
 * telemetry off (it would otherwise call out), stopped by PID.
 *
 * Azurite's basic OAuth checks a token's shape, issuer, audience and lifetime, not its signature:
 * {@link storageToken} makes such a token, and {@link TokenEndpoint} (`jwt: true`) hands it out as the
 * managed-identity endpoint, so the app's own credential path is what the tests exercise.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Azurite's one account name; path-style URLs on loopback name it first. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';

export interface Azurite {
  /** `https://127.0.0.1:<port>/devstoreaccount1/` */
  accountUrl: string;
  pid: number;
  stop(): Promise<void>;
}

function azuriteBlobMain(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

/** Starts Azurite's blob service; rejects (with its output) if it does not listen within `timeoutMs`. */
export async function startAzurite(timeoutMs = 60_000): Promise<Azurite> {
  const { TEST_PROXY_KEY: key, TEST_PROXY_CERT: cert } = process.env;
  if (!key || !cert) {
    throw new Error(
      'TEST_PROXY_CERT/TEST_PROXY_KEY are not set: run the tests with `npm test` (scripts/run-tests.mjs makes the ' +
        'loopback certificate and trusts it through NODE_EXTRA_CA_CERTS).',
    );
  }
  const args = [
    azuriteBlobMain(),
    ...['--blobHost', '127.0.0.1', '--blobPort', '0'],
    ...['--inMemoryPersistence', '--extentMemoryLimit', '64'],
    ...['--oauth', 'basic', '--cert', cert, '--key', key],
    ...['--disableTelemetry', '--skipApiVersionCheck', '--loose', '--silent'],
  ];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Azurite did not start within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const m = /successfully listens on https:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (${code}) before listening:\n${output}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    accountUrl: `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}/`,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        process.kill(child.pid!, 'SIGTERM');
      }),
  };
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * A JWT-shaped token as Entra ID issues for Azure Storage (issuer sts.windows.net, audience storage.azure.com, a
 * lifetime), unsigned: enough for Azurite's basic OAuth, worthless anywhere else.
 */
export function storageToken(audience = 'https://storage.azure.com', lifetimeS = 3_600): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url({ alg: 'none', typ: 'JWT' });
  const payload = base64url({
    aud: audience,
    iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/',
    iat: now - 60,
    nbf: now - 60,
    exp: now + lifetimeS,
    oid: '11111111-1111-1111-1111-111111111111',
  });
  return `${header}.${payload}.`;
}
