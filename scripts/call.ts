/**
 * `npm run call -- <METHOD> <path> [-H 'Name: value']... [--stdin]`: calls one HTTP function in this process, with
 * the settings `func start` would load (local.settings.json "Values" of the project directory; the environment wins,
 * as under func start; scripts/localEnv.ts), and prints the answer: the status line, the headers and the body.
 *
 * Not a host: no HTTP server, no function keys (authLevel is not enforced, as under local `func start`), no
 * start-up hook (so no SECRET_PREFETCH, telemetry or rotation ledger), no bindings but the HTTP trigger. It loads
 * every compiled file in src/functions/ (what package.json `main` names besides the hook) with a stand-in for
 * `@azure/functions-core`, the module through which the Functions worker receives each `app.http(...)`
 * registration, to learn each function's route, methods and handler; then it matches the path the way the host
 * does (`/api/` prefix from host.json, `{param}` and `{param?}` segments), builds the HttpRequest the host would
 * pass, and awaits the handler. Hand-written because Core Tools is the only host and it cannot run everywhere.
 *
 * Exit status: 0 when a handler answered (whatever its status), 1 when it threw, 2 for bad usage or no route.
 */
import { readdirSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { applyLocalSettings } from './localEnv.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const USAGE = "usage: npm run call -- <GET|POST|PUT|PATCH|DELETE> </api/route>[?query] [-H 'Name: value']... [--stdin]";
/** Bounds on what this reads from the command line and stdin. */
const MAX_BODY_BYTES = 1_048_576;
const MAX_HEADERS = 50;

/** One registered HTTP function: what the worker would receive. */
export interface Registration {
  name: string;
  route: string;
  methods: string[];
  handler: (request: unknown, context: unknown) => unknown;
}

/** The route parameters when `path` (without the prefix and query) matches `template`, else undefined. */
export function matchRoute(template: string, path: string): Record<string, string> | undefined {
  const want = template.split('/').filter(Boolean);
  const have = path.split('/').filter(Boolean);
  const params: Record<string, string> = {};
  for (let i = 0; i < Math.max(want.length, have.length); i++) {
    const segment = want[i];
    const value = have[i];
    if (segment === undefined) return undefined;
    const param = /^\{(\*?)([A-Za-z_]\w*)(?::[^}?]*)?(\?)?\}$/.exec(segment);
    if (!param) {
      if (value === undefined || segment.toLowerCase() !== value.toLowerCase()) return undefined;
      continue;
    }
    if (param[1] === '*') {
      params[param[2]!] = have.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    if (value === undefined) {
      if (param[3] === '?') continue;
      return undefined;
    }
    params[param[2]!] = decodeURIComponent(value);
  }
  return params;
}

class UsageError extends Error {}

function parseArgs(args: string[]): { method: string; target: string; headers: [string, string][]; stdin: boolean } {
  const [method, target, ...rest] = args;
  if (!method || !target || !/^[A-Za-z]+$/.test(method) || !target.startsWith('/')) throw new UsageError(USAGE);
  const headers: [string, string][] = [];
  let stdin = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--stdin') stdin = true;
    else if (arg === '-H' && rest[i + 1] !== undefined && headers.length < MAX_HEADERS) {
      const header = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(.*)$/.exec(rest[++i]!);
      if (!header) throw new UsageError(`-H takes 'Name: value'. ${USAGE}`);
      headers.push([header[1]!, header[2]!]);
    } else throw new UsageError(`unexpected argument "${arg.slice(0, 40)}". ${USAGE}`);
  }
  return { method: method.toUpperCase(), target, headers, stdin };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new UsageError(`the body on stdin is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Load every function file with a stand-in core module that records the HTTP registrations. */
async function registrations(): Promise<Registration[]> {
  const found: Registration[] = [];
  const core = {
    version: 'npm-run-call',
    hostVersion: 'npm-run-call',
    setProgrammingModel() {},
    registerFunction(
      metadata: { name: string; bindings: Record<string, { type?: string; route?: string; methods?: string[] }> },
      handler: Registration['handler'],
    ) {
      const trigger = Object.values(metadata.bindings).find((b) => b.type === 'httpTrigger');
      if (trigger) {
        found.push({
          name: metadata.name,
          route: trigger.route ?? metadata.name,
          methods: (trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
          handler,
        });
      }
      return { dispose() {} };
    },
    registerHook() {
      return { dispose() {} };
    },
    log() {},
  };
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  const original = proto.require;
  proto.require = function (this: unknown, id: string) {
    return id === '@azure/functions-core' ? core : original.call(this, id);
  };
  const dir = join(ROOT, 'dist', 'src', 'functions');
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .sort()) {
    await import(pathToFileURL(join(dir, file)).href);
  }
  return found;
}

function routePrefix(): string {
  try {
    const host = JSON.parse(readFileSync(join(ROOT, 'host.json'), 'utf8')) as {
      extensions?: { http?: { routePrefix?: string } };
    };
    return host.extensions?.http?.routePrefix ?? 'api';
  } catch {
    return 'api';
  }
}

async function main(args: string[]): Promise<number> {
  const { method, target, headers, stdin } = parseArgs(args);
  const body = stdin ? await readStdin() : undefined;
  await applyLocalSettings();
  console.error(
    'npm run call: in this process, not a host (no function keys, no start-up hook; docs/your-own-function.md)',
  );
  const url = new URL(target, 'http://localhost:7071');
  const prefix = `/${routePrefix()}`.replace(/\/+$/, '');
  const path = url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : undefined;
  const all = await registrations();
  const hit =
    path === undefined ? undefined : all.map((r) => ({ r, params: matchRoute(r.route, path) })).find((m) => m.params);
  if (!hit) {
    throw new UsageError(
      `no function answers ${url.pathname}; routes: ${all.map((r) => `${r.methods.join('|')} ${prefix}/${r.route}`).join(', ')}`,
    );
  }
  if (!hit.r.methods.includes(method)) {
    throw new UsageError(`${hit.r.name} takes ${hit.r.methods.join(', ')}, not ${method}`);
  }
  const { HttpRequest, InvocationContext, HttpResponse } = (await import('@azure/functions')).default;
  const request = new HttpRequest({
    method,
    url: url.href,
    headers: Object.fromEntries(headers),
    params: hit.params!,
    ...(body === undefined ? {} : { body: { string: body } }),
  });
  const context = new InvocationContext({
    functionName: hit.r.name,
    invocationId: 'npm-run-call',
    logHandler: (level, ...parts) => console.error(`[${hit.r.name}] ${level}: ${parts.map(String).join(' ')}`),
  });
  let answer: unknown;
  try {
    answer = await hit.r.handler(request, context);
  } catch (error) {
    console.error(`${hit.r.name} threw: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const response = answer instanceof HttpResponse ? answer : new HttpResponse(answer ?? {});
  console.log(`HTTP/1.1 ${response.status}`);
  response.headers.forEach((value, name) => console.log(`${name}: ${value}`));
  console.log('');
  const text = await response.text();
  if (text !== '') console.log(text);
  return 0;
}

// Run as a script (npm run call); imported (test/call.test.ts), only matchRoute is used.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
