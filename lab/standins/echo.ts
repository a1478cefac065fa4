// An upstream echo service that answers like httpbin (/get, /anything, /status/:code,
// /headers, /ip, /delay/:n), so the guide's smoke test `curl <gw>/get -H "Host: test.com"` reads the same.
// X-Echo-Server names the instance, which lets tests see round-robin between upstream nodes.
import http from 'node:http';
import os from 'node:os';
import {
  exitGracefully,
  exitOnSignalWhileStarting,
  listen,
  peerAddress,
  readBody,
  sendJson,
} from './http-helpers';

interface EchoOptions {
  host: string;
  port: number;
  name: string;
}

function parseArgs(argv: string[]): EchoOptions {
  let listenAt = process.env.ECHO_LISTEN ?? '0.0.0.0:8080';
  let name = os.hostname();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=')
      ? (arg.split(/=(.*)/s, 2) as [string, string])
      : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--listen') listenAt = value();
    else if (flag === '--name') name = value();
    else
      throw new Error(`unknown argument ${arg} (usage: echo [--listen host:port] [--name NAME])`);
  }
  const m = /^(.*):(\d+)$/.exec(listenAt);
  if (!m) throw new Error(`--listen must be host:port, got ${listenAt}`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port: Number(m[2]), name };
}

/** httpbin shows header names in Title-Case. */
function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[titleCase(k)] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** Repeated query keys become lists, as in httpbin. */
function argsOf(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    out[key] = all.length === 1 ? all[0]! : all;
  }
  return out;
}

/** Like httpbin: the X-Forwarded-For chain the proxies built, then the address we see. */
function originOf(req: http.IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return [...chain, peerAddress(req.socket)].join(', ');
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  name: string,
): Promise<void> {
  res.setHeader('x-echo-server', name);
  const host = req.headers.host ?? 'localhost';
  const url = new URL(req.url ?? '/', `http://${host}`);
  const body = await readBody(req);
  const base = {
    args: argsOf(url),
    headers: headersOf(req),
    origin: originOf(req),
    url: `http://${host}${req.url ?? '/'}`,
  };

  if (url.pathname === '/get') {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendJson(res, 405, { error: 'method not allowed' });
    return sendJson(res, 200, base);
  }
  if (url.pathname === '/headers') return sendJson(res, 200, { headers: base.headers });
  if (url.pathname === '/ip') return sendJson(res, 200, { origin: base.origin });
  if (url.pathname === '/anything' || url.pathname.startsWith('/anything/')) {
    const text = body.toString('utf8');
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return sendJson(res, 200, { ...base, method: req.method, data: text, json });
  }
  const delay = /^\/delay\/(\d+(?:\.\d+)?)$/.exec(url.pathname);
  if (delay) {
    // httpbin's slow answer (at most 10 s): lets tests hold a request in flight.
    await new Promise((r) => setTimeout(r, Math.min(Number(delay[1]), 10) * 1000));
    return sendJson(res, 200, base);
  }
  const status = /^\/status\/(\d{3})$/.exec(url.pathname);
  if (status) {
    res.writeHead(Number(status[1]), { 'content-length': 0 });
    res.end();
    return;
  }
  sendJson(res, 404, { error: 'not found', path: url.pathname });
}

async function main(): Promise<void> {
  const startingUp = exitOnSignalWhileStarting();
  const opts = parseArgs(process.argv.slice(2));
  const server = http.createServer((req, res) => {
    handle(req, res, opts.name).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  // Proxies keep upstream connections alive; keep ours open longer than theirs.
  server.keepAliveTimeout = 65_000;
  await listen(server, opts.port, opts.host);
  process.stdout.write(`echo server ${opts.name} listening on ${opts.host}:${opts.port}\n`);
  startingUp();
  exitGracefully([server], 2000);
}

main().catch((err: Error) => {
  process.stderr.write(`echo: ${err.message}\n`);
  process.exit(1);
});
