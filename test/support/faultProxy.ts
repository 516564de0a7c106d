/**
 * A small fault-injecting proxy for tests, in front of the Key Vault emulator (HTTPS, with the throw-away certificate
 * the test runner made and trusts through NODE_EXTRA_CA_CERTS) or in front of its identity endpoint (plain HTTP).
 * It forwards everything unchanged by default, counts requests, and on demand delays, drops connections, hangs,
 * or answers an HTTP error (401/403/429/500...) itself. Loopback only.
 */
import {
  request as httpRequest,
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest, createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';

export type Fault =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; retryAfter?: number }
  /** Answer every request with exactly this status, body and headers (e.g. a 200 whose JSON is broken). */
  | { kind: 'respond'; status: number; body: string; headers?: Record<string, string> }
  /**
   * Key Vault's bearer challenge for requests without a token (401 + WWW-Authenticate naming `resource`), and
   * exactly this answer for requests with one: enough protocol for the real SDK to fetch a token and send it.
   */
  | { kind: 'challenge'; resource?: string; status: number; body: string; headers?: Record<string, string> }
  /**
   * The bearer challenge, then a 200 whose secret value is `bytes` bytes long, written as the client reads it
   * (with a Content-Length, or chunked when `chunked`); `bodyBytesWritten` says how much was handed to the socket.
   */
  | { kind: 'largeValue'; bytes: number; chunked?: boolean }
  /** The bearer challenge, then a 200 whose body arrives one byte every `everyMs` (a vault dripping its answer). */
  | { kind: 'drip'; everyMs: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'drop' }
  | { kind: 'hang' };

/** The throw-away TLS key and certificate the test runner made and trusts (undefined without openssl). */
export function fixtureTls(): { key: Buffer; cert: Buffer } | undefined {
  const { TEST_PROXY_KEY: key, TEST_PROXY_CERT: cert } = process.env;
  return key && cert ? { key: readFileSync(key), cert: readFileSync(cert) } : undefined;
}

export interface ProxyRequest {
  method: string;
  path: string;
  /** Whether the request carried a bearer token (the SDK's first request to a vault is an unauthenticated challenge). */
  authorized: boolean;
}

export class FaultProxy {
  readonly requests: ProxyRequest[] = [];
  /** Authorization headers received while answering a `challenge` fault (tests check where tokens went). */
  readonly tokens: string[] = [];
  fault: Fault = { kind: 'pass' };
  /** Bytes of the last `largeValue` body handed to the socket before the client stopped reading or hung up. */
  bodyBytesWritten = 0;
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private readonly target: URL;

  private constructor(
    target: string,
    private readonly tls?: ServerOptions,
  ) {
    this.target = new URL(target);
  }

  /** Start a proxy to `target` (e.g. https://127.0.0.1:8443). HTTPS when `tls` is given. */
  static async start(target: string, tls?: ServerOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(target, tls);
    const handler = (req: IncomingMessage, res: ServerResponse) => void proxy.handle(req, res);
    proxy.server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
    proxy.server.on('connection', (s: Socket) => {
      proxy.sockets.add(s);
      s.on('close', () => proxy.sockets.delete(s));
    });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Base URL of the proxy, same scheme as the target. */
  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Requests whose path starts with `prefix`. */
  count(prefix: string, method = 'GET'): number {
    return this.requests.filter((r) => r.method === method && r.path.toLowerCase().startsWith(prefix.toLowerCase()))
      .length;
  }

  reset(): void {
    this.requests.length = 0;
    this.tokens.length = 0;
    this.fault = { kind: 'pass' };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.requests.push({ method: req.method ?? 'GET', path, authorized: Boolean(req.headers.authorization) });
    const fault = this.fault;
    switch (fault.kind) {
      case 'drop':
        req.socket.destroy();
        return;
      case 'hang':
        return; // never answers; the socket is destroyed on close()
      case 'status': {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        res.writeHead(fault.status, headers);
        res.end(
          JSON.stringify({
            error: { code: `Injected${fault.status}`, message: `Injected HTTP ${fault.status} by the test proxy.` },
          }),
        );
        return;
      }
      case 'respond':
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(fault.body);
        return;
      case 'largeValue':
        if (!req.headers.authorization) {
          this.challenge(res, 'https://vault.azure.net');
          return;
        }
        this.writeLargeValue(res, fault.bytes, fault.chunked ?? false);
        return;
      case 'drip': {
        if (!req.headers.authorization) {
          this.challenge(res, 'https://vault.azure.net');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        const timer = setInterval(() => res.write(' '), fault.everyMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'challenge':
        if (!req.headers.authorization) {
          const resource = fault.resource ?? 'https://vault.azure.net';
          res.writeHead(401, {
            'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="${resource}"`,
          });
          res.end();
          return;
        }
        this.tokens.push(req.headers.authorization);
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(fault.body);
        return;
      case 'delay':
        await new Promise((r) => setTimeout(r, fault.ms));
        break;
      case 'pass':
        break;
    }
    this.forward(req, res);
  }

  private challenge(res: ServerResponse, resource: string): void {
    res.writeHead(401, {
      'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="${resource}"`,
    });
    res.end();
  }

  private writeLargeValue(res: ServerResponse, bytes: number, chunked: boolean): void {
    const head = Buffer.from('{"value":"');
    const tail = Buffer.from(
      `","id":"${this.url}/secrets/large-name/${'0'.repeat(32)}","attributes":{"enabled":true,"created":1,"updated":1}}`,
    );
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      ...(chunked ? {} : { 'content-length': String(head.length + bytes + tail.length) }),
    });
    this.bodyBytesWritten = 0;
    const chunk = Buffer.alloc(64 * 1024, 'A');
    let left = bytes;
    res.on('close', () => (left = 0));
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        this.bodyBytesWritten += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) res.end(tail);
    };
    res.write(head);
    pump();
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const send = this.target.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(
      {
        hostname: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        // Emulators route vaults by host (Lowkey strictly); keep the host they know (their own), not the proxy's port.
        headers: { ...req.headers, host: this.target.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  }
}
