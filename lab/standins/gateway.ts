// Stand-in for API7-Gateway (Apache APISIX 2.x). It starts like `apisix init_etcd` (refuses
// to start unless more than half of the etcd hosts answer), keeps a watched copy of
// <prefix>/routes/ in memory, proxies by Host and URI from that copy (also while etcd is
// away), and exports APISIX's Prometheus metrics.
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { parseRoute, type Route } from './apisix-route';
import { EtcdHttpClient, type KeyValue } from './etcd-http';
import {
  DEFAULT_GATEWAY_CONF,
  GATEWAY_HOME,
  loadGatewayConfig,
  type GatewayConfig,
} from './gateway-config';
import {
  BodyTooLarge,
  exitGracefully,
  exitOnSignalWhileStarting,
  listen,
  peerAddress,
  readBody,
} from './http-helpers';
import { LogSink, accessLogTime, nginxTime } from './log-sink';
import { apisixMetrics } from './metrics';
import { RouteTable } from './route-table';
import { UpstreamProxy } from './upstream-proxy';

const VERSION = process.env.API7_VERSION || '2.13.2209.2';
const LOG_DIR = process.env.API7_GATEWAY_LOG_DIR || `${GATEWAY_HOME}/logs`;
const MIN_ETCD_VERSION = [3, 4, 0];
// The directories `apisix init_etcd` (2.x) creates as "<prefix><dir>/" = "init_dir".
const ETCD_DIRECTORIES = [
  '/upstreams',
  '/plugins',
  '/ssl',
  '/stream_routes',
  '/plugin_metadata',
  '/routes',
  '/services',
  '/consumers',
  '/global_rules',
  '/proto',
  '/plugin_configs',
];

const accessLog = new LogSink('stdout', LOG_DIR, 'access.log');
const errorLog = new LogSink('stdout', LOG_DIR, 'error.log');
const logAt = (level: string) => (msg: string) =>
  errorLog.write(`${nginxTime()} [${level}] ${process.pid}#${process.pid}: ${msg}`);
const logError = logAt('error');
const logWarn = logAt('warn');
const logNotice = logAt('notice');

/** What `apisix init_etcd` does before nginx starts; exits 1 the way it does. */
async function initEtcd(cfg: GatewayConfig): Promise<string[]> {
  const probe = new EtcdHttpClient({
    endpoints: cfg.etcd.hosts,
    tls: cfg.etcd.tls,
    requestTimeoutMs: 3000, // APISIX's cli uses a 3 s timeout for these checks
  });
  const results = await Promise.all(
    probe.endpoints.map(async (host) => {
      let lastError = '';
      for (let attempt = 1; attempt <= cfg.etcd.startupRetry; attempt++) {
        try {
          const v = await probe.versionOf(host);
          return { host, cluster: v.etcdcluster };
        } catch (err) {
          lastError = (err as Error).message;
          process.stdout.write(
            `Warning! Request etcd endpoint '${host}/version' error, ${lastError}, retry time=${attempt}\n`,
          );
        }
      }
      process.stderr.write(`request etcd endpoint '${host}/version' error, ${lastError}\n`);
      return { host, cluster: undefined };
    }),
  );
  probe.close();
  const healthy: string[] = [];
  for (const r of results) {
    if (r.cluster === undefined) continue;
    const parts = r.cluster.split('.').map(Number);
    if (parts.length === 3 && parts.every(Number.isFinite)) {
      const cmp = parts.findIndex((p, i) => p !== MIN_ETCD_VERSION[i]);
      if (cmp >= 0 && parts[cmp]! < MIN_ETCD_VERSION[cmp]!) {
        die(
          `etcd cluster version ${r.cluster} is less than the required version 3.4.0, please upgrade your etcd cluster`,
        );
      }
    }
    healthy.push(r.host);
  }
  if (healthy.length === 0) die('all etcd nodes are unavailable');
  // APISIX's rule, exactly: a healthy share of 50% or less is refused (so 1 of 2 is not enough).
  if ((healthy.length / results.length) * 100 <= 50) {
    die('the etcd cluster needs at least 50% and above healthy nodes');
  }

  const writer = new EtcdHttpClient({
    endpoints: healthy,
    username: cfg.etcd.user,
    password: cfg.etcd.password,
    tls: cfg.etcd.tls,
    requestTimeoutMs: 3000,
  });
  try {
    for (const dir of ETCD_DIRECTORIES) await writer.put(`${cfg.etcd.prefix}${dir}/`, 'init_dir');
  } catch (err) {
    die(`none of the configured etcd works well: ${(err as Error).message}`);
  } finally {
    writer.close();
  }
  return healthy;
}

function die(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const startingUp = exitOnSignalWhileStarting();
  const confFile = process.env.API7_GATEWAY_CONF || DEFAULT_GATEWAY_CONF;
  let cfg: GatewayConfig;
  try {
    cfg = loadGatewayConfig(confFile);
  } catch (err) {
    die((err as Error).message);
  }
  await initEtcd(cfg);

  const etcd = new EtcdHttpClient({
    endpoints: cfg.etcd.hosts,
    username: cfg.etcd.user,
    password: cfg.etcd.password,
    tls: cfg.etcd.tls,
    requestTimeoutMs: Math.min(cfg.etcd.timeoutSeconds, 5) * 1000,
    watchSessionMs: 50_000, // APISIX's etcd.watch_timeout default
  });
  const hostname = os.hostname();
  const metrics = apisixMetrics(hostname);
  const routes = new RouteTable();
  const routesPrefix = `${cfg.etcd.prefix}/routes/`;
  let modifyIndex = 0;
  let etcdIndex = 0;

  /** A key under <prefix>/routes/ to a usable route, or undefined (dir marker, bad JSON). */
  const toRoute = (kv: KeyValue): Route | undefined => {
    const id = kv.key.slice(routesPrefix.length);
    if (id === '' || kv.value === 'init_dir') return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(kv.value);
    } catch {
      logError(`failed to decode route ${kv.key}: not JSON`);
      return undefined;
    }
    const route = parseRoute(id, raw);
    if (typeof route === 'string') {
      logError(`failed to check item data of [${routesPrefix}] err:${route} ,val: ${kv.value}`);
      return undefined;
    }
    return route;
  };

  let watchHealthy = false;
  const sync = etcd.sync(routesPrefix, {
    onSnapshot: (kvs, revision) => {
      const loaded: Array<[string, Route]> = [];
      for (const kv of kvs) {
        const route = toRoute(kv);
        if (route) loaded.push([kv.key, route]);
        modifyIndex = Math.max(modifyIndex, kv.modRevision);
      }
      routes.replaceAll(loaded);
      etcdIndex = revision;
      logNotice(`loaded ${loaded.length} routes from ${routesPrefix} at revision ${revision}`);
    },
    onEvents: (events) => {
      for (const e of events) {
        modifyIndex = Math.max(modifyIndex, e.kv.modRevision);
        etcdIndex = Math.max(etcdIndex, e.kv.modRevision);
        if (e.type === 'delete') {
          routes.delete(e.kv.key);
          continue;
        }
        const route = toRoute(e.kv);
        if (route) routes.set(e.kv.key, route);
        else routes.delete(e.kv.key);
      }
    },
    onHealth: (healthy, detail) => {
      if (healthy && !watchHealthy) logNotice(`etcd sync restored: ${detail}`);
      if (!healthy && watchHealthy) {
        logWarn(`etcd sync lost: ${detail}; serving ${routes.size} cached routes`);
      } else if (!healthy) logWarn(`etcd: ${detail}`);
      watchHealthy = healthy;
    },
  });
  if (!(await sync.ready(5000)))
    logError(`could not list ${routesPrefix} yet; serving without routes until etcd answers`);

  const proxy = new UpstreamProxy(`APISIX/${VERSION}`, logError);
  let activeConnections = 0;
  let acceptedConnections = 0;

  const handleRequest = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    listenPort: number,
  ) => {
    const started = process.hrtime.bigint();
    const clientIp = peerAddress(req.socket);
    metrics.inc('apisix_http_requests_total', {});
    const url = new URL(req.url ?? '/', 'http://gateway');
    const match = routes.match(req.headers.host ?? '', url.pathname, req.method ?? 'GET');
    let status: number;
    let bytes = 0;
    let upstreamAddr = '-';
    let upstreamStatus = '-';
    let nodeIp = '';
    if (!match) {
      const text = '{"error_msg":"404 Route Not Found"}\n';
      res.writeHead(404, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        server: `APISIX/${VERSION}`,
      });
      res.end(text);
      status = 404;
      bytes = Buffer.byteLength(text);
    } else {
      let body: Buffer;
      try {
        body = await readBody(req, 64 * 1024 * 1024);
      } catch (err) {
        status = err instanceof BodyTooLarge ? 413 : 400;
        res.writeHead(status, { connection: 'close' });
        res.end();
        return;
      }
      const result = await proxy.forward(req, res, body, match.entry, {
        ip: clientIp,
        port: req.socket.remotePort ?? 0,
        listenPort,
      });
      status = result.status;
      bytes = result.bytesSent;
      upstreamAddr = result.upstreamAddr || '-';
      upstreamStatus = result.upstreamStatus;
      nodeIp = result.node?.host ?? '';
    }
    const labels = {
      code: String(status),
      route: match?.entry.route.id ?? '',
      matched_uri: match?.matchedUri ?? '',
      matched_host: match?.matchedHost ?? '',
      service: '',
      consumer: '',
      node: nodeIp,
    };
    metrics.inc('apisix_http_status', labels);
    metrics.inc(
      'apisix_bandwidth',
      { type: 'egress', route: labels.route, service: '', consumer: '', node: nodeIp },
      bytes,
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const q = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(', ') : (v ?? '-'));
    // APISIX's default access log format.
    accessLog.write(
      `${clientIp} - - [${accessLogTime()}] ${req.headers.host ?? '-'} "${req.method} ${req.url} HTTP/${req.httpVersion}" ${status} ${bytes} ${seconds.toFixed(3)} "${q(req.headers.referer)}" "${q(req.headers['user-agent'])}" ${upstreamAddr} ${upstreamStatus} ${seconds.toFixed(3)} "http://${req.headers.host ?? '-'}${req.url}"`,
    );
  };

  const servers: net.Server[] = [];
  for (const addr of cfg.http) {
    const server = http.createServer((req, res) => {
      handleRequest(req, res, addr.port).catch((err: Error) => {
        logError(`request failed: ${err.message}`);
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 60_000; // nginx keepalive_timeout
    server.on('connection', (socket: net.Socket) => {
      activeConnections++;
      acceptedConnections++;
      socket.on('close', () => activeConnections--);
    });
    servers.push(server);
    await bindOrDie(server, addr.port, addr.ip);
  }

  // APISIX with no SSL certificate configured fails every TLS handshake on its SSL port
  // (the client sees the connection end without a certificate). The stand-in has no TLS at
  // all, so it binds the port and closes each connection at once, which clients see the same way.
  for (const addr of cfg.https) {
    const server = net.createServer((socket) => socket.destroy());
    servers.push(server);
    await bindOrDie(server, addr.port, addr.ip);
  }

  const metricsServer = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (path !== cfg.metrics.uri || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 Not Found\n');
      return;
    }
    // Like APISIX, ask etcd at scrape time (GET /version); any member answering counts.
    void Promise.any(etcd.endpoints.map((e) => etcd.versionOf(e, 1500)))
      .then(
        () => 1,
        (err: AggregateError) => {
          logError(
            `prometheus: failed to reach config server while processing metrics endpoint: ${err.errors.map((e: Error) => e.message).join('; ')}`,
          );
          return 0;
        },
      )
      .then((reachable) => {
        metrics.set('apisix_etcd_reachable', {}, reachable);
        metrics.set('apisix_etcd_modify_indexes', { key: 'routes' }, modifyIndex);
        metrics.set('apisix_etcd_modify_indexes', { key: 'max_modify_index' }, modifyIndex);
        metrics.set('apisix_etcd_modify_indexes', { key: 'x_etcd_index' }, etcdIndex);
        metrics.set(
          'apisix_nginx_http_current_connections',
          { state: 'active' },
          activeConnections,
        );
        metrics.set(
          'apisix_nginx_http_current_connections',
          { state: 'accepted' },
          acceptedConnections,
        );
        const text = metrics.render();
        res.writeHead(200, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(text),
        });
        res.end(req.method === 'HEAD' ? undefined : text);
      });
  });
  servers.push(metricsServer);
  await bindOrDie(metricsServer, cfg.metrics.port, cfg.metrics.ip);

  logNotice(
    `API7-Gateway stand-in ${VERSION} serving http on ${cfg.http.map((a) => a.port).join(',')}, ` +
      `metrics on ${cfg.metrics.ip}:${cfg.metrics.port}, routes from ${routesPrefix}`,
  );
  startingUp();
  exitGracefully(servers, 1500, () => {
    sync.close();
    etcd.close();
    proxy.close();
  });
}

async function bindOrDie(server: net.Server, port: number, ip: string): Promise<void> {
  try {
    await listen(server, port, ip);
  } catch (err) {
    die(`bind() to ${ip}:${port} failed (${(err as Error).message})`);
  }
}

main().catch((err: Error) => die(err.stack ?? err.message));
