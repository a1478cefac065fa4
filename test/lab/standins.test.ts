// The stand-ins against a real 3-member etcd cluster (Debian's /usr/bin/etcd), checked with
// clients nobody here wrote: curl for HTTP, etcdctl for what landed in etcd.
// Needs: npx tsc -p tsconfig.json && node lab/build-standins.js (bundles in dist/standins/).
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseRoute, type Route } from '../../lab/standins/apisix-route';
import { ipAllowed } from '../../lab/standins/dashboard-api';
import { prefixRangeEnd } from '../../lab/standins/etcd-http';
import { signToken, verifyToken } from '../../lab/standins/jwt';
import { RoundRobin, RouteTable } from '../../lab/standins/route-table';
import { sleep, waitFor } from '../../src/util/exec';

const ROOT = path.resolve(__dirname, '../../..');
const BUNDLES = path.join(ROOT, 'dist', 'standins');
const HOST = '127.0.0.1';

const ETCD = [1, 2, 3].map((n) => ({
  name: `m${n}`,
  client: 23790 + n,
  peer: 23800 + n,
}));
const ETCD_ENDPOINTS = ETCD.map((m) => `${HOST}:${m.client}`).join(',');
const DEAD_ETCD = [`${HOST}:23797`, `${HOST}:23798`]; // nothing listens there
const PORTS = {
  dashboardA: 19000,
  dashboardB: 19001,
  dashboardNoEtcd: 19002,
  gatewayHttp: 19080,
  gatewayHttps: 19443,
  gatewayMetrics: 19091,
  singleHttp: 19180,
  singleHttps: 19543,
  singleMetrics: 19191,
  refusedHttp: 19280,
  echoA: 18080,
  echoB: 18081,
};

// ------------------------------------------------------------------ helpers

let tmp = '';
const children = new Set<ChildProcess>();

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start a child; stdout+stderr are kept in memory (or sent to a file for etcd's chatter). */
function startProcess(
  command: string,
  args: string[],
  opts: { env?: Record<string, string>; logFile?: string } = {},
): Proc {
  const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  const child = spawn(command, args, {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
  });
  if (fd !== undefined) closeSync(fd);
  children.add(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => out, exited };
}

async function stopProcess(p: Proc, signal: NodeJS.Signals = 'SIGTERM', withinMs = 5000) {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), withinMs);
  const result = await p.exited;
  clearTimeout(timer);
  return result;
}

function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface HttpAnswer {
  status: number;
  text: string;
  headers: Record<string, string>;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request with the real curl; status 0 = no HTTP answer (curl's own error in text). */
async function curl(
  method: string,
  url: string,
  opts: { headers?: Record<string, string>; body?: unknown; maxTime?: number } = {},
): Promise<HttpAnswer> {
  const args = [
    '-s',
    '-S',
    '-X',
    method,
    '--max-time',
    String(opts.maxTime ?? 5),
    '-D',
    '-',
    '-w',
    '\n%{http_code}',
  ];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (opts.body !== undefined) {
    args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(opts.body));
  }
  args.push(url);
  const r = await run('curl', args);
  const cut = r.stdout.lastIndexOf('\n');
  const status = Number(r.stdout.slice(cut + 1)) || 0;
  const raw = r.stdout.slice(0, cut);
  const split = raw.indexOf('\r\n\r\n');
  const headerText = split >= 0 ? raw.slice(0, split) : '';
  const text = split >= 0 ? raw.slice(split + 4) : r.stderr;
  const headers: Record<string, string> = {};
  for (const line of headerText.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, text, headers, json: () => JSON.parse(text) };
}

function etcdctl(args: string[], endpoints = ETCD_ENDPOINTS) {
  return run(
    'etcdctl',
    ['--endpoints', endpoints, '--dial-timeout', '2s', '--command-timeout', '4s', ...args],
    {
      ETCDCTL_API: '3',
    },
  );
}

// ------------------------------------------------------------------ the lab

const etcdProcs = new Map<string, Proc>();

function startEtcdMember(m: (typeof ETCD)[number]): void {
  const cluster = ETCD.map((x) => `${x.name}=http://${HOST}:${x.peer}`).join(',');
  // Flags as the guide's ETCD_* variables; a restart with existing data ignores --initial-*.
  const proc = startProcess(
    '/usr/bin/etcd',
    [
      '--name',
      m.name,
      '--data-dir',
      path.join(tmp, `etcd-${m.name}`),
      '--listen-client-urls',
      `http://${HOST}:${m.client}`,
      '--advertise-client-urls',
      `http://${HOST}:${m.client}`,
      '--listen-peer-urls',
      `http://${HOST}:${m.peer}`,
      '--initial-advertise-peer-urls',
      `http://${HOST}:${m.peer}`,
      '--initial-cluster',
      cluster,
      '--initial-cluster-token',
      'standins-test',
      '--initial-cluster-state',
      'new',
      // Loopback is fast: short raft timers make elections after a stop take well under 1 s.
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
    ],
    { logFile: path.join(tmp, `etcd-${m.name}.log`) },
  );
  etcdProcs.set(m.name, proc);
}

async function stopEtcdMember(m: (typeof ETCD)[number]): Promise<void> {
  const p = etcdProcs.get(m.name);
  // The last member of a cluster that lost quorum can linger on SIGTERM; docker would SIGKILL.
  if (p) await stopProcess(p, 'SIGTERM', 2000);
}

async function waitEtcdHealthy(members = ETCD): Promise<void> {
  const endpoints = members.map((m) => `${HOST}:${m.client}`).join(',');
  await waitFor(
    'etcd members healthy',
    async () => (await etcdctl(['endpoint', 'health'], endpoints)).code === 0,
    20_000,
    200,
  );
}

function writeConfig(name: string, text: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
}

function dashboardConfig(port: number, endpoints: string[]): string {
  return [
    'conf:',
    '  listen:',
    `    host: ${HOST}`,
    `    port: ${port}`,
    '  etcd:',
    '    name: "default"',
    '    endpoints:',
    ...endpoints.map((e) => `      - ${e}`),
    '    enable_auth: false',
    '    username: "root"',
    '    password: "123456"',
    '    mtls:',
    '      enable: false',
    '      key_file: ""',
    '      cert_file: ""',
    '      ca_file: ""',
    '    prefix: /api7',
    'authentication:',
    '  secret: lab-shared-secret',
    '  expire_time: 3600',
    '  users:',
    '    - username: admin',
    '      password: admin-pass',
    '',
  ].join('\n');
}

function gatewayConfig(
  ports: { http: number; https: number; metrics: number },
  hosts: string[],
  prefix: string,
): string {
  return [
    'apisix:',
    `  node_listen: ${ports.http}`,
    '  ssl:',
    `    listen_port: ${ports.https}`,
    'plugin_attr:',
    '  prometheus:',
    '    export_addr:',
    `      ip: ${HOST}`,
    `      port: ${ports.metrics}`,
    'etcd:',
    '  host:',
    ...hosts.map((h) => `    - "${h}"`),
    `  prefix: ${prefix}`,
    '',
  ].join('\n');
}

function startDashboard(configFile: string): Proc {
  return startProcess(process.execPath, [path.join(BUNDLES, 'dashboard.js')], {
    env: { API7_DASHBOARD_CONF: configFile },
  });
}

function startGateway(configFile: string): Proc {
  return startProcess(process.execPath, [path.join(BUNDLES, 'gateway.js')], {
    env: { API7_GATEWAY_CONF: configFile, API7_GATEWAY_LOG_DIR: path.join(tmp, 'no-such-dir') },
  });
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

async function metricsOf(port: number): Promise<string> {
  const r = await curl('GET', `http://${HOST}:${port}/apisix/prometheus/metrics`);
  assert.equal(r.status, 200, r.text);
  return r.text;
}

const etcdReachable = (metrics: string) => /^apisix_etcd_reachable (\d)$/m.exec(metrics)?.[1];

// State shared by the tests below, which run in order.
const lab = {
  noEtcdDashboard: undefined as Proc | undefined,
  dashA: undefined as Proc | undefined,
  dashB: undefined as Proc | undefined,
  gateway: undefined as Proc | undefined,
  single: undefined as Proc | undefined,
  echos: [] as Proc[],
  token: '',
  clusterId: '',
};
const dashA = (p: string) => `http://${HOST}:${PORTS.dashboardA}${p}`;
const dashB = (p: string) => `http://${HOST}:${PORTS.dashboardB}${p}`;
const gw = (p: string) => `http://${HOST}:${PORTS.gatewayHttp}${p}`;
const auth = () => ({ Authorization: lab.token });

async function putRoute(
  url: (p: string) => string,
  id: string,
  route: object,
): Promise<HttpAnswer> {
  return curl('PUT', url(`/apisix/admin/routes/${id}?cluster_id=${lab.clusterId}`), {
    headers: auth(),
    body: route,
  });
}

const ECHO_NODES = { [`${HOST}:${PORTS.echoA}`]: 1, [`${HOST}:${PORTS.echoB}`]: 1 };

// ------------------------------------------------------------------ setup

before(async () => {
  for (const f of ['dashboard.js', 'gateway.js', 'echo.js']) {
    assert.ok(
      existsSync(path.join(BUNDLES, f)),
      `missing ${f}: run node lab/build-standins.js first`,
    );
  }
  const ports = [...Object.values(PORTS), ...ETCD.flatMap((m) => [m.client, m.peer])];
  for (const p of ports) assert.ok(await portIsFree(p), `port ${p} on ${HOST} is in use`);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'standins-test-'));

  // The dashboard that must give up (~5 s) runs while etcd and the echo services start.
  lab.noEtcdDashboard = startDashboard(
    writeConfig('dash-no-etcd.yaml', dashboardConfig(PORTS.dashboardNoEtcd, DEAD_ETCD)),
  );
  for (const m of ETCD) startEtcdMember(m);
  lab.echos = [
    startProcess(process.execPath, [
      path.join(BUNDLES, 'echo.js'),
      '--listen',
      `${HOST}:${PORTS.echoA}`,
      '--name',
      'echo-a',
    ]),
    startProcess(process.execPath, [path.join(BUNDLES, 'echo.js'), '--name', 'echo-b'], {
      env: { ECHO_LISTEN: `${HOST}:${PORTS.echoB}` },
    }),
  ];
  await waitEtcdHealthy();
});

after(async () => {
  await Promise.all(
    [...children].map((c) =>
      c.exitCode === null && c.signalCode === null
        ? new Promise<void>((resolve) => {
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          })
        : undefined,
    ),
  );
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// Never leave processes behind, even when the runner itself is interrupted.
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

// ------------------------------------------------------------------ pure parts

test('pure parts: routing precedence, weighted round-robin, tokens, allow list, range ends', () => {
  const route = (id: string, raw: object): [string, Route] => {
    const r = parseRoute(id, raw);
    assert.ok(typeof r !== 'string', String(r));
    return [`/p/routes/${id}`, r];
  };
  const table = new RouteTable();
  table.replaceAll([
    route('any-host', { uri: '/get', upstream: { nodes: { 'a:80': 1 } } }),
    route('exact', { uri: '/get', host: 'test.com', upstream: { nodes: { 'a:80': 1 } } }),
    route('prefix', { uri: '/*', host: 'test.com', upstream: { nodes: { 'a:80': 1 } } }),
    route('longer', {
      uris: ['/api/v1/*'],
      hosts: ['*.example.com'],
      upstream: { nodes: { 'a:80': 1 } },
    }),
    route('off', { uri: '/off', status: 0, upstream: { nodes: { 'a:80': 1 } } }),
    route('post-only', { uri: '/form', methods: ['POST'], upstream: { nodes: { 'a:80': 1 } } }),
  ]);
  const id = (host: string, p: string, method = 'GET') =>
    table.match(host, p, method)?.entry.route.id;
  assert.equal(id('test.com:8080', '/get'), 'exact');
  assert.equal(id('other.com', '/get'), 'any-host');
  assert.equal(id('TEST.com', '/x/y'), 'prefix');
  assert.equal(id('a.example.com', '/api/v1/users'), 'longer');
  assert.equal(id('example.com', '/api/v1/users'), undefined);
  assert.equal(id('x', '/off'), undefined);
  assert.equal(id('x', '/form'), undefined);
  assert.equal(id('x', '/form', 'POST'), 'post-only');
  assert.equal(typeof parseRoute('bad', { host: 'x' }), 'string');

  const rr = new RoundRobin([
    { host: 'a', port: 80, weight: 2 },
    { host: 'b', port: 80, weight: 1 },
    { host: 'c', port: 80, weight: 0 },
  ]);
  const picks = Array.from({ length: 6 }, () => rr.nodes[rr.pick()!]!.host).join('');
  assert.equal(picks, 'abaaba');
  assert.equal(rr.pick(new Set([0, 1])), undefined);

  const token = signToken('k', 'admin', 60, 1_000_000);
  assert.equal(verifyToken('k', token, 1_000_000)?.sub, 'admin');
  assert.equal(verifyToken('other', token, 1_000_000), undefined);
  assert.equal(verifyToken('k', token, 1_000_000 + 61_000), undefined, 'expired');
  const [h, , sig] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ sub: 'root', iat: 1000, exp: 99999999999 })).toString(
    'base64url',
  );
  assert.equal(verifyToken('k', `${h}.${forged}.${sig}`, 1_000_000), undefined);

  assert.ok(ipAllowed('10.1.2.3', []));
  assert.ok(ipAllowed('10.1.2.3', ['127.0.0.1', '10.1.0.0/16']));
  assert.ok(!ipAllowed('10.2.2.3', ['127.0.0.1', '10.1.0.0/16']));

  assert.equal(prefixRangeEnd('/api7/1/routes/').toString(), '/api7/1/routes0');
  assert.deepEqual([...prefixRangeEnd('a\u00ff')], [0x61, 0xc3, 0xc0], 'works on UTF-8 bytes');
});

// ------------------------------------------------------------------ dashboard

test('dashboard exits non-zero, naming the endpoints, when etcd is unreachable at start', async () => {
  const p = lab.noEtcdDashboard!;
  const { code } = await p.exited;
  assert.notEqual(code, 0);
  assert.match(p.output(), /127\.0\.0\.1:23797/);
  assert.match(p.output(), /127\.0\.0\.1:23798/);
  assert.doesNotMatch(p.output(), /running successfully/);
});

test("dashboards print the guide's start-up block and answer /ping", async () => {
  const conf = writeConfig(
    'dash-a.yaml',
    dashboardConfig(
      PORTS.dashboardA,
      ETCD.map((m) => `${HOST}:${m.client}`),
    ),
  );
  const confB = writeConfig(
    'dash-b.yaml',
    dashboardConfig(
      PORTS.dashboardB,
      ETCD.map((m) => `${HOST}:${m.client}`),
    ),
  );
  lab.dashA = startDashboard(conf);
  lab.dashB = startDashboard(confB);
  for (const d of [lab.dashA, lab.dashB]) {
    await waitFor('the start-up block', async () => d.output().includes('Logfile'), 8000);
  }
  const expected =
    'The manager-api is running successfully!\n\n' +
    'Version : 2.13.2209.1\n' +
    'GitHash : f2c8f46\n' +
    `Listen  : ${HOST}:${PORTS.dashboardA}\n` +
    'Loglevel: warn\n' +
    'Logfile : /usr/local/apisix-dashboard/logs/error.log\n';
  assert.ok(lab.dashA.output().startsWith(expected), lab.dashA.output());
  const ping = await curl('GET', dashA('/ping'));
  assert.equal(ping.status, 200);
  assert.equal(ping.text, 'pong');
});

test('login: wrong password is 401, a token from dashboard A is accepted by dashboard B', async () => {
  const wrong = await curl('POST', dashA('/apisix/admin/user/login'), {
    body: { username: 'admin', password: 'nope' },
  });
  assert.equal(wrong.status, 401);
  assert.notEqual(wrong.json().code, 0);

  const login = await curl('POST', dashA('/apisix/admin/user/login'), {
    body: { username: 'admin', password: 'admin-pass' },
  });
  assert.equal(login.status, 200, login.text);
  assert.equal(login.json().code, 0);
  lab.token = login.json().data.token;
  assert.ok(lab.token);

  assert.equal((await curl('GET', dashB('/apisix/admin/clusters'))).status, 401, 'no token');
  assert.equal(
    (await curl('GET', dashB('/apisix/admin/clusters'), { headers: { Authorization: 'x.y.z' } }))
      .status,
    401,
  );
  const viaB = await curl('GET', dashB('/apisix/admin/clusters'), { headers: auth() });
  assert.equal(viaB.status, 200, viaB.text);
});

test('cluster create and list; the cluster is stored in etcd under /api7/clusters/', async () => {
  const created = await curl('POST', dashA('/apisix/admin/clusters'), {
    headers: auth(),
    body: { name: 'lab' },
  });
  assert.equal(created.status, 200, created.text);
  lab.clusterId = created.json().data.id;
  assert.match(lab.clusterId, /^\d{18}$/);

  const list = await curl('GET', dashB('/apisix/admin/clusters'), { headers: auth() });
  const rows: Array<{ id: string; name: string }> = list.json().data.rows;
  assert.equal(list.json().data.total, rows.length);
  assert.ok(rows.some((r) => r.id === lab.clusterId && r.name === 'lab'));

  const one = await curl('GET', dashB(`/apisix/admin/clusters/${lab.clusterId}`), {
    headers: auth(),
  });
  assert.equal(one.json().data.name, 'lab');

  const stored = await etcdctl(['get', `/api7/clusters/${lab.clusterId}`, '--print-value-only']);
  assert.equal(JSON.parse(stored.stdout).name, 'lab');
});

test('route PUT lands in etcd at /api7/<cluster_id>/routes/<id>', async () => {
  const noCluster = await curl('PUT', dashA('/apisix/admin/routes/1'), {
    headers: auth(),
    body: { uri: '/get' },
  });
  assert.equal(noCluster.status, 400);
  const unknownCluster = await curl(
    'GET',
    dashA('/apisix/admin/routes?cluster_id=123456789012345678'),
    { headers: auth() },
  );
  assert.equal(unknownCluster.status, 400);

  const put = await putRoute(dashA, '1', {
    uri: '/get',
    host: 'test.com',
    upstream: { type: 'roundrobin', nodes: ECHO_NODES },
  });
  assert.equal(put.status, 200, put.text);

  const stored = await etcdctl(['get', `/api7/${lab.clusterId}/routes/1`, '--print-value-only']);
  assert.equal(stored.code, 0, stored.stderr);
  const route = JSON.parse(stored.stdout);
  assert.equal(route.id, '1');
  assert.equal(route.uri, '/get');
  assert.equal(route.host, 'test.com');
  assert.deepEqual(route.upstream, { type: 'roundrobin', nodes: ECHO_NODES });

  const viaB = await curl('GET', dashB(`/apisix/admin/routes/1?cluster_id=${lab.clusterId}`), {
    headers: auth(),
  });
  assert.equal(viaB.json().data.uri, '/get');
});

// ------------------------------------------------------------------ gateway

test('gateway refuses to start when fewer than half of the etcd hosts answer', async () => {
  const conf = writeConfig(
    'gw-refused.yaml',
    gatewayConfig(
      { http: PORTS.refusedHttp, https: PORTS.refusedHttp + 1, metrics: PORTS.refusedHttp + 2 },
      [`${HOST}:${ETCD[0]!.client}`, ...DEAD_ETCD],
      `/api7/${lab.clusterId}`,
    ),
  );
  const p = startGateway(conf);
  const { code } = await waitFor(
    'the refused gateway to exit',
    async () => {
      if (p.child.exitCode !== null) return p.exited;
      return undefined;
    },
    15_000,
  );
  assert.equal(code, 1);
  assert.match(p.output(), /at least 50% and above healthy nodes/);
  assert.ok(await portIsFree(PORTS.refusedHttp), 'it must not have listened');
});

test('gateway proxies GET /get with Host: test.com, round-robin over two echo nodes', async () => {
  // Host entries in both spellings the docs allow: ip:port and http://ip:port.
  const hosts = [
    `${HOST}:${ETCD[0]!.client}`,
    `http://${HOST}:${ETCD[1]!.client}`,
    `${HOST}:${ETCD[2]!.client}`,
  ];
  lab.gateway = startGateway(
    writeConfig(
      'gw.yaml',
      gatewayConfig(
        { http: PORTS.gatewayHttp, https: PORTS.gatewayHttps, metrics: PORTS.gatewayMetrics },
        hosts,
        `/api7/${lab.clusterId}`,
      ),
    ),
  );
  // A second gateway that knows only member 1: it must re-list after a compaction (below).
  lab.single = startGateway(
    writeConfig(
      'gw-single.yaml',
      gatewayConfig(
        { http: PORTS.singleHttp, https: PORTS.singleHttps, metrics: PORTS.singleMetrics },
        [`${HOST}:${ETCD[0]!.client}`],
        `/api7/${lab.clusterId}`,
      ),
    ),
  );

  const first = await waitFor('the gateway to proxy /get', async () => {
    const r = await curl('GET', gw('/get'), { headers: { Host: 'test.com' } });
    return r.status === 200 ? r : undefined;
  });
  const body = first.json();
  assert.equal(body.url, 'http://test.com/get');
  assert.equal(body.headers['Host'], 'test.com');
  assert.equal(body.headers['X-Forwarded-Host'], 'test.com');
  assert.equal(body.headers['X-Real-Ip'], HOST);
  assert.match(body.origin, /^127\.0\.0\.1, 127\.0\.0\.1$/);

  const servedBy: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await curl('GET', gw('/get'), { headers: { Host: 'test.com' } });
    assert.equal(r.status, 200);
    servedBy.push(r.headers['x-echo-server'] ?? '');
  }
  assert.deepEqual(new Set(servedBy), new Set(['echo-a', 'echo-b']));
  assert.notEqual(servedBy[0], servedBy[1], `alternates: ${servedBy.join(' ')}`);

  const other = await curl('GET', gw('/get'), { headers: { Host: 'other.com' } });
  assert.equal(other.status, 404);
  assert.deepEqual(other.json(), { error_msg: '404 Route Not Found' });

  // Port 443 is bound, but there is no TLS to be had.
  const tls = await run('curl', [
    '-s',
    '-k',
    '--max-time',
    '3',
    `https://${HOST}:${PORTS.gatewayHttps}/`,
  ]);
  assert.notEqual(tls.code, 0);

  const metrics = await metricsOf(PORTS.gatewayMetrics);
  assert.equal(etcdReachable(metrics), '1');
  assert.match(
    metrics,
    /^apisix_http_status\{code="200",route="1",matched_uri="\/get",matched_host="test\.com",service="",consumer="",node="127\.0\.0\.1"\} 5$/m,
  );
  assert.match(metrics, /^apisix_node_info\{hostname="[^"]+"\} 1$/m);
  assert.match(metrics, /^apisix_etcd_modify_indexes\{key="routes"\} [1-9]\d*$/m);

  // The gateway wrote APISIX's directory markers, and the dashboard does not list them as routes.
  const marker = await etcdctl(['get', `/api7/${lab.clusterId}/routes/`, '--print-value-only']);
  assert.equal(marker.stdout.trim(), 'init_dir');
  const list = await curl('GET', dashA(`/apisix/admin/routes?cluster_id=${lab.clusterId}`), {
    headers: auth(),
  });
  assert.deepEqual(
    list.json().data.rows.map((r: { id: string }) => r.id),
    ['1'],
  );
});

test('gateway picks up a route written later, and its deletion (watch)', async () => {
  const created = await curl('POST', dashA(`/apisix/admin/routes?cluster_id=${lab.clusterId}`), {
    headers: auth(),
    body: {
      uris: ['/anything/*'],
      hosts: ['api.example.com'],
      upstream: { nodes: [{ host: HOST, port: PORTS.echoB, weight: 1 }] },
    },
  });
  assert.equal(created.status, 200, created.text);
  const id: string = created.json().data.id;
  assert.match(id, /^\d{18}$/);

  const r = await waitFor(
    'the new route to be served',
    async () => {
      const a = await curl('POST', gw('/anything/deep/path?x=1'), {
        headers: { Host: 'api.example.com' },
        body: { hello: 'world' },
      });
      return a.status === 200 ? a : undefined;
    },
    5000,
    100,
  );
  assert.deepEqual(r.json().json, { hello: 'world' });
  assert.equal(r.json().method, 'POST');

  const del = await curl(
    'DELETE',
    dashB(`/apisix/admin/routes/${id}?cluster_id=${lab.clusterId}`),
    { headers: auth() },
  );
  assert.equal(del.status, 200, del.text);
  await waitFor(
    'the deleted route to stop matching',
    async () => {
      return (
        (await curl('GET', gw('/anything/x'), { headers: { Host: 'api.example.com' } })).status ===
        404
      );
    },
    5000,
    100,
  );
});

// ------------------------------------------------------------------ etcd failures

test('one of three etcd members stopped: dashboards still read and write; a compacted watch re-lists', async () => {
  await stopEtcdMember(ETCD[0]!);
  const survivors = ETCD.slice(1);

  // Writes may need a new leader first; with short raft timers that takes well under a second.
  const written = await waitFor(
    'a route write with one member down',
    async () => {
      const r = await putRoute(dashB, '2', {
        uri: '/status/*',
        upstream: { nodes: { [`${HOST}:${PORTS.echoA}`]: 1 } },
      });
      return r.status === 200 ? r : undefined;
    },
    8000,
    200,
  );
  assert.equal(written.json().data.id, '2');
  for (const d of [dashA, dashB]) {
    const list = await curl('GET', d(`/apisix/admin/routes?cluster_id=${lab.clusterId}`), {
      headers: auth(),
    });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list
        .json()
        .data.rows.map((x: { id: string }) => x.id)
        .sort(),
      ['1', '2'],
    );
  }
  const stored = await etcdctl(
    ['get', `/api7/${lab.clusterId}/routes/2`, '--print-value-only'],
    survivors.map((m) => `${HOST}:${m.client}`).join(','),
  );
  assert.equal(JSON.parse(stored.stdout).uri, '/status/*');

  // The main gateway moved its watch to another member and sees the new route.
  await waitFor(
    'the main gateway to serve route 2',
    async () => (await curl('GET', gw('/status/418'))).status === 418,
    8000,
  );

  // The single-host gateway lost its only member: it serves its cache, reports etcd unreachable.
  const single = (p: string) => `http://${HOST}:${PORTS.singleHttp}${p}`;
  assert.equal((await curl('GET', single('/get'), { headers: { Host: 'test.com' } })).status, 200);
  assert.equal((await curl('GET', single('/status/418'))).status, 404);
  await waitFor(
    'single gateway: apisix_etcd_reachable 0',
    async () => etcdReachable(await metricsOf(PORTS.singleMetrics)) === '0',
    5000,
  );

  // Compact past everything it has seen, then bring its member back: it must re-list. (A second
  // write first: compacting at revision R keeps R itself, which may be where its watch resumes.)
  assert.equal(
    (
      await putRoute(dashB, '2', {
        uri: '/status/*',
        upstream: { nodes: { [`${HOST}:${PORTS.echoA}`]: 1 } },
      })
    ).status,
    200,
  );
  const status = await etcdctl(
    ['endpoint', 'status', '-w', 'json'],
    `${HOST}:${survivors[0]!.client}`,
  );
  const revision = JSON.parse(status.stdout)[0].Status.header.revision as number;
  assert.equal(
    (await etcdctl(['compact', String(revision)], `${HOST}:${survivors[0]!.client}`)).code,
    0,
  );
  startEtcdMember(ETCD[0]!);
  await waitEtcdHealthy();
  await waitFor(
    'single gateway to re-list and serve route 2',
    async () => (await curl('GET', single('/status/418'))).status === 418,
    10_000,
  );
  assert.match(lab.single!.output(), /compacted/);
  assert.equal(etcdReachable(await metricsOf(PORTS.singleMetrics)), '1');
});

test('all etcd members stopped: the gateway serves cached routes, metrics say unreachable, then recover', async () => {
  await Promise.all(ETCD.map((m) => stopEtcdMember(m)));

  await waitFor(
    'apisix_etcd_reachable 0',
    async () => etcdReachable(await metricsOf(PORTS.gatewayMetrics)) === '0',
    5000,
  );
  for (let i = 0; i < 3; i++) {
    const r = await curl('GET', gw('/get'), { headers: { Host: 'test.com' } });
    assert.equal(r.status, 200, 'cached route still served');
  }
  assert.equal((await curl('GET', gw('/status/418'))).status, 418);

  // The dashboard stays up and says so with a 5xx; /ping is liveness only.
  const read = await curl('GET', dashA(`/apisix/admin/routes?cluster_id=${lab.clusterId}`), {
    headers: auth(),
    maxTime: 15,
  });
  assert.ok(read.status >= 500 && read.status < 600, `status ${read.status}`);
  assert.match(read.json().message, /etcd/);
  assert.equal((await curl('GET', dashA('/ping'))).text, 'pong');
  assert.equal(lab.dashA!.child.exitCode, null, 'dashboard still running');

  for (const m of ETCD) startEtcdMember(m);
  await waitEtcdHealthy();
  await waitFor(
    'apisix_etcd_reachable 1',
    async () => etcdReachable(await metricsOf(PORTS.gatewayMetrics)) === '1',
    5000,
  );

  // The watch resumes: a route written now is served.
  const put = await waitFor(
    'a write after recovery',
    async () => {
      const r = await putRoute(dashA, '3', {
        uri: '/delay/*',
        host: 'test.com',
        upstream: { nodes: ECHO_NODES },
      });
      return r.status === 200 ? r : undefined;
    },
    5000,
  );
  assert.equal(put.json().data.id, '3');
  await waitFor(
    'route 3 to be served after recovery',
    async () => {
      return (await curl('GET', gw('/delay/0'), { headers: { Host: 'test.com' } })).status === 200;
    },
    10_000,
  );
});

// ------------------------------------------------------------------ shutdown

test('SIGTERM: the gateway finishes the request in flight and exits 0; so do the others', async () => {
  const inFlight = curl('GET', gw('/delay/1'), { headers: { Host: 'test.com' } });
  await sleep(300);
  const started = Date.now();
  const gwExit = stopProcess(lab.gateway!, 'SIGTERM');
  const answer = await inFlight;
  assert.equal(answer.status, 200, 'the in-flight request completed');
  assert.deepEqual(await gwExit, { code: 0, signal: null });
  assert.ok(Date.now() - started < 2500, 'exited within a couple of seconds');

  for (const p of [lab.single!, lab.dashA!, lab.dashB!, ...lab.echos]) {
    const t0 = Date.now();
    assert.deepEqual(await stopProcess(p, 'SIGTERM'), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 2500);
  }
});
