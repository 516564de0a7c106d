/**
 * An App Service-style managed-identity endpoint on loopback for tests: it issues a token to anyone, or, with
 * `hang`, accepts requests and never answers, or, with `fail`, answers an error. With `jwt`, the token is JWT-shaped
 * for the requested resource (what Azurite's basic OAuth accepts), and `resources` records which resources were asked
 * for; `token` issues that exact token instead.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { storageToken } from './azurite.js';

export class TokenEndpoint {
  hang = false;
  jwt = false;
  requests = 0;
  readonly resources: string[] = [];
  /** The access token issued (default: `token-for-<resource>`, or JWT-shaped with `jwt`). */
  token: string | undefined;
  /** When set, every request is answered with this status and body (an identity endpoint failing). */
  fail: { status: number; body: string } | undefined;
  /** The identity header value of the last request (tests check the app sent it). */
  lastHeader: string | undefined;
  private readonly sockets = new Set<Socket>();
  private server!: Server;

  static async start(): Promise<TokenEndpoint> {
    const endpoint = new TokenEndpoint();
    endpoint.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      endpoint.requests += 1;
      endpoint.lastHeader = req.headers['x-identity-header'] as string | undefined;
      if (endpoint.hang) return; // accepted, never answered
      if (endpoint.fail) {
        res.writeHead(endpoint.fail.status, { 'content-type': 'application/json' });
        res.end(endpoint.fail.body);
        return;
      }
      const resource = new URL(req.url ?? '/', 'http://x').searchParams.get('resource') ?? '';
      endpoint.resources.push(resource);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: endpoint.token ?? (endpoint.jwt ? storageToken(resource) : `token-for-${resource}`),
          expires_on: String(Math.floor(Date.now() / 1000) + 3600),
          resource,
          token_type: 'Bearer',
        }),
      );
    });
    endpoint.server.on('connection', (s: Socket) => {
      endpoint.sockets.add(s);
      s.on('close', () => endpoint.sockets.delete(s));
    });
    await new Promise<void>((r) => endpoint.server.listen(0, '127.0.0.1', r));
    return endpoint;
  }

  /** Back to answering (tests call this in afterEach, so a failed test never leaves the endpoint hung). */
  reset(): void {
    this.hang = false;
    this.jwt = false;
    this.requests = 0;
    this.resources.length = 0;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}/msi/token`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
