// The pure command builders and config renderers, compared as strings without any SSH.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { quote } from 'shell-quote';
import { parseInventoryText } from '../../src/config/load';
import { etcdRunArgv, etcdConfigHash, parseInspect } from '../../src/commands/etcd';
import {
  renderDashboardConf,
  renderGatewayConfig,
  REDACTED,
} from '../../src/commands/config-files';
import {
  composeArgv,
  parseServiceContainers,
  serviceContainersArgv,
} from '../../src/commands/compose';
import { composeProject, portsFor } from '../../src/commands/layout';
import { bundleTopDir } from '../../src/model/components';
import {
  availableKiB,
  dockerProblem,
  kernelProblem,
  listeningPorts,
} from '../../src/commands/preflight';
import { deployPlan, renderPlan } from '../../src/commands/plan';
import { checkHostKey, fingerprintOf, knownHostFingerprints } from '../../src/ssh/host-keys';
import { mapBounded } from '../../src/workflows/bounded';
import { faultArgv, restoreArgv } from '../../src/commands/drills';
import { projectRoot } from '../../src/paths';
import { imageIdsByTag } from '../../src/commands/files';

const inv = parseInventoryText(
  readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8'),
);

describe('etcd docker run', () => {
  it("is the guide's command with the inventory's values, plus our labels", () => {
    const ip = (n: number) => `10.0.0.1${n}`;
    const guide =
      `docker run --restart always --name etcd -u root -v /usr/local/etcd/etcd_data:/etcd_data -e ALLOW_NONE_AUTHENTICATION=yes ` +
      `-e ETCD_NAME=api7-etcd-1 -e ETCD_LISTEN_PEER_URLS=http://0.0.0.0:2380 -e ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379 ` +
      `-e ETCD_ADVERTISE_CLIENT_URLS=http://${ip(1)}:2379 -e ETCD_INITIAL_ADVERTISE_PEER_URLS=http://${ip(1)}:2380 ` +
      `-e ETCD_INITIAL_CLUSTER_TOKEN=etcd-cluster -e ETCD_INITIAL_CLUSTER=api7-etcd-1=http://${ip(1)}:2380,api7-etcd-2=http://${ip(2)}:2380,api7-etcd-3=http://${ip(3)}:2380 ` +
      `-e ETCD_DATA_DIR=/etcd_data -e ETCD_ENABLE_V2=true`;
    const argv = etcdRunArgv(inv, 'ha1').join(' ');
    assert.ok(argv.startsWith(guide), argv);
    assert.ok(
      argv.endsWith(
        `--label api7-ha.config=${etcdConfigHash(inv, 'ha1')} --label api7-ha.cluster=prod-gw --network=host -d bitnami/etcd:3.4.13`,
      ),
      argv,
    );
  });

  it('gives each member its own settings hash, stable across calls', () => {
    assert.equal(etcdConfigHash(inv, 'ha2'), etcdConfigHash(inv, 'ha2'));
    assert.notEqual(etcdConfigHash(inv, 'ha1'), etcdConfigHash(inv, 'ha2'));
    assert.throws(() => etcdRunArgv(inv, 'ha4'), /ha4 has no etcd role/);
  });

  it('reads docker inspect output, including a container without our label', () => {
    assert.deepEqual(parseInspect('abc|true|1234|2026-01-01T00:00:00Z\n'), {
      id: 'abc',
      running: true,
      configHash: '1234',
      startedAt: '2026-01-01T00:00:00Z',
    });
    assert.equal(parseInspect('abc|false|<no value>|2026').configHash, '');
  });
});

describe('config files', () => {
  const vendorGateway =
    '# vendor\napisix:\n  node_listen: 80\netcd:\n  host:\n    - "127.0.0.1:2379"\n  prefix: "/api7/${cluster_id}"\nplugin_attr:\n  prometheus:\n    export_addr: { ip: 127.0.0.1, port: 9091 }\n';
  it('gateway config.yaml: sets etcd hosts and prefix, keeps the vendor keys, converges', () => {
    const once = renderGatewayConfig(inv, '123456789012345678', {}, vendorGateway);
    const doc = parse(once);
    assert.deepEqual(doc.etcd.host, ['10.0.0.11:2379', '10.0.0.12:2379', '10.0.0.13:2379']);
    assert.equal(doc.etcd.prefix, '/api7/123456789012345678');
    assert.equal(doc.apisix.node_listen, 80);
    assert.equal(
      doc.plugin_attr.prometheus.export_addr.ip,
      '127.0.0.1',
      'vendor defaults are not ours to change',
    );
    assert.equal(
      renderGatewayConfig(inv, '123456789012345678', {}, once),
      once,
      'a second render changes nothing',
    );
  });

  it('dashboard conf.yaml: etcd endpoints, login user and shared token secret; keeps allow_list', () => {
    const vendor =
      'conf:\n  listen: { host: 0.0.0.0, port: 9000 }\n  allow_list: [127.0.0.1]\n  etcd: { endpoints: ["127.0.0.1:2379"], prefix: /api7 }\nauthentication:\n  secret: secret\n  users: [{ username: admin, password: admin }]\n';
    const once = renderDashboardConf(
      inv,
      { dashboardPassword: 'pw-1', tokenSecret: 'tok-1' },
      vendor,
    );
    const doc = parse(once);
    assert.deepEqual(doc.conf.etcd.endpoints, [
      '10.0.0.11:2379',
      '10.0.0.12:2379',
      '10.0.0.13:2379',
    ]);
    assert.equal(doc.conf.etcd.enable_auth, false);
    assert.deepEqual(doc.conf.allow_list, ['127.0.0.1']);
    assert.deepEqual(doc.authentication.users, [{ username: 'admin', password: 'pw-1' }]);
    assert.equal(doc.authentication.secret, 'tok-1');
    assert.equal(
      renderDashboardConf(inv, { dashboardPassword: 'pw-1', tokenSecret: 'tok-1' }, once),
      once,
    );
    assert.ok(
      parse(renderDashboardConf(inv, { dashboardPassword: 'x', tokenSecret: 'y' }, 'not: [valid'))
        .conf.etcd,
      'a broken file is replaced',
    );
  });
});

describe('layout and compose', () => {
  it("names the compose project like compose v2 does for the guide's directory", () => {
    assert.equal(composeProject('/root/api7-2.13.2209.1-cp'), 'api7-21322091-cp');
    assert.equal(bundleTopDir(inv.gateway.bundle), 'api7-2.13.2209.1-dp');
  });
  it('builds compose commands for the plugin and the standalone tool, project always explicit', () => {
    assert.deepEqual(composeArgv('standalone', '/r/d', 'p', ['up', '-d']), [
      'docker-compose',
      '--project-directory',
      '/r/d',
      '-f',
      '/r/d/docker-compose.yaml',
      '-p',
      'p',
      'up',
      '-d',
    ]);
    assert.deepEqual(composeArgv('plugin', '/r/d', 'p', ['down']).slice(0, 2), [
      'docker',
      'compose',
    ]);
  });
  it('knows which ports each role needs', () => {
    assert.deepEqual(
      portsFor(inv, inv.hosts[0]!).map((p) => p.port),
      [2379, 2380, 9000],
    );
    assert.deepEqual(
      portsFor(inv, inv.hosts[3]!).map((p) => p.port),
      [80, 443, 9091],
    );
  });
});

describe('preflight judgements', () => {
  it('refuses the kernels the guide calls incompatible', () => {
    assert.match(kernelProblem('3.10.0-327.el7.x86_64') ?? '', /known not to work/);
    assert.match(kernelProblem('2.6.32-754.el6') ?? '', /known not to work/);
    assert.equal(kernelProblem('3.10.0-1160.76.1.el7.x86_64'), undefined);
    assert.equal(kernelProblem('6.1.0-18-amd64'), undefined);
  });
  it('wants Docker 20.10.7 or newer', () => {
    assert.match(dockerProblem('20.10.6') ?? '', /older than 20\.10\.7/);
    assert.equal(dockerProblem('20.10.24+dfsg1'), undefined);
    assert.equal(dockerProblem('28.2.2'), undefined);
  });
  it('reads ss and df output', () => {
    const ss =
      'LISTEN 0 4096 10.0.0.1:2379 0.0.0.0:*\nLISTEN 0 128 [::]:22 [::]:*\nLISTEN 0 511 *:80 *:*\n';
    assert.deepEqual(
      [...listeningPorts(ss)].sort((a, b) => a - b),
      [22, 80, 2379],
    );
    assert.equal(
      availableKiB(
        'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 264212084 14224228 81277036 15% /\n',
      ),
      81277036,
    );
  });
});

describe('host keys', () => {
  const blob = randomBytes(51);
  const b64 = blob.toString('base64');
  const fp = fingerprintOf(blob);
  it('computes OpenSSH fingerprints', () => {
    assert.equal(
      fp,
      `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
    );
  });
  it('finds keys in known_hosts: plain, with a port, and hashed', () => {
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('10.0.0.9').digest('base64')}`;
    const text = `# comment\n10.0.0.1,ha1 ssh-ed25519 ${b64}\n[10.0.0.2]:2222 ssh-ed25519 ${b64}\n${hashed} ssh-ed25519 ${b64}\n@revoked 10.0.0.3 ssh-ed25519 ${b64}\n`;
    assert.deepEqual(knownHostFingerprints(text, '10.0.0.1', 22), [fp]);
    assert.deepEqual(knownHostFingerprints(text, '10.0.0.2', 2222), [fp]);
    assert.deepEqual(knownHostFingerprints(text, '10.0.0.2', 22), []);
    assert.deepEqual(knownHostFingerprints(text, '10.0.0.9', 22), [fp]);
    assert.deepEqual(
      knownHostFingerprints(text, '10.0.0.3', 22),
      [],
      'revoked lines never vouch for a key',
    );
  });
  it('lets a pinned fingerprint win over known_hosts, and refuses unknown keys', () => {
    assert.deepEqual(checkHostKey(fp, undefined, [fp]), { ok: true });
    assert.deepEqual(checkHostKey(fp, 'SHA256:other', [fp]), {
      ok: false,
      reason: 'changed',
      expected: ['SHA256:other'],
    });
    assert.deepEqual(checkHostKey(fp, undefined, []), {
      ok: false,
      reason: 'unknown',
      expected: [],
    });
  });
});

describe('plan', () => {
  it('lists every host with quoted commands and no secret values', () => {
    const text = renderPlan(deployPlan(inv, '/inv'));
    for (const h of inv.hosts) assert.match(text, new RegExp(`^== ${h.name}$`, 'm'));
    assert.ok(
      text.includes(quote(etcdRunArgv(inv, 'ha3'))),
      'the etcd command is the one the activity runs',
    );
    assert.ok(text.includes(REDACTED));
    assert.match(
      text,
      /upload \/inv\/artifacts\/api7-2\.13\.2209\.1-dp\.tar\.gz -> \/opt\/api7-ha\/artifacts\/api7-2\.13\.2209\.1-dp\.tar\.gz/,
    );
  });
});

describe('bounded parallelism', () => {
  it('never runs more than the limit at once and keeps result order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapBounded([5, 1, 4, 2, 3, 0], 2, async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, n * 3));
      running--;
      return n * 10;
    });
    assert.equal(peak, 2);
    assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
  });
});

describe('drill commands', () => {
  it("are the guide's: compose down in the bundle directory, docker stop etcd, and their reverse", () => {
    assert.equal(
      faultArgv(inv, 'plugin', 'data-plane').join(' '),
      'docker compose --project-directory /root/api7-2.13.2209.1-dp -f /root/api7-2.13.2209.1-dp/docker-compose.yaml -p api7-21322091-dp down',
    );
    assert.deepEqual(restoreArgv(inv, 'standalone', 'control-plane').slice(-3), [
      'up',
      '-d',
      'api7-dashboard',
    ]);
    assert.deepEqual(faultArgv(inv, 'plugin', 'etcd'), ['docker', 'stop', 'etcd']);
    assert.deepEqual(restoreArgv(inv, 'plugin', 'etcd'), ['docker', 'start', 'etcd']);
  });
});

describe('upgrades and rolling restarts', () => {
  it("lists a service's containers with their compose projects (ours and older bundles')", () => {
    const out = 'aaa api7-21322091-dp\nbbb api7-21322099-dp\n\n';
    assert.deepEqual(parseServiceContainers(out), [
      { id: 'aaa', project: 'api7-21322091-dp' },
      { id: 'bbb', project: 'api7-21322099-dp' },
    ]);
    assert.deepEqual(parseServiceContainers(''), []);
    assert.deepEqual(serviceContainersArgv('api7-gateway').slice(0, 5), [
      'docker',
      'ps',
      '-a',
      '--filter',
      'label=com.docker.compose.service=api7-gateway',
    ]);
  });

  it('pauses 5 s after a restart by default; the pause is bounded', () => {
    assert.equal(inv.deploy.restartPauseSeconds, 5);
    assert.throws(
      () =>
        parseInventoryText(
          readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8').replace(
            'restartPauseSeconds: 5',
            'restartPauseSeconds: 301',
          ),
        ),
      /deploy\.restartPauseSeconds: must be between 0 and 300/,
    );
  });
});

describe('image ids from docker save manifests', () => {
  it('maps each tag to its config digest, classic and OCI layouts alike', () => {
    const hex = (c: string) => c.repeat(64);
    const text = [
      JSON.stringify([{ Config: `${hex('a')}.json`, RepoTags: ['gw:1', 'gw:latest'] }]),
      '',
      JSON.stringify([{ Config: `blobs/sha256/${hex('b')}`, RepoTags: ['dash:2'] }]),
      'not json',
      JSON.stringify([{ Config: `${hex('c')}.json` }]),
    ].join('\n');
    const ids = imageIdsByTag(text);
    assert.equal(ids.get('gw:1'), `sha256:${hex('a')}`);
    assert.equal(ids.get('gw:latest'), `sha256:${hex('a')}`);
    assert.equal(ids.get('dash:2'), `sha256:${hex('b')}`);
    assert.equal(ids.size, 3, 'an image without tags names nothing');
  });
});
