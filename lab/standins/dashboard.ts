// Stand-in for API7-Dashboard (manager-api). Like the real one it reaches etcd before it
// listens and exits 1 when it cannot, then prints the guide's "running successfully" block.
import http from 'node:http';
import path from 'node:path';
import { DashboardApi } from './dashboard-api';
import {
  DEFAULT_DASHBOARD_CONF,
  loadDashboardConfig,
  type DashboardConfig,
} from './dashboard-config';
import { EtcdHttpClient } from './etcd-http';
import { exitGracefully, exitOnSignalWhileStarting, listen, peerAddress } from './http-helpers';
import { LogSink, nginxTime } from './log-sink';

const VERSION = process.env.API7_VERSION || '2.13.2209.1';
const GIT_HASH = process.env.API7_GIT_HASH || 'f2c8f46';
/** manager-api gives up when etcd has not answered within its 5 s dial timeout. */
const ETCD_STARTUP_DEADLINE_MS = 5000;

/** The block from the vendor guide, byte for byte (manager-api pads names to 8 columns). */
function startupBanner(cfg: DashboardConfig): string {
  const line = (name: string, value: string) => `${name.padEnd(8)}: ${value}\n`;
  return (
    'The manager-api is running successfully!\n\n' +
    line('Version', VERSION) +
    line('GitHash', GIT_HASH) +
    line('Listen', `${cfg.listenHost}:${cfg.listenPort}`) +
    line('Loglevel', cfg.logLevel) +
    line('Logfile', cfg.errorLogFile) +
    '\n'
  );
}

/** Try etcd until it answers or the deadline passes; a linearizable read needs quorum. */
async function reachEtcd(etcd: EtcdHttpClient, prefix: string): Promise<string | undefined> {
  const deadline = Date.now() + ETCD_STARTUP_DEADLINE_MS;
  let lastError = 'no attempt finished';
  while (Date.now() < deadline) {
    const attempt = etcd.range(`${prefix}/`, { countOnly: true }).then(
      () => 'ok' as const,
      (err: Error) => err,
    );
    const timeLeft = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now())).unref(),
    );
    const result = await Promise.race([attempt, timeLeft]);
    if (result === 'ok') return undefined;
    if (result === 'timeout') {
      lastError = `${lastError === 'no attempt finished' ? 'no answer' : lastError} (timed out)`;
      break;
    }
    lastError = result.message;
    await new Promise((r) => setTimeout(r, 250));
  }
  return lastError;
}

async function main(): Promise<void> {
  const startingUp = exitOnSignalWhileStarting();
  const confFile = process.env.API7_DASHBOARD_CONF || DEFAULT_DASHBOARD_CONF;
  const cfg = loadDashboardConfig(confFile);
  const errorLog = new LogSink(
    'stderr',
    path.dirname(cfg.errorLogFile),
    path.basename(cfg.errorLogFile),
  );
  // manager-api writes its access log to a file only; /ping every few seconds from a load
  // balancer would otherwise drown `docker logs`.
  const accessLog = new LogSink(
    'none',
    path.dirname(cfg.accessLogFile),
    path.basename(cfg.accessLogFile),
  );
  const logError = (msg: string) => errorLog.write(`${nginxTime()} [error] ${msg}`);

  const etcd = new EtcdHttpClient({
    endpoints: cfg.etcd.endpoints,
    username: cfg.etcd.username,
    password: cfg.etcd.password,
    tls: cfg.etcd.tls,
    requestTimeoutMs: 3000,
  });

  const failure = await reachEtcd(etcd, cfg.etcd.prefix);
  if (failure !== undefined) {
    process.stderr.write(
      `Error: init etcd client fail: cannot reach etcd at ${cfg.etcd.endpoints.join(', ')} ` +
        `within ${ETCD_STARTUP_DEADLINE_MS / 1000}s: ${failure}\n`,
    );
    process.exit(1);
  }

  const api = new DashboardApi(cfg, etcd, { version: VERSION, gitHash: GIT_HASH }, logError);
  const server = http.createServer((req, res) => {
    const started = Date.now();
    res.on('finish', () => {
      accessLog.write(
        `${new Date().toISOString()} ${peerAddress(req.socket)} "${req.method} ${req.url}" ${res.statusCode} ${Date.now() - started}ms`,
      );
    });
    api.handle(req, res).catch((err: Error) => {
      logError(`request failed: ${err.message}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  try {
    await listen(server, cfg.listenPort, cfg.listenHost);
  } catch (err) {
    process.stderr.write(
      `Error: listen ${cfg.listenHost}:${cfg.listenPort}: ${(err as Error).message}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(startupBanner(cfg));
  startingUp();
  exitGracefully([server], 1000, () => etcd.close());
}

main().catch((err: Error) => {
  process.stderr.write(`Error: ${err.message}\n`);
  process.exit(1);
});
