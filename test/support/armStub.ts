/**
 * Stand-ins for what the azd hooks talk to: an HTTPS stub of Azure Resource Manager on 127.0.0.1 (with the test
 * runner's throw-away certificate, which the test processes trust) and a stand-in `azd` executable for
 * AzureDeveloperCliCredential (it runs `azd auth token --output json ...`), put first on a child process's PATH.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureTls } from './faultProxy.js';

export interface ArmRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  body: string;
}

export type ArmHandler = (
  request: ArmRequest,
  reply: (status: number, body: unknown, headers?: Record<string, string>) => void,
) => void;

export interface ArmStub {
  origin: string;
  requests: ArmRequest[];
  close(): Promise<void>;
}

/** Whether the HTTPS stub can run (the test runner made a certificate: openssl is installed). */
export const armStubAvailable = fixtureTls() !== undefined;

export async function startArmStub(handler: ArmHandler): Promise<ArmStub> {
  const tls = fixtureTls();
  if (!tls) throw new Error('no fixture certificate (openssl missing)');
  const requests: ArmRequest[] = [];
  const server = createServer(tls, (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const request = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        authorization: req.headers.authorization,
        body,
      };
      requests.push(request);
      handler(request, (status, value, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(value === undefined ? '' : JSON.stringify(value));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A directory with an executable `azd` that answers `azd auth token` with `token` (or fails like a signed-out azd when
 * `signedOut`), and logs its arguments to `args.log` there. POSIX only (a shell script).
 */
export function fakeAzd(token: string, { signedOut = false } = {}): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'fake-azd-'));
  const answer = signedOut
    ? "echo 'ERROR: fetching token: not logged in, run `azd auth login` to login' >&2; exit 1"
    : `printf '%s' '{"token":"${token}","expiresOn":"2099-01-01T00:00:00Z"}'`;
  writeFileSync(join(dir, 'azd'), `#!/bin/sh\necho "$@" >> "${join(dir, 'args.log')}"\n${answer}\n`);
  chmodSync(join(dir, 'azd'), 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The environment a hook runs with in a test: the stand-in azd first on PATH, ARM at `armOrigin`, the test CA. */
export function hookEnv(azdDir: string, armOrigin: string): Record<string, string> {
  return {
    PATH: `${azdDir}:/usr/bin:/bin`,
    NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? '',
    AZURE_RESOURCE_MANAGER_ENDPOINT: armOrigin,
  };
}
