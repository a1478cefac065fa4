// The stand-in images as an operator meets them: shipped inside the vendor bundles, loaded
// with `docker load` on a lab host, started by hand with `docker run` against an etcd
// started by hand, and checked with curl on that host. Also what happens while etcd is
// down: the running gateway serves its cached routes, a new dashboard or gateway refuses
// to start.
//
// Everything runs on ha4 over SSH, under names and ports no deploy uses (containers
// images-test-*, its own network, ports 12379, 19000, 19080, 19091), so a cluster the other
// test files deployed on the lab is left alone. `after` puts the host back as it was.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { LoadedInventory } from '../../src/config/load';
import type { SshSession } from '../../src/ssh/session';
import { waitFor } from '../../src/util/exec';
import { sharedLab, sshTo } from '../support/lab';

const HOST = 'ha4';
const CLUSTER_ID = '123456789012345678';
const ROUTE_ID = 'images-test-route';
const PORTS = { etcd: 12379, dashboard: 19000, http: 19080, metrics: 19091 };
const NAMES = {
  etcd: 'images-test-etcd',
  dashboard: 'images-test-dashboard',
  gateway: 'images-test-gateway',
  dashboard2: 'images-test-dashboard2',
  gateway2: 'images-test-gateway2',
};
const ALL_CONTAINERS = Object.values(NAMES);
const DASHBOARD_CONF_IN_IMAGE = '/usr/local/apisix-dashboard/conf/conf.yaml';
const GATEWAY_CONF_IN_IMAGE = '/usr/local/apisix/conf/config.yaml';
const GATEWAY_LOGS_IN_IMAGE = '/usr/local/apisix/logs';
const METRICS_PATH = '/apisix/prometheus/metrics';

function sftpCall(s: SshSession, start: (cb: (err?: Error | null) => void) => void) {
  return s.watch(
    new Promise<void>((resolve, reject) => start((err) => (err ? reject(err) : resolve()))),
  );
}

interface CurlAnswer {
  /** 0 = no HTTP answer (curl's message is in `error`). */
  status: number;
  headers: Record<string, string>;
  body: string;
  error: string;
}

describe('stand-in images from the vendor bundles, run by hand on a lab host', () => {
  let lab: LoadedInventory;
  let s: SshSession;
  const tag = randomBytes(4).toString('hex');
  const scratch = `/root/images-test-${tag}`;
  const network = `images-test-${tag}`;
  const password = randomBytes(12).toString('base64url');
  const tokenSecret = randomBytes(24).toString('hex');
  /** Image reference -> its ID before this test loaded anything (undefined: absent). */
  const imagesBefore = new Map<string, string | undefined>();
  let token = '';
  let upstream = '';

  /** curl on ha4 itself, to a port published on the host; argv only, body via stdin. */
  async function curl(
    url: string,
    opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<CurlAnswer> {
    const argv = ['curl', '-sS', '-m', '5', '-i', '-X', opts.method ?? 'GET'];
    for (const [k, v] of Object.entries(opts.headers ?? {})) argv.push('-H', `${k}: ${v}`);
    if (opts.body !== undefined)
      argv.push('-H', 'Content-Type: application/json', '--data-binary', '@-');
    argv.push('-w', '\n%{http_code}', url);
    const r = await s.execRaw(
      argv,
      opts.body === undefined ? {} : { stdin: JSON.stringify(opts.body) },
    );
    const cut = r.stdout.lastIndexOf('\n');
    const status = Number(r.stdout.slice(cut + 1)) || 0;
    const raw = r.stdout.slice(0, Math.max(cut, 0));
    const split = raw.indexOf('\r\n\r\n');
    const head = split >= 0 ? raw.slice(0, split) : '';
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return { status, headers, body: split >= 0 ? raw.slice(split + 4) : raw, error: r.stderr };
  }

  const local = (p: number, pathAndQuery: string) => `http://127.0.0.1:${p}${pathAndQuery}`;

  async function imageId(ref: string): Promise<string | undefined> {
    const r = await s.execRaw(['docker', 'image', 'inspect', '--format', '{{.Id}}', ref]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  async function logsOf(name: string): Promise<string> {
    const r = await s.execRaw(['docker', 'logs', name]);
    return r.stdout + r.stderr;
  }

  async function state(
    name: string,
  ): Promise<{ running: boolean; exitCode: number; ranMs: number }> {
    const out = await s.exec([
      'docker',
      'inspect',
      '--format',
      '{{.State.Running}} {{.State.ExitCode}} {{.State.StartedAt}} {{.State.FinishedAt}}',
      name,
    ]);
    const [running, code, started = '', finished = ''] = out.trim().split(' ');
    return {
      running: running === 'true',
      exitCode: Number(code),
      ranMs: Date.parse(finished) - Date.parse(started),
    };
  }

  async function metric(name: string): Promise<number | undefined> {
    const r = await curl(local(PORTS.metrics, METRICS_PATH));
    if (r.status !== 200) return undefined;
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(r.body);
    return m ? Number(m[1]) : undefined;
  }

  function proxyThroughGateway(): Promise<CurlAnswer> {
    const t = lab.inventory.smokeTest;
    return curl(local(PORTS.http, t.uri), { headers: { Host: t.host } });
  }

  async function removeContainers(): Promise<void> {
    const present = (await s.exec(['docker', 'ps', '-a', '--format', '{{.Names}}']))
      .split('\n')
      .filter((n) => ALL_CONTAINERS.includes(n));
    if (present.length) await s.exec(['docker', 'rm', '-f', '-v', ...present]);
  }

  before(async () => {
    lab = await sharedLab();
    upstream = lab.inventory.smokeTest.upstream[0]!;
    s = await sshTo(lab, HOST);
    // Leftovers of an interrupted run of this file (only our own names).
    await removeContainers();
    const networks = (await s.exec(['docker', 'network', 'ls', '--format', '{{.Name}}']))
      .split('\n')
      .filter((n) => /^images-test-[0-9a-f]{8}$/.test(n));
    if (networks.length) await s.exec(['docker', 'network', 'rm', ...networks]);
    await s.exec([
      'find',
      '/root',
      '-maxdepth',
      '1',
      '-name',
      'images-test-*',
      '-exec',
      'rm',
      '-rf',
      '{}',
      '+',
    ]);
    for (const ref of [
      lab.inventory.etcd.image,
      lab.inventory.dashboard.image,
      lab.inventory.gateway.image,
    ])
      imagesBefore.set(ref, await imageId(ref));
  });

  after(async () => {
    if (!s) return;
    try {
      await removeContainers();
      await s.execRaw(['docker', 'network', 'rm', network]);
      for (const [ref, before] of imagesBefore) {
        const now = await imageId(ref);
        if (now === undefined || now === before) continue;
        if (before === undefined) {
          // Only the tag we added; fails harmlessly if something else started using it.
          await s.execRaw(['docker', 'rmi', ref]);
        } else {
          // The tag pointed at another build before: point it back, drop ours.
          await s.execRaw(['docker', 'tag', before, ref]);
          await s.execRaw(['docker', 'rmi', now]);
        }
      }
      await s.execRaw(['rm', '-rf', '--', scratch]);
    } finally {
      s.close();
    }
  });

  it('loads the dashboard and gateway images from the vendor bundles, etcd from its tarball', async () => {
    const inv = lab.inventory;
    const bundles = [
      { name: 'cp', file: path.resolve(lab.baseDir, inv.dashboard.bundle.path) },
      { name: 'dp', file: path.resolve(lab.baseDir, inv.gateway.bundle.path) },
    ];
    const etcdTarball = inv.etcd.imageTarball;
    assert.ok(etcdTarball, 'the lab inventory names the etcd image tarball');
    for (const b of bundles) await s.exec(['mkdir', '-p', `${scratch}/${b.name}`]);

    const sftp: SFTPWrapper = await s.sftp();
    try {
      await Promise.all([
        ...bundles.map((b) =>
          sftpCall(s, (cb) => sftp.fastPut(b.file, `${scratch}/${b.name}.tar.gz`, cb)),
        ),
        sftpCall(s, (cb) =>
          sftp.fastPut(path.resolve(lab.baseDir, etcdTarball.path), `${scratch}/etcd.tar.gz`, cb),
        ),
      ]);
    } finally {
      sftp.end();
    }
    for (const b of bundles) {
      const sum = (await s.exec(['sha256sum', `${scratch}/${b.name}.tar.gz`])).split(' ')[0];
      const expected = b.name === 'cp' ? inv.dashboard.bundle.sha256 : inv.gateway.bundle.sha256;
      assert.equal(sum, expected, `${b.name} bundle arrived intact`);
      await s.exec(['tar', '-xzf', `${scratch}/${b.name}.tar.gz`, '-C', `${scratch}/${b.name}`]);
    }

    // The image tarballs come from inside the unpacked bundles, nowhere else.
    const found = (await s.exec(['find', scratch, '-path', '*/images/*.tar.gz', '-type', 'f']))
      .split('\n')
      .filter(Boolean)
      .sort();
    assert.equal(found.length, 2, `one image per bundle: ${found.join(', ')}`);
    assert.ok(
      found.every((f) => /^\/root\/images-test-[0-9a-f]+\/(cp|dp)\/[^/]+\/images\//.test(f)),
    );

    const loaded = await Promise.all(
      [...found, `${scratch}/etcd.tar.gz`].map((f) => s.exec(['docker', 'load', '-i', f])),
    );
    const [cpOut = '', dpOut = '', etcdOut = ''] = loaded;
    assert.match(
      cpOut,
      new RegExp(`Loaded image: ${inv.dashboard.image.replace(/\./g, '\\.')}\\b`),
    );
    assert.match(dpOut, new RegExp(`Loaded image: ${inv.gateway.image.replace(/\./g, '\\.')}\\b`));
    assert.match(etcdOut, new RegExp(`Loaded image: ${inv.etcd.image.replace(/\./g, '\\.')}\\b`));

    const images = (await s.exec(['docker', 'images', '--format', '{{.Repository}}:{{.Tag}}']))
      .split('\n')
      .filter(Boolean);
    for (const ref of [inv.dashboard.image, inv.gateway.image, inv.etcd.image])
      assert.ok(images.includes(ref), `docker images lists ${ref}: ${images.join(', ')}`);
  });

  it('etcd, the dashboard and the gateway started with docker run answer on their ports', async () => {
    const inv = lab.inventory;
    await s.exec(['docker', 'network', 'create', network]);
    await s.exec([
      'docker',
      'run',
      '-d',
      '--name',
      NAMES.etcd,
      '--network',
      network,
      '-p',
      `${PORTS.etcd}:2379`,
      '-e',
      `ETCD_NAME=${NAMES.etcd}`,
      '-e',
      'ETCD_DATA_DIR=/tmp/etcd-data',
      '-e',
      'ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379',
      '-e',
      `ETCD_ADVERTISE_CLIENT_URLS=http://${NAMES.etcd}:2379`,
      '-e',
      'ETCD_LISTEN_PEER_URLS=http://127.0.0.1:2380',
      '-e',
      'ETCD_INITIAL_ADVERTISE_PEER_URLS=http://127.0.0.1:2380',
      '-e',
      `ETCD_INITIAL_CLUSTER=${NAMES.etcd}=http://127.0.0.1:2380`,
      '-e',
      'ETCD_INITIAL_CLUSTER_TOKEN=images-test',
      '-e',
      'ETCD_INITIAL_CLUSTER_STATE=new',
      inv.etcd.image,
    ]);
    const version = await waitFor('etcd to answer /version on the published port', async () => {
      const r = await curl(local(PORTS.etcd, '/version'));
      return r.status === 200 && (JSON.parse(r.body) as { etcdcluster?: string });
    });
    assert.match(version.etcdcluster ?? '', /^3\.4\./);

    // The config files, written where the stand-ins read them (mounted read-only).
    const sftp = await s.sftp();
    const dashboardConf = [
      'conf:',
      '  listen:',
      '    host: 0.0.0.0',
      '    port: 9000',
      '  etcd:',
      '    endpoints:',
      `      - ${NAMES.etcd}:2379`,
      '    prefix: /api7',
      'authentication:',
      `  secret: ${tokenSecret}`,
      '  expire_time: 3600',
      '  users:',
      '    - username: admin',
      `      password: "${password}"`,
      '',
    ].join('\n');
    const gatewayConf = [
      'apisix:',
      '  node_listen: 80',
      '  ssl:',
      '    enable: true',
      '    listen:',
      '      - port: 443',
      'etcd:',
      '  host:',
      `    - "${NAMES.etcd}:2379"`,
      `  prefix: "/api7/${CLUSTER_ID}"`,
      '  timeout: 30',
      'plugin_attr:',
      '  prometheus:',
      '    export_addr:',
      '      ip: 0.0.0.0',
      '      port: 9091',
      '',
    ].join('\n');
    try {
      await sftpCall(s, (cb) => sftp.writeFile(`${scratch}/conf.yaml`, dashboardConf, cb));
      await sftpCall(s, (cb) => sftp.writeFile(`${scratch}/config.yaml`, gatewayConf, cb));
    } finally {
      sftp.end();
    }
    await s.exec(['mkdir', '-p', `${scratch}/gateway_logs`]);

    await s.exec([
      'docker',
      'run',
      '-d',
      '--name',
      NAMES.dashboard,
      '--network',
      network,
      '-p',
      `${PORTS.dashboard}:9000`,
      '-v',
      `${scratch}/conf.yaml:${DASHBOARD_CONF_IN_IMAGE}:ro`,
      inv.dashboard.image,
    ]);
    await s.exec([
      'docker',
      'run',
      '-d',
      '--name',
      NAMES.gateway,
      '--network',
      network,
      '-p',
      `${PORTS.http}:80`,
      '-p',
      `${PORTS.metrics}:9091`,
      '-v',
      `${scratch}/config.yaml:${GATEWAY_CONF_IN_IMAGE}:ro`,
      '-v',
      `${scratch}/gateway_logs:${GATEWAY_LOGS_IN_IMAGE}`,
      inv.gateway.image,
    ]);

    await waitFor('the dashboard start-up banner in docker logs', async () =>
      (await logsOf(NAMES.dashboard)).includes('The manager-api is running successfully!'),
    );
    const ping = await waitFor('GET /ping on the dashboard', async () => {
      const r = await curl(local(PORTS.dashboard, '/ping'));
      return r.status === 200 && r;
    });
    assert.equal(ping.body, 'pong');

    const bad = await curl(local(PORTS.dashboard, '/apisix/admin/user/login'), {
      method: 'POST',
      body: { username: 'admin', password: 'admin' },
    });
    assert.equal(bad.status, 401, "the bundle's default password is not accepted");
    const login = await curl(local(PORTS.dashboard, '/apisix/admin/user/login'), {
      method: 'POST',
      body: { username: 'admin', password },
    });
    assert.equal(login.status, 200, login.body);
    const loginData = JSON.parse(login.body) as { code: number; data: { token: string } };
    assert.equal(loginData.code, 0);
    token = loginData.data.token;
    assert.ok(token.length > 20, 'login returns a token');

    await waitFor('the gateway metrics port', async () => (await metric('apisix_node_info')) === 1);
    const notYet = await proxyThroughGateway();
    assert.equal(notYet.status, 404, 'no route yet');
    assert.match(notYet.body, /404 Route Not Found/);
    assert.match(notYet.headers.server ?? '', /^APISIX\//);
  });

  it('a route created through the dashboard is proxied by the gateway to the echo upstream', async () => {
    const t = lab.inventory.smokeTest;
    // The dashboard only takes routes for a gateway cluster it knows, and makes up the ids
    // of the clusters it creates. Give the fixed id a cluster record, as the dashboard
    // stores one, with the etcdctl inside the etcd image.
    const record = JSON.stringify({
      id: CLUSTER_ID,
      name: 'images-test',
      create_time: Math.floor(Date.now() / 1000),
      update_time: Math.floor(Date.now() / 1000),
    });
    await s.exec([
      'docker',
      'exec',
      NAMES.etcd,
      'etcdctl',
      'put',
      `/api7/clusters/${CLUSTER_ID}`,
      record,
    ]);
    const auth = { Authorization: token };
    const cluster = await curl(local(PORTS.dashboard, `/apisix/admin/clusters/${CLUSTER_ID}`), {
      headers: auth,
    });
    assert.equal(cluster.status, 200, cluster.body);

    const put = await curl(
      local(PORTS.dashboard, `/apisix/admin/routes/${ROUTE_ID}?cluster_id=${CLUSTER_ID}`),
      {
        method: 'PUT',
        headers: auth,
        body: {
          uri: t.uri,
          host: t.host,
          upstream: { type: 'roundrobin', nodes: { [upstream]: 1 } },
        },
      },
    );
    assert.equal(put.status, 200, put.body);
    assert.equal((JSON.parse(put.body) as { data: { id: string } }).data.id, ROUTE_ID);

    // The gateway picks the route up from its etcd watch.
    const answer = await waitFor('the gateway to proxy the new route', async () => {
      const r = await proxyThroughGateway();
      return r.status === 200 && r;
    });
    assert.equal(answer.headers['x-echo-server'], 'lab-upstream');
    const echoed = JSON.parse(answer.body) as { url: string; headers: Record<string, string> };
    assert.equal(echoed.url, `http://${t.host}${t.uri}`);
    assert.equal(echoed.headers.Host, t.host);

    assert.equal(await metric('apisix_etcd_reachable'), 1);
    const status = await curl(local(PORTS.metrics, METRICS_PATH));
    assert.match(status.body, new RegExp(`apisix_http_status\\{code="200",route="${ROUTE_ID}"`));
  });

  it('with etcd stopped, the gateway serves its cached route and reports etcd unreachable', async (t) => {
    const t0 = Date.now();
    await s.exec(['docker', 'stop', NAMES.etcd]);
    t.diagnostic(`docker stop ${NAMES.etcd}: ${Date.now() - t0} ms`);
    await waitFor(
      'apisix_etcd_reachable 0',
      async () => (await metric('apisix_etcd_reachable')) === 0,
    );
    t.diagnostic(`apisix_etcd_reachable 0 after ${Date.now() - t0} ms`);
    for (let i = 0; i < 3; i++) {
      const r = await proxyThroughGateway();
      assert.equal(r.status, 200, `request ${i + 1} with etcd down: ${r.body}${r.error}`);
      assert.equal(r.headers['x-echo-server'], 'lab-upstream');
    }
    await waitFor('the gateway to log that it lost etcd', async () =>
      /etcd sync lost: .*; serving 1 cached routes/.test(await logsOf(NAMES.gateway)),
    );
    // The running dashboard still answers its health check; its etcd-backed API does not.
    assert.equal((await curl(local(PORTS.dashboard, '/ping'))).body, 'pong');
    const routes = await curl(
      local(PORTS.dashboard, `/apisix/admin/routes?cluster_id=${CLUSTER_ID}`),
      { headers: { Authorization: token } },
    );
    assert.equal(routes.status, 500, routes.body);
  });

  it('a dashboard or gateway started while etcd is down exits non-zero', async (t) => {
    const inv = lab.inventory;
    await s.exec([
      'docker',
      'run',
      '-d',
      '--name',
      NAMES.dashboard2,
      '--network',
      network,
      '-v',
      `${scratch}/conf.yaml:${DASHBOARD_CONF_IN_IMAGE}:ro`,
      inv.dashboard.image,
    ]);
    await s.exec([
      'docker',
      'run',
      '-d',
      '--name',
      NAMES.gateway2,
      '--network',
      network,
      '-v',
      `${scratch}/config.yaml:${GATEWAY_CONF_IN_IMAGE}:ro`,
      inv.gateway.image,
    ]);
    // Both log their refusal within seconds, but with the etcd container gone its name is
    // looked up upstream by Docker's DNS, which the lab cannot reach: Node's exit then waits
    // for the pending getaddrinfo (about 13 s here), hence the generous wait.
    for (const [name, message] of [
      [NAMES.dashboard2, /init etcd client fail: cannot reach etcd/],
      [NAMES.gateway2, /all etcd nodes are unavailable/],
    ] as const) {
      const st = await waitFor(
        `${name} to exit`,
        async () => {
          const x = await state(name);
          return !x.running && x;
        },
        30_000,
      );
      assert.notEqual(st.exitCode, 0, `${name} exit code`);
      t.diagnostic(`${name} exited ${st.exitCode} after ${st.ranMs} ms`);
      assert.match(await logsOf(name), message);
    }
    // And the first gateway still serves while the refused ones are gone.
    assert.equal((await proxyThroughGateway()).status, 200);
  });
});
