// Builds the lab artifacts into a temp dir and checks them with real tools:
// tar, sha256sum, docker-compose, bash, and docker in a fresh private engine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  ARTIFACT_NAMES,
  DASHBOARD_IMAGE,
  ETCD_IMAGE,
  GATEWAY_IMAGE,
  buildLabArtifacts,
  withPrivateEngine,
  type LabArtifacts,
} from '../../lab/artifacts';

const execFileP = promisify(execFile);

async function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await execFileP(cmd, args, { env: env ?? process.env, maxBuffer: 64 << 20 });
  return stdout;
}

// Stand-ins report where and how they were started, then exit.
const PLACEHOLDER = (role: string): string =>
  `console.log(JSON.stringify({ role: '${role}', cwd: process.cwd(), version: process.env.API7_VERSION,` +
  ` script: process.argv[1], user: require('os').userInfo().username }));\n`;

function processesNaming(marker: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(marker)) found.push(`${entry}: ${cmd}`);
    } catch {
      /* exited */
    }
  }
  return found;
}

async function hostNetworkState(): Promise<{
  links: string[];
  iptables: string;
  ipForward: string;
}> {
  const links = (await run('ip', ['-o', 'link', 'show']))
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter(Boolean);
  const iptables = (await run('iptables', ['-S'])) + (await run('iptables', ['-t', 'nat', '-S']));
  const ipForward = (await fsp.readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim();
  return { links, iptables, ipForward };
}

const skip = process.getuid?.() !== 0 ? 'needs root (starts a Docker engine)' : false;

describe('lab artifacts', { skip }, () => {
  let tmp = '';
  let standinsDir = '';
  let outDir = '';
  let cacheDir = '';
  let unpacked = '';
  let artifacts: LabArtifacts;
  const logs: string[] = [];
  const log = (m: string): void => void logs.push(m);

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'api7-artifacts-'));
    standinsDir = path.join(tmp, 'standins');
    outDir = path.join(tmp, 'out');
    cacheDir = path.join(tmp, 'cache');
    unpacked = path.join(tmp, 'unpacked');
    await fsp.mkdir(standinsDir);
    await fsp.mkdir(unpacked);
    for (const role of ['dashboard', 'gateway', 'echo']) {
      await fsp.writeFile(path.join(standinsDir, `${role}.js`), PLACEHOLDER(role));
    }
  });

  after(async () => {
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('builds cold in a private engine that leaves no trace on the host', async () => {
    const net = await hostNetworkState();
    const hadKey = fs.existsSync('/etc/docker/key.json');
    const hadRunDocker = fs.existsSync('/run/docker');

    artifacts = await buildLabArtifacts({ outDir, cacheDir, standinsDir, log });

    assert.equal(artifacts.built, true);
    for (const f of [
      artifacts.etcdImage,
      artifacts.controlPlaneBundle,
      artifacts.dataPlaneBundle,
    ]) {
      assert.ok(path.isAbsolute(f.path), f.path);
      assert.ok(fs.statSync(f.path).size > 1_000_000, `${f.path} is too small`);
    }
    assert.equal(artifacts.etcdImage.reference, ETCD_IMAGE);
    assert.equal(artifacts.controlPlaneBundle.image, DASHBOARD_IMAGE);
    assert.equal(artifacts.dataPlaneBundle.image, GATEWAY_IMAGE);

    assert.deepEqual(processesNaming(cacheDir), [], 'engine processes left running');
    const after = await hostNetworkState();
    assert.deepEqual(
      after.links.filter((l) => !net.links.includes(l) && /^(docker|br-|veth)/.test(l)),
      [],
      'engine created interfaces in the root namespace',
    );
    assert.ok(
      !/DOCKER/.test(after.iptables) || /DOCKER/.test(net.iptables),
      'engine added iptables rules',
    );
    assert.equal(after.ipForward, net.ipForward, 'engine changed ip_forward');
    assert.equal(
      fs.existsSync('/etc/docker/key.json'),
      hadKey,
      'engine wrote /etc/docker/key.json',
    );
    assert.equal(fs.existsSync('/run/docker'), hadRunDocker, 'engine created /run/docker');
  });

  it('packs both bundles in the vendor layout', async () => {
    const entries = async (file: string): Promise<string[]> =>
      (await run('tar', ['-tzf', file])).split('\n').filter(Boolean).sort();
    const cp = ARTIFACT_NAMES.cpTopDir;
    const dp = ARTIFACT_NAMES.dpTopDir;
    assert.deepEqual(await entries(artifacts.controlPlaneBundle.path), [
      `${cp}/`,
      `${cp}/dashboard_conf/`,
      `${cp}/dashboard_conf/conf.yaml`,
      `${cp}/docker-compose.yaml`,
      `${cp}/images/`,
      `${cp}/images/api7-dashboard-2.13.2209.1.tar.gz`,
    ]);
    assert.deepEqual(await entries(artifacts.dataPlaneBundle.path), [
      `${dp}/`,
      `${dp}/cli.sh`,
      `${dp}/docker-compose.yaml`,
      `${dp}/gateway_conf/`,
      `${dp}/gateway_conf/config.yaml`,
      `${dp}/gateway_logs/`,
      `${dp}/images/`,
      `${dp}/images/api7-gateway-2.13.2209.2.tar.gz`,
    ]);
    await run('tar', ['-xzf', artifacts.controlPlaneBundle.path, '-C', unpacked]);
    await run('tar', ['-xzf', artifacts.dataPlaneBundle.path, '-C', unpacked]);
    const cli = fs.statSync(path.join(unpacked, dp, 'cli.sh'));
    assert.equal(cli.mode & 0o111, 0o111, 'cli.sh is not executable');
  });

  it('records sha256 values that sha256sum agrees with', async () => {
    const sums = async (files: string[]): Promise<Map<string, string>> => {
      const out = await run('sha256sum', files);
      return new Map(
        out
          .trim()
          .split('\n')
          .map((l) => [l.slice(66), l.slice(0, 64)] as [string, string]),
      );
    };
    const manifest = JSON.parse(await fsp.readFile(artifacts.manifestPath, 'utf8')) as {
      key: string;
      files: Record<string, { sha256: string }>;
      images: Array<{ reference: string; file: string; pathInBundle?: string; sha256: string }>;
    };
    assert.equal(manifest.key, artifacts.key);

    const top = [ARTIFACT_NAMES.etcdImage, ARTIFACT_NAMES.cpBundle, ARTIFACT_NAMES.dpBundle].map(
      (n) => path.join(outDir, n),
    );
    const topSums = await sums(top);
    for (const file of top) {
      assert.equal(manifest.files[path.basename(file)]?.sha256, topSums.get(file), file);
    }
    assert.equal(artifacts.etcdImage.sha256, topSums.get(artifacts.etcdImage.path));
    assert.equal(
      artifacts.controlPlaneBundle.sha256,
      topSums.get(artifacts.controlPlaneBundle.path),
    );
    assert.equal(artifacts.dataPlaneBundle.sha256, topSums.get(artifacts.dataPlaneBundle.path));

    assert.deepEqual(
      manifest.images.map((i) => i.reference).sort(),
      [DASHBOARD_IMAGE, ETCD_IMAGE, GATEWAY_IMAGE].sort(),
    );
    for (const b of [artifacts.controlPlaneBundle, artifacts.dataPlaneBundle]) {
      const inner = path.join(unpacked, b.topDir, b.imageTarball.pathInBundle);
      const sum = (await sums([inner])).get(inner);
      assert.equal(b.imageTarball.sha256, sum, inner);
      assert.equal(manifest.images.find((i) => i.reference === b.image)?.sha256, sum, inner);
    }
  });

  it('ships compose files docker-compose 1.29 reads, and a cli.sh bash parses', async () => {
    const cpDir = path.join(unpacked, ARTIFACT_NAMES.cpTopDir);
    const dpDir = path.join(unpacked, ARTIFACT_NAMES.dpTopDir);
    const compose = (dir: string, ...args: string[]): Promise<string> =>
      run('docker-compose', [
        '--project-directory',
        dir,
        '-f',
        path.join(dir, 'docker-compose.yaml'),
        ...args,
      ]);

    assert.equal((await compose(cpDir, 'config', '--services')).trim(), 'api7-dashboard');
    const cp = await compose(cpDir, 'config');
    assert.match(cp, new RegExp(`image: ${DASHBOARD_IMAGE.replace(/\./g, '\\.')}`));
    assert.match(cp, /published: 9000/);
    // 1.29 prints volumes in short syntax, relative host paths resolved against the bundle.
    assert.ok(
      cp.includes(
        `${cpDir}/dashboard_conf/conf.yaml:/usr/local/apisix-dashboard/conf/conf.yaml:ro`,
      ),
      cp,
    );
    assert.match(cp, /restart: always/);

    assert.equal((await compose(dpDir, 'config', '--services')).trim(), 'api7-gateway');
    const dp = await compose(dpDir, 'config');
    assert.match(dp, new RegExp(`image: ${GATEWAY_IMAGE.replace(/\./g, '\\.')}`));
    for (const port of [80, 443, 9091]) assert.match(dp, new RegExp(`published: ${port}\\b`));
    assert.ok(
      dp.includes(`${dpDir}/gateway_conf/config.yaml:/usr/local/apisix/conf/config.yaml:ro`),
      dp,
    );
    assert.ok(dp.includes(`${dpDir}/gateway_logs:/usr/local/apisix/logs:rw`), dp);

    await run('bash', ['-n', path.join(dpDir, 'cli.sh')]);
    const conf = await fsp.readFile(path.join(cpDir, 'dashboard_conf', 'conf.yaml'), 'utf8');
    assert.match(conf, /endpoints:[^\n]*\n\s+- 127\.0\.0\.1:2379/);
    assert.match(conf, /prefix: \/api7\b/);
    const gw = await fsp.readFile(path.join(dpDir, 'gateway_conf', 'config.yaml'), 'utf8');
    assert.match(gw, /host:[^\n]*\n\s+- "127\.0\.0\.1:2379"/);
    assert.match(gw, /prefix: "\/api7\/\$\{cluster_id\}"/);
  });

  it('gives images that load into a fresh engine with the expected tags and run', async () => {
    const engineDir = path.join(tmp, 'engine');
    await withPrivateEngine(engineDir, async (engine) => {
      const tarballs = [
        [artifacts.etcdImage.path, ETCD_IMAGE],
        [
          path.join(
            unpacked,
            ARTIFACT_NAMES.cpTopDir,
            artifacts.controlPlaneBundle.imageTarball.pathInBundle,
          ),
          DASHBOARD_IMAGE,
        ],
        [
          path.join(
            unpacked,
            ARTIFACT_NAMES.dpTopDir,
            artifacts.dataPlaneBundle.imageTarball.pathInBundle,
          ),
          GATEWAY_IMAGE,
        ],
      ] as const;
      for (const [file, ref] of tarballs) {
        const out = await engine.docker(['load', '-i', file]);
        assert.match(out, new RegExp(`Loaded image: ${ref.replace(/\./g, '\\.')}`));
      }
      const tags = (await engine.docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']))
        .trim()
        .split('\n')
        .sort();
      assert.deepEqual(tags, [DASHBOARD_IMAGE, GATEWAY_IMAGE, ETCD_IMAGE].sort());

      const version = await engine.docker([
        'run',
        '--rm',
        '--network',
        'none',
        ETCD_IMAGE,
        '--version',
      ]);
      assert.match(version, /etcd Version: 3\.4\.\d+/);

      // The guide's etcd command, on a loopback-only network, then its `docker exec` check.
      const data = path.join(tmp, 'etcd_data');
      await fsp.mkdir(data);
      const env = {
        ALLOW_NONE_AUTHENTICATION: 'yes',
        ETCD_NAME: 'api7-etcd-1',
        ETCD_LISTEN_PEER_URLS: 'http://127.0.0.1:2380',
        ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:2379',
        ETCD_ADVERTISE_CLIENT_URLS: 'http://127.0.0.1:2379',
        ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://127.0.0.1:2380',
        ETCD_INITIAL_CLUSTER_TOKEN: 'etcd-cluster',
        ETCD_INITIAL_CLUSTER: 'api7-etcd-1=http://127.0.0.1:2380',
        ETCD_DATA_DIR: '/etcd_data',
        ETCD_ENABLE_V2: 'true',
      };
      await engine.docker([
        'run',
        '--name',
        'etcd',
        '-u',
        'root',
        '-v',
        `${data}:/etcd_data`,
        ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        '--network',
        'none',
        '-d',
        ETCD_IMAGE,
      ]);
      let health = '';
      for (let i = 0; i < 50 && !/is healthy/.test(health); i++) {
        health = await engine
          .docker([
            'exec',
            'etcd',
            'bash',
            '-c',
            'etcdctl --endpoints 127.0.0.1:2379 endpoint health 2>&1',
          ])
          .catch((e: unknown) => String(e));
        if (!/is healthy/.test(health)) await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(health, /127\.0\.0\.1:2379 is healthy/);
      await engine.docker(['rm', '-f', 'etcd']);

      const started = async (ref: string): Promise<Record<string, string>> =>
        JSON.parse(await engine.docker(['run', '--rm', '--network', 'none', ref])) as Record<
          string,
          string
        >;
      assert.deepEqual(await started(DASHBOARD_IMAGE), {
        role: 'dashboard',
        cwd: '/usr/local/apisix-dashboard',
        version: '2.13.2209.1',
        script: '/usr/local/apisix-dashboard/manager-api.js',
        user: 'root',
      });
      assert.deepEqual(await started(GATEWAY_IMAGE), {
        role: 'gateway',
        cwd: '/usr/local/apisix',
        version: '2.13.2209.2',
        script: '/usr/local/apisix/gateway.js',
        user: 'root',
      });
    });
    assert.deepEqual(processesNaming(engineDir), [], 'test engine left processes running');
  });

  it('makes a second build a no-op that touches nothing', async () => {
    const files = [
      ARTIFACT_NAMES.etcdImage,
      ARTIFACT_NAMES.cpBundle,
      ARTIFACT_NAMES.dpBundle,
      ARTIFACT_NAMES.manifest,
    ];
    const mtimes = (): number[] => files.map((f) => fs.statSync(path.join(outDir, f)).mtimeMs);
    const before = mtimes();
    logs.length = 0;

    const again = await buildLabArtifacts({ outDir, cacheDir, standinsDir, log });

    assert.equal(again.built, false);
    assert.equal(again.key, artifacts.key);
    assert.deepEqual({ ...again, built: true }, artifacts);
    assert.deepEqual(mtimes(), before);
    assert.deepEqual(
      logs.filter((l) => /engine/.test(l)),
      [],
      'a warm build started an engine',
    );
    assert.deepEqual(fs.readdirSync(outDir).sort(), [...files].sort());
  });
});
