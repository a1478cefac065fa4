// restoreEtcd end to end on the deployed lab (auth + mutual TLS, the real etcd 3.4 and
// etcdctl, the gateways behind HAProxy, ha5 a gateway reached as a sudo user through the
// bastion): full loss and restore with a probe through the data-plane load balancer the
// whole time, the same snapshot twice, refusals before anything stops, and a worker
// SIGKILL in the middle of a restore. The lab is left deployed and healthy.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { dashboardLogin } from '../../src/activities/dashboard';
import { findGatewayClusterId, smokeRoute } from '../../src/activities/gateway';
import { startBackup } from '../../src/cli/backup';
import { rootMessage, startDeploy } from '../../src/cli/deploy';
import { startRestore } from '../../src/cli/restore';
import { manifestPathFor } from '../../src/backup/restore';
import type { BackupManifest } from '../../src/backup/manifest';
import type { LoadedInventory } from '../../src/config/load';
import { projectRoot } from '../../src/paths';
import { httpRequest } from '../../src/util/http';
import { run, sleep, waitFor } from '../../src/util/exec';
import type { BackupResult } from '../../src/workflows/backup';
import type { RestoreInput, RestoreResult } from '../../src/workflows/restore';
import type { RestoreProgress } from '../../src/workflows/restore-tracker';
import { containerSnapshot, etcdctl } from '../support/cluster';
import { sharedLab, sshAsRoot } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(58233);
let lab: LoadedInventory;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;
let dir: string;
let clusterId: string;
let backedUp: BackupResult;

const etcdHosts = () => lab.inventory.hosts.filter((h) => h.roles.includes('etcd'));
const gatewayHosts = () => lab.inventory.hosts.filter((h) => h.roles.includes('data-plane'));
const routeHost = (id: string) => `${id}.restore.test`;
const routeKey = (id: string) => `/api7/${clusterId}/routes/${id}`;
const input = (snapshot: string): RestoreInput => ({
  inventory: lab.inventory,
  baseDir: lab.baseDir,
  snapshot,
});
const restore = async (snapshot: string) => (await startRestore(client, input(snapshot))).result();

async function putRoute(id: string) {
  const api = await dashboardLogin({ inventory: lab.inventory, baseDir: lab.baseDir });
  await api.putRoute(clusterId, { ...smokeRoute(input('')), id, host: routeHost(id) });
}

/** HTTP status of a route through the data-plane LB, or through one gateway directly. */
async function status(id: string, gateway?: string): Promise<number> {
  const inv = lab.inventory;
  const address = gateway && inv.hosts.find((h) => h.name === gateway)!.address;
  const url = address
    ? `http://${address}:${inv.gateway.httpPort}${inv.smokeTest.uri}`
    : new URL(inv.smokeTest.uri, inv.loadBalancers.dataPlane).toString();
  try {
    return (await httpRequest(url, { headers: { host: routeHost(id) }, timeoutMs: 3000 })).status;
  } catch {
    return 0;
  }
}

/** Every gateway, and the LB, answer the route with `want`. */
const everywhere = (id: string, want: number) =>
  waitFor(
    `${routeHost(id)} to answer ${want} on every gateway and the load balancer`,
    async () =>
      (await Promise.all([status(id), ...gatewayHosts().map((g) => status(id, g.name))])).every(
        (s) => s === want,
      ),
    60_000,
    250,
  );

async function etcdJson<T>(...args: string[]): Promise<T> {
  const r = await etcdctl(lab, ...args, '-w', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

async function rootOn(host: string, argv: string[]) {
  const s = await sshAsRoot(lab, host);
  try {
    return await s.execRaw(argv);
  } finally {
    s.close();
  }
}

/** A probe through the data-plane LB on a backed-up route, 20 per second. */
function probe(id: string) {
  const samples: Array<{ at: number; ok: boolean }> = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t0 = Date.now();
      samples.push({ at: t0, ok: (await status(id)) === 200 });
      await sleep(Math.max(0, 50 - (Date.now() - t0)));
    }
  })();
  return {
    samples,
    async end() {
      stop = true;
      await loop;
    },
  };
}

/** When the restore entered each phase (polled from its progress query). */
function phaseTimeline(workflowId: string) {
  const seen: Array<{ phase: string; at: number }> = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      try {
        const p = await client.workflow.getHandle(workflowId).query<RestoreProgress>('progress');
        if (seen.at(-1)?.phase !== p.phase) seen.push({ phase: p.phase, at: Date.now() });
      } catch {
        /* not picked up yet, or between workers */
      }
      await sleep(200);
    }
  })();
  return {
    seen,
    async end() {
      stop = true;
      await loop;
    },
  };
}

async function assertHealthyMembers() {
  const members = await etcdJson<{ members: Array<{ name: string }> }>('member', 'list');
  assert.deepEqual(members.members.map((m) => m.name).sort(), [
    'api7-etcd-1',
    'api7-etcd-2',
    'api7-etcd-3',
  ]);
  const health = await etcdJson<Array<{ health: boolean }>>('endpoint', 'health');
  assert.equal(health.filter((h) => h.health).length, 3, JSON.stringify(health));
}

describe('restoreEtcd on the deployed lab', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-restore-'));
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    await (await startDeploy(client, { inventory: lab.inventory, baseDir: lab.baseDir })).result();
    clusterId = await findGatewayClusterId({ inventory: lab.inventory, baseDir: lab.baseDir });
  });
  after(async () => {
    await worker?.kill();
    await connection?.close();
    await server.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('full loss and restore: backed-up routes back, the later one gone, auth on, gateways current, traffic kept', async () => {
    for (const id of ['r1', 'r2', 'r3']) await putRoute(`api7-ha-restore-${id}`);
    await everywhere('api7-ha-restore-r3', 200);

    backedUp = await (
      await startBackup(client, { inventory: lab.inventory, baseDir: lab.baseDir, to: dir })
    ).result();
    const m = backedUp.manifest;
    const counted = await etcdJson<{ count: number }>(
      'get',
      '',
      '--prefix',
      '--keys-only',
      `--rev=${m.revision}`,
    );
    assert.equal(m.keys, counted.count);
    const atRev = await etcdctl(lab, 'get', routeKey('api7-ha-restore-r1'), `--rev=${m.revision}`);
    assert.ok(atRev.stdout.includes('api7-ha-restore-r1'), 'r1 is in the backup');

    await putRoute('api7-ha-restore-later');
    await everywhere('api7-ha-restore-later', 200);

    // Without --yes: the plan, and a refusal (exit 2); nothing started.
    const dry = await run(
      [
        process.execPath,
        path.join(projectRoot, 'dist/src/client.js'),
        'restore',
        '-i',
        path.join(lab.baseDir, 'inventory.yaml'),
        '--snapshot',
        backedUp.path,
      ],
      { env: { ...process.env, TEMPORAL_ADDRESS: server.address }, allowFailure: true },
    );
    assert.equal(dry.code, 2, dry.stderr);
    assert.match(dry.stdout, /snapshot restore/);
    assert.match(dry.stderr, /--yes/);

    // Total loss: every member's container and data dir.
    const traffic = probe('api7-ha-restore-r1');
    const lostAt = Date.now();
    await Promise.all(
      etcdHosts().map((h) =>
        rootOn(h.name, [
          'sh',
          '-c',
          `docker rm -f ${lab.inventory.etcd.containerName}; rm -rf ${lab.inventory.etcd.dataDir}`,
        ]),
      ),
    );
    const handle = await startRestore(client, input(backedUp.path));
    const phases = phaseTimeline(handle.workflowId);
    let r: RestoreResult;
    try {
      r = await handle.result();
    } finally {
      await phases.end();
      await traffic.end();
    }
    assert.equal(r.alreadyRestored, false);
    assert.deepEqual(r.movedAside, {}, 'nothing was left to move aside');
    assert.equal(r.auth?.authEnabled, true);
    assert.ok(r.auth?.users.includes('root'), JSON.stringify(r.auth));

    await assertHealthyMembers();
    for (const id of ['r1', 'r2', 'r3']) {
      const got = await etcdctl(lab, 'get', routeKey(`api7-ha-restore-${id}`), '--keys-only');
      assert.ok(got.stdout.includes(`api7-ha-restore-${id}`), `${id} came back`);
    }
    const later = await etcdctl(lab, 'get', routeKey('api7-ha-restore-later'), '--keys-only');
    assert.equal(later.code, 0, later.stderr);
    assert.equal(later.stdout.trim(), '', 'the route written after the backup is gone');
    // Auth came back with the snapshot: with the client certificate but no login, etcd refuses.
    const inv = lab.inventory;
    const noLogin = {
      ...lab,
      inventory: { ...inv, etcd: { ...inv.etcd, auth: { ...inv.etcd.auth, enabled: false } } },
    };
    const anonymous = await etcdctl(noLogin, 'get', routeKey('api7-ha-restore-r1'));
    assert.notEqual(anonymous.code, 0, 'no login, no read');
    assert.match(anonymous.stderr, /user name is empty|permission denied|invalid auth token/i);

    // Gateways: the backed-up routes, not the later one, and a route written now.
    for (const id of ['r1', 'r2', 'r3']) await everywhere(`api7-ha-restore-${id}`, 200);
    await everywhere('api7-ha-restore-later', 404);
    await putRoute('api7-ha-restore-after');
    await everywhere('api7-ha-restore-after', 200);

    // Traffic on a backed-up route: at most 1 % failed over the whole restore, none
    // while etcd was down (from the loss until the gateways' rolling restart began).
    const gatewaysAt = phases.seen.find((p) => p.phase === 'gateways')?.at;
    assert.ok(gatewaysAt, JSON.stringify(phases.seen));
    const failed = traffic.samples.filter((s) => !s.ok);
    assert.ok(traffic.samples.length > 100, `${traffic.samples.length} probes`);
    assert.ok(
      failed.length <= traffic.samples.length * 0.01,
      `${failed.length} of ${traffic.samples.length} probes failed`,
    );
    assert.equal(
      failed.filter((s) => s.at >= lostAt && s.at < gatewaysAt).length,
      0,
      'no probe failed while etcd was down',
    );
  });

  it('restoring the same snapshot again changes nothing; a later deploy changes nothing either', async () => {
    const before = await containerSnapshot(lab);
    const again = await restore(backedUp.path);
    assert.equal(again.alreadyRestored, true, JSON.stringify(again));
    assert.deepEqual(await containerSnapshot(lab), before);
    const deploy = await (
      await startDeploy(client, { inventory: lab.inventory, baseDir: lab.baseDir })
    ).result();
    assert.equal(deploy.changes, 0, JSON.stringify(deploy.steps, null, 1));
    assert.deepEqual(await containerSnapshot(lab), before);
  });

  it('refuses a snapshot with a wrong sha256, or of another cluster, before anything stops', async () => {
    const bad = mkdtempSync(path.join(dir, 'bad-'));
    const m = JSON.parse(readFileSync(manifestPathFor(backedUp.path), 'utf8')) as BackupManifest;
    // Damaged: one byte changed, the manifest as it was.
    const damaged = path.join(bad, m.file);
    copyFileSync(backedUp.path, damaged);
    const bytes = readFileSync(damaged);
    const at = bytes.length - 100;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    writeFileSync(damaged, bytes);
    copyFileSync(manifestPathFor(backedUp.path), manifestPathFor(damaged));
    // Of another cluster: its own manifest says so.
    const other = path.join(mkdtempSync(path.join(dir, 'other-')), m.file);
    copyFileSync(backedUp.path, other);
    writeFileSync(manifestPathFor(other), JSON.stringify({ ...m, cluster: 'elsewhere' }));

    const before = await containerSnapshot(lab);
    for (const [file, why] of [
      [damaged, /has sha256 [0-9a-f]{64}.*its manifest says/],
      [other, /a backup of cluster "elsewhere", not of "lab"/],
    ] as const)
      await assert.rejects(
        restore(file),
        (e: unknown) => e instanceof WorkflowFailedError && why.test(rootMessage(e)),
      );
    assert.deepEqual(await containerSnapshot(lab), before, 'nothing stopped or restarted');
  });

  it('a worker SIGKILL in the middle of a restore is resumed; the cluster ends healthy with the right data', async () => {
    // A second backup (with the route written after the restore), restored over live data dirs.
    const second = await (
      await startBackup(client, { inventory: lab.inventory, baseDir: lab.baseDir, to: dir })
    ).result();
    await putRoute('api7-ha-restore-gone');
    const handle = await startRestore(client, input(second.path));
    await waitFor(
      'the restore to rebuild the members',
      async () =>
        ['etcd-stop', 'restore', 'etcd-start'].includes(
          (await handle.query<RestoreProgress>('progress').catch(() => undefined))?.phase ?? '',
        ),
      300_000,
      100,
    );
    await worker.kill('SIGKILL');
    worker = await startWorkerProcess(server.address);
    const r = await handle.result();
    assert.equal(r.alreadyRestored, false);
    assert.deepEqual(
      Object.keys(r.movedAside).sort(),
      etcdHosts()
        .map((h) => h.name)
        .sort(),
    );
    await assertHealthyMembers();
    await everywhere('api7-ha-restore-after', 200);
    await everywhere('api7-ha-restore-gone', 404);
    // Each member's old data dir was moved aside exactly once, and holds etcd's data.
    for (const h of etcdHosts()) {
      const aside = r.movedAside[h.name]!;
      const listed = await rootOn(h.name, [
        'sh',
        '-c',
        `ls -d ${lab.inventory.etcd.dataDir}.before-restore-*; ls ${aside}`,
      ]);
      assert.deepEqual(listed.stdout.trim().split('\n'), [aside, 'member'], listed.stdout);
      await rootOn(h.name, ['rm', '-rf', aside]); // the operator's later clean-up
    }
    const history = await handle.fetchHistory();
    const attempts = history.events!.filter(
      (e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1,
    );
    assert.ok(attempts.length >= 1, 'an activity was retried on the new worker');
  });
});
