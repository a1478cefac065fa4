// Forwarding one request to a route's upstream, the way APISIX's nginx does it: the client's
// Host passes through, X-Forwarded-For/-Host/-Proto/-Port and X-Real-IP are set, and a node
// that refuses the connection is skipped for the next one (proxy_next_upstream error timeout).
import http from 'node:http';
import https from 'node:https';
import type { UpstreamNode } from './apisix-route';
import type { RouteEntry } from './route-table';

export interface ProxyResult {
  status: number;
  /** Address of the node that answered, or the last one tried ("" when none). */
  node: UpstreamNode | undefined;
  upstreamStatus: string;
  upstreamAddr: string;
  bytesSent: number;
}

// Hop-by-hop headers belong to one connection and are never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** nginx's own error page, which is what a client of APISIX gets for 502/503/504. */
export function nginxErrorPage(status: number): string {
  const reason = http.STATUS_CODES[status] ?? 'Error';
  const title = status === 504 ? '504 Gateway Time-out' : `${status} ${reason}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n`;
}

class ConnectFailure extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
    /** Nothing reached the upstream (refused, connect timeout): safe to retry any method. */
    readonly beforeSend: boolean,
  ) {
    super(message);
  }
}

// nginx retries a request that may have reached the upstream only when it is idempotent.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

export class UpstreamProxy {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  private readonly httpsAgent = new https.Agent({
    keepAlive: true,
    maxSockets: 512,
    rejectUnauthorized: false,
  });

  constructor(
    private readonly serverHeader: string,
    private readonly logError: (message: string) => void,
  ) {}

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  async forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    entry: RouteEntry,
    client: { ip: string; port: number; listenPort: number },
  ): Promise<ProxyResult> {
    const upstream = entry.route.upstream;
    if (!upstream || !entry.balancer) {
      this.logError(
        `failed to set upstream: missing upstream configuration in Route or Service (route ${entry.route.id})`,
      );
      return this.errorPage(res, 503, undefined, '-', '');
    }
    const tried = new Set<number>();
    const tries: string[] = [];
    const statuses: string[] = [];
    let lastNode: UpstreamNode | undefined;
    let timedOut = false;
    for (let attempt = 0; attempt <= upstream.retries; attempt++) {
      const index = entry.balancer.pick(tried);
      if (index === undefined) break;
      tried.add(index);
      const node = upstream.nodes[index]!;
      lastNode = node;
      tries.push(`${node.host}:${node.port}`);
      try {
        const upstreamRes = await this.send(req, body, node, upstream, client);
        const status = upstreamRes.statusCode ?? 502;
        statuses.push(String(status));
        const headers: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(upstreamRes.headers)) {
          if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
        }
        headers.server = this.serverHeader;
        res.writeHead(status, headers);
        let bytes = 0;
        upstreamRes.on('data', (c: Buffer) => (bytes += c.length));
        await new Promise<void>((resolve) => {
          upstreamRes.pipe(res);
          upstreamRes.on('end', resolve);
          upstreamRes.on('error', () => {
            res.destroy();
            resolve();
          });
          res.on('close', resolve);
        });
        return {
          status,
          node,
          upstreamStatus: statuses.join(', '),
          upstreamAddr: tries.join(', '),
          bytesSent: bytes,
        };
      } catch (err) {
        const failure =
          err instanceof ConnectFailure ? err : new ConnectFailure(String(err), false, false);
        timedOut = failure.timedOut;
        statuses.push(timedOut ? '504' : '502');
        this.logError(
          `${failure.message} while connecting to upstream, client: ${client.ip}, request: "${req.method} ${req.url}", upstream: "http://${node.host}:${node.port}${req.url}"`,
        );
        if (!failure.beforeSend && !IDEMPOTENT.has(req.method ?? '')) break;
      }
    }
    return this.errorPage(
      res,
      timedOut ? 504 : 502,
      lastNode,
      statuses.join(', ') || '-',
      tries.join(', '),
    );
  }

  private errorPage(
    res: http.ServerResponse,
    status: number,
    node: UpstreamNode | undefined,
    upstreamStatus: string,
    upstreamAddr: string,
  ): ProxyResult {
    const page = nginxErrorPage(status);
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(page),
      server: this.serverHeader,
    });
    res.end(page);
    return { status, node, upstreamStatus, upstreamAddr, bytesSent: Buffer.byteLength(page) };
  }

  /** One attempt; rejects with ConnectFailure before any response byte arrived. */
  private send(
    req: http.IncomingMessage,
    body: Buffer,
    node: UpstreamNode,
    upstream: NonNullable<RouteEntry['route']['upstream']>,
    client: { ip: string; port: number; listenPort: number },
  ): Promise<http.IncomingMessage> {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    }
    const originalHost = req.headers.host ?? '';
    const hostOnly = originalHost.replace(/:\d+$/, '');
    if (upstream.passHost === 'node')
      headers.host = node.port === 80 ? node.host : `${node.host}:${node.port}`;
    else if (upstream.passHost === 'rewrite') headers.host = upstream.upstreamHost;
    const priorForwardedFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = priorForwardedFor
      ? `${Array.isArray(priorForwardedFor) ? priorForwardedFor.join(', ') : priorForwardedFor}, ${client.ip}`
      : client.ip;
    headers['x-real-ip'] = client.ip;
    headers['x-forwarded-host'] = hostOnly;
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-port'] = String(client.listenPort);
    headers['content-length'] = String(body.length);
    if (body.length === 0 && (req.method === 'GET' || req.method === 'HEAD'))
      delete headers['content-length'];

    const secure = upstream.scheme === 'https';
    const options: https.RequestOptions = {
      host: node.host,
      port: node.port,
      method: req.method,
      path: req.url,
      headers,
      agent: secure ? this.httpsAgent : this.httpAgent,
      servername: secure ? hostOnly || node.host : undefined,
    };
    return new Promise((resolve, reject) => {
      const outgoing = (secure ? https : http).request(options);
      let answered = false;
      // Connect timeout first, then the read timeout once connected.
      const connectTimer = setTimeout(() => {
        outgoing.destroy(
          new ConnectFailure('upstream timed out (110: Connection timed out)', true, true),
        );
      }, upstream.timeout.connect * 1000);
      outgoing.on('socket', (socket) => {
        const connected = () => clearTimeout(connectTimer);
        if (socket.connecting) socket.once('connect', connected);
        else connected();
      });
      outgoing.setTimeout(upstream.timeout.read * 1000, () => {
        outgoing.destroy(
          new ConnectFailure('upstream timed out (110: Connection timed out)', true, false),
        );
      });
      outgoing.on('response', (r) => {
        answered = true;
        clearTimeout(connectTimer);
        resolve(r);
      });
      outgoing.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        if (answered) return;
        if (err instanceof ConnectFailure) reject(err);
        else if (err.code === 'ECONNREFUSED') {
          reject(new ConnectFailure('connect() failed (111: Connection refused)', false, true));
        } else if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') {
          reject(new ConnectFailure(`connect() failed (113: No route to host)`, false, true));
        } else
          reject(new ConnectFailure(`upstream error (${err.code ?? err.message})`, false, false));
      });
      outgoing.end(body);
    });
  }
}
