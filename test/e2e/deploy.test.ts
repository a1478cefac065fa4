// deployHA end to end: real Temporal dev server, the project's worker process, the lab's
// real sshd/Docker/etcd hosts. Asserted with etcdctl, docker (over SSH), curl and the
// temporal CLI.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { parse, stringify } from 'yaml';
import type { DeployInput, StartOptions } from '../../src/activities/context';
import { deployWorkflowId, rootMessage, startDeploy } from '../../src/cli/deploy';
import type { LoadedInventory } from '../../src/config/load';
import { localFile } from '../../src/config/secrets';
import { projectRoot } from '../../src/paths';
import { run, sleep } from '../../src/util/exec';
import type { DeploySummary } from '../../src/workflows/deploy';
import type { DeployProgress } from '../../src/workflows/progress';
import { hostPaths, startSshd, stopSshd } from '../../lab/hosts';
import { LAB_BASTION, labHosts } from '../../lab/layout';
import { labPaths } from '../../lab/lab';
import { containerSnapshot, curlThroughDataPlane, etcdctl, wipeHosts } from '../support/cluster';
import {
  activityKey,
  attemptsByScheduledId,
  completedAt,
  scheduledActivities,
  workflowHistory,
  type ScheduledActivity,
} from '../support/history';
import { labSecrets, sharedLab, sshAsRoot } from '../support/lab';
import { renderSudoers } from '../../src/commands/sudo';
import { restartMarkerPath } from '../../src/commands/files';
import { bundled } from '../../src/model/components';
import { dataConverter, EncryptionCodec, loadCodecKeys } from '../../src/temporal/codec';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(27233);
let lab: LoadedInventory;
let input: DeployInput;
let worker: WorkerProcess;
/** Output of every worker process of this file, checked for secrets at the end. */
const workerLogs: string[] = [];
let connection: Connection;
let client: Client;

async function connect() {
  ({ connection, client } = await testClient(server.address));
}

async function deployAndWait(
  deployInput = input,
): Promise<{ summary: DeploySummary; runId: string }> {
  const handle = await startDeploy(client, deployInput);
  return { summary: await handle.result(), runId: handle.firstExecutionRunId };
}

/** Wait until the running deploy's progress satisfies `when` (polled fast, via the query). */
async function waitForProgress(
  when: (p: DeployProgress) => boolean,
  timeoutMs = 120_000,
): Promise<DeployProgress> {
  const handle = client.workflow.getHandle(deployWorkflowId(lab.inventory.cluster));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const p = await handle.query<DeployProgress>('progress');
      if (when(p)) return p;
      if (p.phase === 'done' || p.phase === 'failed')
        throw new Error(`deploy reached ${p.phase} before the awaited moment`);
    } catch (e) {
      if (e instanceof Error && /before the awaited/.test(e.message)) throw e;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for deploy progress');
    await sleep(100);
  }
}

/** A clean deploy's state: 3 healthy etcd members, one of each container, traffic flows. */
async function assertHealthyCluster(summary: DeploySummary) {
  const health = await etcdctl(lab, 'endpoint', 'health');
  assert.equal(health.code, 0, health.stderr);
  assert.equal(
    (health.stdout + health.stderr).match(/is healthy/g)?.length,
    3,
    'three healthy etcd members',
  );
  const members = await etcdctl(lab, 'member', 'list');
  for (const n of ['api7-etcd-1', 'api7-etcd-2', 'api7-etcd-3'])
    assert.match(members.stdout, new RegExp(`${n},`));

  const containers = await containerSnapshot(lab);
  for (const h of lab.inventory.hosts) {
    const names = (containers[h.name] ?? []).map((c) => c.name);
    const expected: string[] = [];
    if (h.roles.includes('etcd')) expected.push('etcd');
    if (h.roles.includes('control-plane')) expected.push('dashboard');
    if (h.roles.includes('data-plane')) expected.push('gateway');
    assert.equal(
      names.length,
      expected.length,
      `${h.name} runs exactly ${expected.join(', ')}: ${names.join(', ')}`,
    );
    for (const e of expected)
      assert.ok(
        names.some((n) => n.includes(e)),
        `${h.name} runs ${e}`,
      );
    assert.ok(
      (containers[h.name] ?? []).every((c) => c.running),
      `${h.name}: all containers running`,
    );
  }

  const ping = await run(
    ['curl', '-sS', '-m', '5', `${lab.inventory.loadBalancers.controlPlane}/ping`],
    { allowFailure: true },
  );
  assert.equal(
    ping.stdout.trim(),
    'pong',
    'dashboards answer through the control-plane load balancer',
  );
  const route = await etcdctl(
    lab,
    'get',
    `/api7/${summary.clusterId}/routes/${lab.inventory.smokeTest.routeId}`,
    '--print-value-only',
  );
  assert.match(
    route.stdout,
    /"uri":"\/get"/,
    'the test route is stored in etcd under the cluster prefix',
  );
  const curl = await curlThroughDataPlane(lab);
  const [body = '', code] = curl.stdout.split('\n');
  assert.equal(code, '200', curl.stderr);
  assert.equal(
    (JSON.parse(body) as { url: string }).url,
    'http://test.com/get',
    'the upstream answered through the gateways',
  );
}

/** etcd refuses plain HTTP, clients without a certificate, and certified clients without a login. */
async function assertEtcdLockedDown(clusterId: string) {
  const inv = lab.inventory;
  const etcd1 = `${inv.hosts[0]!.address}:${inv.etcd.clientPort}`;
  const key = `/api7/${clusterId}/routes/${inv.smokeTest.routeId}`;
  const plainHttp = await run(
    [
      'etcdctl',
      '--endpoints',
      etcd1,
      '--dial-timeout',
      '2s',
      '--command-timeout',
      '3s',
      'get',
      key,
    ],
    {
      allowFailure: true,
      env: { ...process.env, ETCDCTL_API: '3' },
    },
  );
  assert.notEqual(plainHttp.code, 0, 'plain HTTP is refused');
  const pki = path.join(lab.baseDir, 'pki');
  const noCert = await run(
    ['curl', '-sS', '-m', '5', '--cacert', path.join(pki, 'ca.crt'), `https://${etcd1}/health`],
    { allowFailure: true },
  );
  assert.notEqual(noCert.code, 0, `a client without a certificate is refused: ${noCert.stdout}`);
  const noLogin = await run(
    [
      'etcdctl',
      '--endpoints',
      `https://${etcd1}`,
      '--cacert',
      path.join(pki, 'ca.crt'),
      '--cert',
      path.join(pki, 'client.crt'),
      '--key',
      path.join(pki, 'client.key'),
      'get',
      key,
    ],
    { allowFailure: true, env: { ...process.env, ETCDCTL_API: '3' } },
  );
  assert.notEqual(noLogin.code, 0);
  assert.match(noLogin.stderr, /user name is empty|permission denied/, 'reads need a login');
  const withLogin = await etcdctl(lab, 'get', key, '--print-value-only');
  assert.match(withLogin.stdout, /"uri":"\/get"/, 'root with its password reads the route');
  const auth = await etcdctl(lab, 'user', 'get', 'root');
  assert.match(auth.stdout, /Roles: root/);
}

/**
 * As an operator would: the sudo rules name the artifacts, so a new bundle's rules are
 * installed (`api7-ha hosts sudoers`) on hosts reached through sudo before its deploy.
 */
async function installSudoRules(inv: DeployInput['inventory']) {
  for (const h of inv.hosts.filter((x) => x.ssh?.sudo)) {
    const root = await sshAsRoot(lab, h.name);
    try {
      await root.exec(['sh', '-c', 'cat > /etc/sudoers.d/api7-ha'], {
        stdin: renderSudoers(inv, h, h.ssh!.user!),
      });
    } finally {
      root.close();
    }
  }
}

interface Traffic {
  requests: number;
  failures: string[];
}

/**
 * Traffic kept flowing: at most 1 % of requests failed (the drills' tolerance). The lab's
 * HAProxy cuts the sessions of a server it marks down (`on-marked-down
 * shutdown-sessions`), so a request in flight on a gateway that is draining can, rarely,
 * get an empty reply; restarting every gateway at once fails about 10 % of them.
 */
function assertTrafficKeptFlowing(t: Traffic) {
  assert.ok(t.requests > 50, `probed all along: ${t.requests} requests`);
  assert.ok(
    t.failures.length <= t.requests * 0.01,
    `${t.failures.length} of ${t.requests} requests failed: ${t.failures.join('; ')}`,
  );
}

/** Run fn while requesting the test route through the data-plane load balancer every 50 ms. */
async function underTraffic<T>(fn: () => Promise<T>): Promise<{ result: T; traffic: Traffic }> {
  let probing = true;
  const traffic: Traffic = { requests: 0, failures: [] };
  const probe = (async () => {
    while (probing) {
      traffic.requests++;
      const r = await curlThroughDataPlane(lab);
      const code = r.stdout.split('\n').at(-1);
      if (code !== '200') traffic.failures.push(`${code ?? ''} ${r.stderr.trim()}`);
      await sleep(50);
    }
  })();
  try {
    return { result: await fn(), traffic };
  } finally {
    probing = false;
    await probe;
  }
}

/** The gateway starts of a run: first passes, and restarts of serving gateways. */
async function gatewayStarts(runId: string) {
  const events = await workflowHistory(server.address, deployWorkflowId('lab'), runId);
  const all = scheduledActivities(events).filter((a) => a.type === 'startGateway');
  const deferred = (a: ScheduledActivity) =>
    (a.args[4] as StartOptions | undefined)?.deferRestart === true;
  return { events, firstPass: all.filter(deferred), restarts: all.filter((a) => !deferred(a)) };
}

/** A fresh cluster's gateways were started side by side: both before either finished. */
async function assertStartedAtOnce(runId: string) {
  const { events, firstPass, restarts } = await gatewayStarts(runId);
  assert.equal(firstPass.length, 2);
  assert.deepEqual(restarts, [], 'nothing was serving, so nothing was restarted');
  const firstDone = Math.min(...firstPass.map((a) => completedAt(events, a)!));
  for (const a of firstPass)
    assert.ok(Number(a.eventId) < firstDone, `${a.host}: started before any gateway was up`);
}

/** Serving gateways were restarted one at a time: the second after the first completed. */
async function assertRolledOneAtATime(runId: string) {
  const { events, restarts } = await gatewayStarts(runId);
  assert.equal(restarts.length, 2, 'both gateways were serving and restarted');
  const firstDone = completedAt(events, restarts[0]!);
  assert.ok(firstDone && Number(restarts[1]!.eventId) > firstDone);
}

describe('deployHA on the lab', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    input = { inventory: lab.inventory, baseDir: lab.baseDir };
    await server.start();
    worker = await startWorkerProcess(server.address);
    await connect();
    await wipeHosts(lab);
  });
  after(async () => {
    await worker?.kill();
    await connection?.close();
    await server.dispose();
  });

  let first: { summary: DeploySummary; runId: string };

  it("the guide's plain etcd (no auth, no TLS) deploys too, then the hosts are wiped", async () => {
    const guide = structuredClone(lab.inventory);
    guide.etcd.auth = { enabled: false, username: 'root' };
    delete guide.etcd.tls;
    const plainLab = { ...lab, inventory: guide };
    const { summary } = await deployAndWait({ inventory: guide, baseDir: lab.baseDir });
    const health = await etcdctl(plainLab, 'endpoint', 'health');
    // etcdctl prints the health report on stderr.
    const report = health.stdout + health.stderr;
    assert.equal(report.match(/is healthy/g)?.length, 3, report);
    const route = await etcdctl(
      plainLab,
      'get',
      `/api7/${summary.clusterId}/routes/${guide.smokeTest.routeId}`,
      '--print-value-only',
    );
    assert.match(route.stdout, /"uri":"\/get"/, 'anyone may read etcd without auth');
    assert.equal((await curlThroughDataPlane(lab)).stdout.split('\n')[1], '200');
    await wipeHosts(lab);
  });

  it('a fresh deploy reaches a working cluster, with etcd auth and mutual TLS on', async () => {
    first = await deployAndWait();
    assert.match(first.summary.clusterId, /^\d{18}$/);
    assert.ok(first.summary.bytesUploaded > 0, 'artifacts were uploaded');
    assert.ok(first.summary.changes > 0);
    assert.match(
      first.summary.steps.ha1!.join('\n'),
      /etcd auth: created user root with the root role and turned authentication on/,
    );
    await assertHealthyCluster(first.summary);
    await assertEtcdLockedDown(first.summary.clusterId);
    await assertStartedAtOnce(first.runId);
  });

  it('replays the recorded history against the current workflow code', async () => {
    const handle = client.workflow.getHandle(deployWorkflowId(lab.inventory.cluster), first.runId);
    const history = await handle.fetchHistory();
    await Worker.runReplayHistory(
      { workflowsPath: require.resolve('../../src/workflows'), dataConverter: dataConverter() },
      history,
      deployWorkflowId('lab'),
    );
  });

  it('a second deploy changes nothing: same containers and start times, no bytes uploaded', async () => {
    const before = await containerSnapshot(lab);
    const again = await deployAndWait();
    assert.equal(again.summary.bytesUploaded, 0);
    assert.equal(again.summary.changes, 0, JSON.stringify(again.summary.steps, null, 1));
    assert.equal(
      again.summary.clusterId,
      first.summary.clusterId,
      'the gateway cluster is found by name, not created again',
    );
    assert.deepEqual(await containerSnapshot(lab), before);
  });

  it('a restart a crashed step still owed (config written, container not recreated) is made by the next deploy, on that host only', async () => {
    // What a worker killed between writing ha4's config.yaml and recreating its gateway leaves.
    const dir = bundled(lab.inventory, 'data-plane').dir;
    const root = await sshAsRoot(lab, 'ha4');
    try {
      await root.exec(['sh', '-c', 'echo "config changed" > "$1"', 'sh', restartMarkerPath(dir)]);
    } finally {
      root.close();
    }
    const before = await containerSnapshot(lab);
    const { summary, runId } = await deployAndWait();
    assert.match(summary.steps.ha4!.join('\n'), /restarted api7-gateway/);
    const after = await containerSnapshot(lab);
    const gateway = (h: string, snap: typeof before) =>
      snap[h]!.find((c) => c.name.includes('gateway'))!;
    assert.notEqual(gateway('ha4', after).startedAt, gateway('ha4', before).startedAt);
    assert.deepEqual(gateway('ha5', after), gateway('ha5', before), 'ha5 owed nothing');
    const { restarts } = await gatewayStarts(runId);
    assert.deepEqual(
      restarts.map((a) => a.host),
      ['ha4'],
      'the serving gateway waited for the rolling pass',
    );
    const check = await sshAsRoot(lab, 'ha4');
    try {
      assert.equal((await check.exec(['cat', restartMarkerPath(dir)])).trim(), '', 'paid');
    } finally {
      check.close();
    }
  });

  it('refuses a second concurrent deploy of the same cluster', async () => {
    const running = await startDeploy(client, input);
    await assert.rejects(
      startDeploy(client, input),
      /a deploy of cluster "lab" is already running \(workflow deploy-lab\)/,
    );
    await running.result();
  });

  it('an upgrade to a new data-plane bundle rolls through the gateways one at a time: the old bundle is replaced and traffic keeps flowing', async () => {
    // The same bundle under a newer version's name (its top directory renamed to match).
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-upgrade-'));
    const oldBundle = localFile(lab.inventory.gateway.bundle.path, lab.baseDir);
    const oldTop = path.basename(oldBundle).replace(/\.tar\.gz$/, '');
    const newTop = oldTop.replace(/\.\d+-dp$/, '.9-dp');
    assert.notEqual(newTop, oldTop);
    await run(['tar', '-xzf', oldBundle, '-C', dir]);
    await run(['mv', path.join(dir, oldTop), path.join(dir, newTop)]);
    const newBundle = path.join(dir, `${newTop}.tar.gz`);
    await run(['tar', '-czf', newBundle, '-C', dir, newTop]);
    const sha256 = (await run(['sha256sum', newBundle])).stdout.split(' ')[0]!;
    const upgraded: DeployInput = structuredClone(input);
    upgraded.inventory.gateway.bundle = { path: newBundle, sha256 };

    await installSudoRules(upgraded.inventory);
    const before = await containerSnapshot(lab);
    let result: { summary: DeploySummary; runId: string };
    let traffic: Traffic;
    try {
      ({ result, traffic } = await underTraffic(() => deployAndWait(upgraded)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await installSudoRules(lab.inventory);
    }
    assertTrafficKeptFlowing(traffic);

    const gateways = lab.inventory.hosts.filter((h) => h.roles.includes('data-plane'));
    for (const h of gateways)
      assert.match(
        result.summary.steps[h.name]!.join('\n'),
        new RegExp(
          `restarted api7-gateway \\(\\w+\\), replacing ${oldTop.replace(/[^a-z0-9-]/g, '')}`,
        ),
      );
    const after = await containerSnapshot(lab);
    for (const h of lab.inventory.hosts) {
      if (gateways.includes(h)) {
        const names = (after[h.name] ?? []).map((c) => c.name);
        assert.deepEqual(names, [`${newTop.replace(/[^a-z0-9-]/g, '')}_api7-gateway_1`], h.name);
      } else assert.deepEqual(after[h.name], before[h.name], `${h.name} was not touched`);
    }
    await assertRolledOneAtATime(result.runId);
  });

  it('a bundle with a new image under the same tag is loaded and the gateways recreated on it, one at a time, under traffic', async () => {
    const image = lab.inventory.gateway.image;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-hotfix-'));
    // A "hotfix" image: the gateway image plus a label, saved under the same tag on ha4,
    // which then gets its original tag back (the deploy must notice the difference).
    const root = await sshAsRoot(lab, 'ha4');
    let hotfixId: string;
    try {
      const originalId = (
        await root.exec(['docker', 'image', 'inspect', '--format', '{{.Id}}', image])
      ).trim();
      await root.exec([
        'sh',
        '-c',
        'rm -rf /tmp/hotfix && mkdir /tmp/hotfix && printf "FROM %s\\nLABEL api7-ha-test=hotfix\\n" "$1" > /tmp/hotfix/Dockerfile',
        'sh',
        image,
      ]);
      await root.exec(['docker', 'build', '-q', '-t', image, '/tmp/hotfix']);
      hotfixId = (
        await root.exec(['docker', 'image', 'inspect', '--format', '{{.Id}}', image])
      ).trim();
      assert.notEqual(hotfixId, originalId);
      await root.exec([
        'sh',
        '-c',
        'docker save "$1" | gzip > /tmp/hotfix/image.tar.gz',
        'sh',
        image,
      ]);
      const sftp = await root.sftp();
      await new Promise<void>((resolve, reject) =>
        sftp.fastGet('/tmp/hotfix/image.tar.gz', path.join(dir, 'image.tar.gz'), (e) =>
          e ? reject(e) : resolve(),
        ),
      );
      sftp.end();
      await root.exec(['docker', 'tag', originalId, image]);
      await root.exec(['docker', 'rmi', hotfixId]);
      await root.exec(['rm', '-rf', '/tmp/hotfix']);
    } finally {
      root.close();
    }
    // The bundle under its own file name, with the hotfix image in place of the original.
    const original = localFile(lab.inventory.gateway.bundle.path, lab.baseDir);
    const top = path.basename(original).replace(/\.tar\.gz$/, '');
    const unpacked = path.join(dir, 'unpacked');
    mkdirSync(unpacked);
    await run(['tar', '-xzf', original, '-C', unpacked]);
    const images = readdirSync(path.join(unpacked, top, 'images'));
    assert.equal(images.length, 1, images.join());
    copyFileSync(path.join(dir, 'image.tar.gz'), path.join(unpacked, top, 'images', images[0]!));
    const hotfix = path.join(dir, path.basename(original));
    await run(['tar', '-czf', hotfix, '-C', unpacked, top]);
    const patched: DeployInput = structuredClone(input);
    patched.inventory.gateway.bundle = {
      path: hotfix,
      sha256: (await run(['sha256sum', hotfix])).stdout.split(' ')[0]!,
    };

    await installSudoRules(patched.inventory);
    let result: { summary: DeploySummary; runId: string };
    let traffic: Traffic;
    try {
      ({ result, traffic } = await underTraffic(() => deployAndWait(patched)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await installSudoRules(lab.inventory);
    }
    assertTrafficKeptFlowing(traffic);
    await assertRolledOneAtATime(result.runId);
    for (const h of lab.inventory.hosts.filter((x) => x.roles.includes('data-plane'))) {
      const steps = result.summary.steps[h.name]!.join('\n');
      assert.match(steps, new RegExp(`loaded ${image.replace(/[.]/g, '\\.')}`), steps);
      assert.match(steps, /restarted api7-gateway/, steps);
      const s = await sshAsRoot(lab, h.name);
      try {
        const id = await s.exec([
          'docker',
          'ps',
          '--filter',
          'label=com.docker.compose.service=api7-gateway',
          '--format',
          '{{.ID}}',
        ]);
        const running = (
          await s.exec(['docker', 'inspect', '--format', '{{.Image}}', id.trim()])
        ).trim();
        assert.equal(running, hotfixId, `${h.name} runs the hotfix image`);
      } finally {
        s.close();
      }
    }
  });

  /** Every file under the host's api7-ha directories and `extra`: path, type, size, mode, mtime, sha256. */
  async function hostFiles(hostName: string, dirs: string[]): Promise<string> {
    const s = await sshAsRoot(lab, hostName);
    try {
      return await s.exec([
        'sh',
        '-c',
        'find "$@" -xdev \\( -type f -printf "%p %y %s %m %T@ " -exec sha256sum {} \\; \\) -o -printf "%p %y %s %m %T@ %l\\n" | sort',
        'sh',
        ...dirs,
      ]);
    } finally {
      s.close();
    }
  }

  it('a bundle whose dashboard_conf/conf.yaml is a symlink is refused before any host is touched, naming the field and entry', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-evil-bundle-'));
    const bundle = localFile(lab.inventory.dashboard.bundle.path, lab.baseDir);
    const top = path.basename(bundle).replace(/\.tar\.gz$/, '');
    await run(['tar', '-xzf', bundle, '-C', dir]);
    rmSync(path.join(dir, top, 'dashboard_conf', 'conf.yaml'));
    await run(['ln', '-s', '/etc/shadow', path.join(dir, top, 'dashboard_conf', 'conf.yaml')]);
    mkdirSync(path.join(dir, 'out'));
    const evil = path.join(dir, 'out', path.basename(bundle));
    await run(['tar', '-czf', evil, '-C', dir, top]);
    const sha256 = (await run(['sha256sum', evil])).stdout.split(' ')[0]!;
    const bad: DeployInput = structuredClone(input);
    bad.inventory.dashboard.bundle = { path: evil, sha256 };
    const containers = await containerSnapshot(lab);
    const files = await hostFiles('ha1', ['/opt/api7-ha', '/root']);

    const handle = await startDeploy(client, bad);
    await assert.rejects(handle.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      assert.match(
        rootMessage(e),
        new RegExp(
          `dashboard\\.bundle\\.path: entry "${top.replace(/\./g, '\\.')}/dashboard_conf/conf\\.yaml" is a symbolic link where api7-ha writes or reads`,
        ),
      );
      return true;
    });
    const types = scheduledActivities(
      await workflowHistory(server.address, handle.workflowId, handle.firstExecutionRunId),
    ).map((a) => a.type);
    assert.deepEqual([...new Set(types)], ['validateDeploy'], 'no host step ran');
    assert.deepEqual(await containerSnapshot(lab), containers);
    assert.equal(await hostFiles('ha1', ['/opt/api7-ha', '/root']), files);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a link planted in an installed bundle directory fails the step with a clear message; its target and the rest of the host are unchanged', async () => {
    const dashboardDir = `${lab.inventory.dashboard.installDir}/${path.basename(lab.inventory.dashboard.bundle.path).replace(/\.tar\.gz$/, '')}`;
    const conf = `${dashboardDir}/dashboard_conf/conf.yaml`;
    const victim = '/root/api7-ha-test-victim';
    const precious = 'precious: do not touch\n';
    const root = await sshAsRoot(lab, 'ha1');
    try {
      await root.exec(['sh', '-c', 'printf "%s" "$1" > "$2"', 'sh', precious, victim]);
      await root.exec(['mv', conf, `${conf}.moved-by-test`]);
      await root.exec(['ln', '-s', victim, conf]);
      const containers = await containerSnapshot(lab);
      const files = await hostFiles('ha1', ['/opt/api7-ha', dashboardDir, victim]);

      await assert.rejects(deployAndWait(), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError);
        assert.match(
          rootMessage(e),
          new RegExp(
            `ha1: refusing to (read|write) ${conf.replace(/\./g, '\\.')}: it is a symbolic link; nothing was written`,
          ),
        );
        return true;
      });
      assert.equal(
        await root.exec(['cat', victim]),
        precious,
        'the target is byte-for-byte unchanged',
      );
      assert.equal(await hostFiles('ha1', ['/opt/api7-ha', dashboardDir, victim]), files);
      assert.deepEqual((await containerSnapshot(lab)).ha1, containers.ha1);
    } finally {
      await root.exec(['rm', '-f', conf, victim]);
      await root.exec(['mv', `${conf}.moved-by-test`, conf]);
      root.close();
    }
    const before = (await containerSnapshot(lab)).ha1;
    await deployAndWait();
    assert.deepEqual(
      (await containerSnapshot(lab)).ha1,
      before,
      'with the file back, the dashboard is not even restarted',
    );
  });

  it('refuses an inventory with an error before starting anything', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-bad-'));
    const doc = parse(readFileSync(labPaths().inventory, 'utf8')) as {
      hosts: Array<{ address: string }>;
    };
    doc.hosts[3]!.address = '10.213.0.14; reboot';
    const file = path.join(dir, 'inventory.yaml');
    writeFileSync(file, stringify(doc));
    const countRuns = async () =>
      (await client.workflow.count(`WorkflowId = "${deployWorkflowId('lab')}"`)).count;
    const runsBefore = await countRuns();
    const r = await run(
      [process.execPath, path.join(projectRoot, 'dist/src/client.js'), 'deploy', '-i', file],
      {
        allowFailure: true,
        env: { ...process.env, TEMPORAL_ADDRESS: server.address },
      },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /hosts\[3\]\.address: must be an IPv4 address or a host name/);
    assert.equal(await countRuns(), runsBefore, 'no workflow was started');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a changed host key fails fast, names both fingerprints and touches nothing', async () => {
    const before = await containerSnapshot(lab);
    const wrong = 'SHA256:' + 'B'.repeat(42) + 'A'; // canonical base64, but not ha1's key
    const bad: DeployInput = structuredClone(input);
    const offered = bad.inventory.hosts[0]!.ssh!.hostKey!;
    bad.inventory.hosts[0]!.ssh!.hostKey = wrong;
    const handle = await startDeploy(client, bad);
    await assert.rejects(handle.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const msg = rootMessage(e);
      assert.match(msg, /ha1: host key of ha1 changed/);
      assert.ok(msg.includes(offered) && msg.includes(wrong), msg);
      return true;
    });
    const types = new Set(
      scheduledActivities(
        await workflowHistory(server.address, handle.workflowId, handle.firstExecutionRunId),
      ).map((a) => a.type),
    );
    assert.deepEqual(
      [...types].sort(),
      ['preflightHost', 'validateDeploy'],
      'nothing ran after preflight',
    );
    assert.deepEqual(await containerSnapshot(lab), before);
  });

  it('a wrong etcd password stops the deploy at the quorum check on its first attempt, naming the field; nothing changes', async () => {
    const before = await containerSnapshot(lab);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-wrong-pw-'));
    try {
      writeFileSync(path.join(dir, 'pw'), 'not-the-etcd-password');
      const bad: DeployInput = structuredClone(input);
      bad.inventory.etcd.auth.password = `file:${dir}/pw`;
      const handle = await startDeploy(client, bad);
      await assert.rejects(handle.result(), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError);
        assert.match(
          rootMessage(e),
          /etcd has authentication on and refuses user root with the password from etcd\.auth\.password/,
        );
        assert.ok(!rootMessage(e).includes('not-the-etcd-password'));
        return true;
      });
      const events = await workflowHistory(
        server.address,
        handle.workflowId,
        handle.firstExecutionRunId,
      );
      const quorum = scheduledActivities(events).filter((a) => a.type === 'waitForQuorum');
      assert.equal(quorum.length, 1);
      assert.equal(
        attemptsByScheduledId(events).get(String(quorum[0]!.eventId)),
        1,
        'not retried: waiting cannot fix a password',
      );
      assert.deepEqual(await containerSnapshot(lab), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Every activity of the run was scheduled once: nothing finished was run again. */
  async function assertNoActivityRanTwice(runId: string) {
    const scheduled = scheduledActivities(
      await workflowHistory(server.address, deployWorkflowId('lab'), runId),
    );
    const counts = new Map<string, number>();
    for (const a of scheduled) counts.set(activityKey(a), (counts.get(activityKey(a)) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no step was scheduled twice');
    return scheduled;
  }

  it('survives a worker killed with SIGKILL while shipping artifacts', async () => {
    await wipeHosts(lab);
    const handle = await startDeploy(client, input);
    const seen = await waitForProgress(
      (p) =>
        p.phase === 'ship' &&
        Object.values(p.hosts).some((h) => h.step === 'ship' && h.status === 'running'),
    );
    await worker.kill('SIGKILL');
    workerLogs.push(worker.output());
    const finishedBeforeKill = Object.entries(seen.hosts).filter(
      ([, h]) => h.step === 'ship' && h.status === 'done',
    ).length;
    worker = await startWorkerProcess(server.address);
    const summary = await handle.result();
    const scheduled = await assertNoActivityRanTwice(handle.firstExecutionRunId);
    const attempts = attemptsByScheduledId(
      await workflowHistory(server.address, handle.workflowId, handle.firstExecutionRunId),
    );
    const retriedShips = scheduled.filter(
      (a) => a.type === 'shipArtifacts' && (attempts.get(a.eventId) ?? 0) > 1,
    );
    assert.ok(retriedShips.length >= 1, 'the interrupted upload was retried by the new worker');
    assert.ok(
      retriedShips.length <= lab.inventory.hosts.length - finishedBeforeKill,
      'uploads finished before the kill were not redone',
    );
    await assertHealthyCluster(summary);
  });

  it('survives a worker killed with SIGKILL during the etcd phase', async () => {
    await wipeHosts(lab);
    const handle = await startDeploy(client, input);
    // Hosts move on at their own pace: wait for an etcd member being started, or quorum.
    await waitForProgress(
      (p) =>
        p.phase === 'quorum' ||
        Object.values(p.hosts).some((h) => h.step === 'etcd' && h.status === 'running'),
    );
    await worker.kill('SIGKILL');
    workerLogs.push(worker.output());
    worker = await startWorkerProcess(server.address);
    const summary = await handle.result();
    const scheduled = await assertNoActivityRanTwice(handle.firstExecutionRunId);
    assert.equal(scheduled.filter((a) => a.type === 'startEtcdMember').length, 3);
    await assertHealthyCluster(summary);
  });

  it('finishes when the Temporal server is restarted on the same SQLite file mid-deploy', async () => {
    await wipeHosts(lab);
    const handle = await startDeploy(client, input);
    await waitForProgress((p) => p.phase === 'ship');
    await connection.close();
    await server.stop();
    await sleep(2000);
    await server.start();
    await connect();
    const summary = await client.workflow
      .getHandle<() => Promise<DeploySummary>>(handle.workflowId, handle.firstExecutionRunId)
      .result();
    await assertNoActivityRanTwice(handle.firstExecutionRunId);
    await assertHealthyCluster(summary);
  });

  it("finishes when one host's sshd is stopped for 30 s mid-deploy", async () => {
    await wipeHosts(lab);
    const victim = labHosts(lab.inventory.hosts.length).find((h) => h.name === 'ha4')!;
    const handle = await startDeploy(client, input);
    await waitForProgress((p) => p.phase === 'prepare' || p.phase === 'ship');
    await stopSshd(victim);
    await sleep(30_000);
    startSshd(victim, hostPaths(labPaths().dir, victim));
    const summary = await handle.result();
    const events = await workflowHistory(
      server.address,
      handle.workflowId,
      handle.firstExecutionRunId,
    );
    const attempts = attemptsByScheduledId(events);
    const retried = scheduledActivities(events).filter(
      (a) => a.host === 'ha4' && (attempts.get(a.eventId) ?? 0) > 1,
    );
    assert.ok(retried.length >= 1, 'an ha4 step was retried while its sshd was down');
    await assertHealthyCluster(summary);
  });

  it('a changed bastion host key fails fast at preflight, naming the hop and both fingerprints; nothing changes', async () => {
    const before = await containerSnapshot(lab);
    const wrong = 'SHA256:' + 'D'.repeat(42) + 'A'; // canonical base64, but not the bastion's key
    const bad: DeployInput = structuredClone(input);
    const behind = bad.inventory.hosts.find((h) => h.ssh?.jump?.length);
    assert.ok(behind, 'the lab reaches a host through the bastion');
    const hop = behind.ssh!.jump![0]!;
    const offered = hop.hostKey!;
    hop.hostKey = wrong;
    const handle = await startDeploy(client, bad);
    await assert.rejects(handle.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const msg = rootMessage(e);
      assert.match(
        msg,
        new RegExp(`${behind.name}: bastion bastion1 \\(10\\.213\\.0\\.10:22\\): host key changed`),
      );
      assert.ok(msg.includes(offered) && msg.includes(wrong), msg);
      // The other hosts, reached directly, passed preflight: only the hop is named.
      assert.doesNotMatch(msg, /host key of/);
      return true;
    });
    const types = new Set(
      scheduledActivities(
        await workflowHistory(server.address, handle.workflowId, handle.firstExecutionRunId),
      ).map((a) => a.type),
    );
    assert.deepEqual([...types].sort(), ['preflightHost', 'validateDeploy']);
    assert.deepEqual(await containerSnapshot(lab), before);
  });

  /** The messages of the running deploy's pending activities' last failures (decrypted). */
  async function pendingFailures(workflowId: string): Promise<string[]> {
    const codec = new EncryptionCodec(loadCodecKeys());
    const d = await client.workflow.getHandle(workflowId).describe();
    const out: string[] = [];
    for (const a of d.raw.pendingActivities ?? []) {
      const f = a.lastFailure;
      if (!f) continue;
      if (f.encodedAttributes) {
        const [p] = await codec.decode([f.encodedAttributes]);
        out.push(
          (JSON.parse(Buffer.from(p!.data!).toString('utf8')) as { message: string }).message,
        );
      } else if (f.message) out.push(f.message);
    }
    return out;
  }

  it('finishes when the bastion is down for 30 s while shipping to the host behind it', async () => {
    await wipeHosts(lab);
    const behind = lab.inventory.hosts.find((h) => h.ssh?.jump?.length);
    assert.ok(behind, 'the lab reaches a host through the bastion');
    const handle = await startDeploy(client, input);
    await waitForProgress(
      (p) => p.hosts[behind.name]?.step === 'ship' && p.hosts[behind.name]?.status === 'running',
    );
    await stopSshd(LAB_BASTION);
    const seen: string[] = [];
    try {
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        for (const m of await pendingFailures(handle.workflowId))
          if (!seen.includes(m)) seen.push(m);
        await sleep(1000);
      }
    } finally {
      startSshd(LAB_BASTION, hostPaths(labPaths().dir, LAB_BASTION));
    }
    assert.ok(
      seen.some((m) => /bastion bastion1 \(10\.213\.0\.10:22\)/.test(m)),
      `a retried step said the bastion was away: ${seen.join(' | ')}`,
    );
    const summary = await handle.result();
    const events = await workflowHistory(
      server.address,
      handle.workflowId,
      handle.firstExecutionRunId,
    );
    const attempts = attemptsByScheduledId(events);
    const retried = scheduledActivities(events).filter(
      (a) => a.host === behind.name && (attempts.get(a.eventId) ?? 0) > 1,
    );
    assert.ok(retried.length >= 1, `a ${behind.name} step was retried while the bastion was down`);
    await assertNoActivityRanTwice(handle.firstExecutionRunId);
    await assertHealthyCluster(summary);
  });

  it("no secret appears in the workers' logs", () => {
    const text = [...workerLogs, worker.output()].join('\n');
    assert.ok(text.length > 0);
    for (const secret of labSecrets(lab))
      assert.ok(!text.includes(secret), 'a secret value is in a worker log');
  });
});
