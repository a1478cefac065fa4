// replaceHost and etcd scale-out end to end on the deployed lab (auth + mutual TLS, the
// real etcd 3.4 and etcdctl): a lost etcd host (container and data dir destroyed) is
// replaced with a new member while curl through the data-plane load balancer sees no
// failure; etcdctl shows three started members, one with a new id, the same KV hash;
// routes written before are kept and one written afterwards reaches every gateway;
// repeating, and a plain deploy afterwards, change nothing; the refusal without quorum
// changes nothing; a worker SIGKILL mid-replace adds no second member. (The 3 → 5 scale-out
// test left the shared lab with five members and needs the sudo host's rules for etcd; it
// comes back with a lab of its own.)
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { DashboardClient } from '../../src/api/dashboard';
import { rootMessage, startDeploy } from '../../src/cli/deploy';
import { replaceWorkflowId, startReplace } from '../../src/cli/replace';
import {
  parseEndpointHashKv,
  parseMemberList,
  type MemberInfo,
} from '../../src/commands/etcd-members';
import type { LoadedInventory } from '../../src/config/load';
import { resolveSecret } from '../../src/config/secrets';
import { run, sleep, waitFor } from '../../src/util/exec';
import type { DeploySummary } from '../../src/workflows/deploy';
import type { DeployProgress } from '../../src/workflows/progress';
import type { ReplaceSummary } from '../../src/workflows/replace';
import { containerSnapshot, curlThroughDataPlane, etcdctl } from '../support/cluster';
import { scheduledActivities, workflowHistory } from '../support/history';
import { sharedLab, sshAsRoot } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(47333);
let lab: LoadedInventory;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;
let clusterId: string;

const deployInput = (l: LoadedInventory = lab) => ({ inventory: l.inventory, baseDir: l.baseDir });
const replaceInput = (host: string, l: LoadedInventory = lab) => ({ ...deployInput(l), host });

async function members(l: LoadedInventory = lab): Promise<MemberInfo[]> {
  const r = await etcdctl(l, 'member', 'list', '-w', 'json');
  assert.equal(r.code, 0, r.stderr);
  return parseMemberList(r.stdout).members;
}

/** Every member's KV hash, once they are at one revision (retried while writes land). */
async function sameHashKv(l: LoadedInventory = lab): Promise<number> {
  let last = '';
  for (let i = 0; i < 20; i++) {
    const r = await etcdctl(l, 'endpoint', 'hashkv', '-w', 'json');
    if (r.code === 0) {
      const hashes = parseEndpointHashKv(r.stdout);
      last = JSON.stringify(hashes);
      const n = l.inventory.hosts.filter((h) => h.roles.includes('etcd')).length;
      if (hashes.length === n && new Set(hashes.map((h) => h.hash)).size === 1)
        return hashes[0]!.hash;
    } else last = r.stderr;
    await sleep(500);
  }
  throw new Error(`members never had the same KV hash: ${last}`);
}

async function onHost(host: string, script: string) {
  const s = await sshAsRoot(lab, host);
  try {
    return await s.exec(['sh', '-c', script]);
  } finally {
    s.close();
  }
}

/** The etcd host is lost for good: its container and data directory destroyed. */
const destroyEtcd = (host: string) =>
  onHost(
    host,
    `docker rm -f ${lab.inventory.etcd.containerName}; rm -rf ${lab.inventory.etcd.dataDir}`,
  );

async function dashboard(): Promise<DashboardClient> {
  const d = lab.inventory.dashboard;
  const api = new DashboardClient(lab.inventory.loadBalancers.controlPlane);
  await api.login(d.username, resolveSecret(d.password, 'dashboard.password', lab.baseDir));
  return api;
}

const route = (id: string, host: string) => ({
  id,
  uri: lab.inventory.smokeTest.uri,
  host,
  upstream: {
    type: 'roundrobin' as const,
    nodes: Object.fromEntries(lab.inventory.smokeTest.upstream.map((u) => [u, 1])),
  },
});

/** `host` answers 200 on every gateway, asked directly (not through the load balancer). */
async function reachesEveryGateway(vhost: string) {
  const inv = lab.inventory;
  for (const g of inv.hosts.filter((h) => h.roles.includes('data-plane')))
    await waitFor(
      `${vhost} on the gateway of ${g.name}`,
      async () => {
        const r = await run(
          [
            'curl',
            '-sS',
            '-m',
            '3',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            '-H',
            `Host: ${vhost}`,
            `http://${g.address}:${inv.gateway.httpPort}${inv.smokeTest.uri}`,
          ],
          { allowFailure: true },
        );
        return r.stdout.trim() === '200';
      },
      30_000,
      300,
    );
}

interface Traffic {
  requests: number;
  failures: string[];
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

async function replace(host: string, l: LoadedInventory = lab): Promise<ReplaceSummary> {
  return (await startReplace(client, replaceInput(host, l))).result();
}

async function waitForReplace(when: (p: DeployProgress) => boolean, timeoutMs = 180_000) {
  const handle = client.workflow.getHandle(replaceWorkflowId(lab.inventory.cluster));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const p = await handle.query<DeployProgress>('progress');
      if (when(p)) return p;
      if (p.phase === 'done' || p.phase === 'failed')
        throw new Error(`replace reached ${p.phase} before the awaited moment`);
    } catch (e) {
      if (e instanceof Error && /before the awaited/.test(e.message)) throw e;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for replace progress');
    await sleep(100);
  }
}

function assertThreeStarted(list: MemberInfo[]) {
  assert.equal(list.length, 3, JSON.stringify(list));
  for (const m of list) {
    assert.ok(m.name && m.clientURLs.length, `member ${m.id} started: ${JSON.stringify(m)}`);
    assert.equal(m.isLearner, false, `${m.name} is a voter`);
  }
}

describe('replace on the deployed lab', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    const summary: DeploySummary = await (await startDeploy(client, deployInput())).result();
    clusterId = summary.clusterId;
  });
  after(async () => {
    await worker?.kill();
    await connection?.close();
    await server.dispose();
  });

  it('replaces a lost etcd host with a new member, traffic unbroken, routes kept', async () => {
    const api = await dashboard();
    await api.putRoute(clusterId, route('replace-before', 'before.replace.test'));
    await reachesEveryGateway('before.replace.test');
    const old = await members();
    assertThreeStarted(old);
    const oldHa3 = old.find((m) => m.name === 'api7-etcd-3')!;

    const { result, traffic } = await underTraffic(async () => {
      await destroyEtcd('ha3');
      return replace('ha3');
    });
    assert.equal(result.etcd?.swapped, true);
    assert.equal(result.etcd?.oldMember?.id, oldHa3.id);
    assert.ok(traffic.requests > 50, `probed all along: ${traffic.requests} requests`);
    assert.deepEqual(traffic.failures, [], `0 of ${traffic.requests} requests failed`);

    const now = await members();
    assertThreeStarted(now);
    const newHa3 = now.find((m) => m.name === 'api7-etcd-3')!;
    assert.notEqual(newHa3.id, oldHa3.id, 'ha3 has a new member id');
    for (const n of ['api7-etcd-1', 'api7-etcd-2'])
      assert.equal(now.find((m) => m.name === n)?.id, old.find((m) => m.name === n)?.id);
    await sameHashKv();

    const kept = await etcdctl(
      lab,
      'get',
      `/api7/${clusterId}/routes/replace-before`,
      '--print-value-only',
    );
    assert.match(kept.stdout, /before\.replace\.test/, 'the route written before is there');
    await api.putRoute(clusterId, route('replace-after', 'after.replace.test'));
    await reachesEveryGateway('after.replace.test');
    // The new member serves it too (asked alone, serializable: its own copy).
    const local = await etcdctl(
      {
        ...lab,
        inventory: { ...lab.inventory, hosts: lab.inventory.hosts.filter((h) => h.name === 'ha3') },
      },
      'get',
      `/api7/${clusterId}/routes/replace-after`,
      '--print-value-only',
      '--consistency=s',
    );
    assert.match(local.stdout, /after\.replace\.test/);
  });

  it('repeating the replace, and a deploy afterwards, change nothing', async () => {
    const before = await containerSnapshot(lab);
    const ids = (await members()).map((m) => m.id).sort();
    const again = await replace('ha3');
    assert.equal(again.etcd?.swapped, false);
    assert.equal(again.etcd?.inPlace, true);
    assert.equal(again.deploy.changes, 0, JSON.stringify(again.deploy.steps));
    const deploy: DeploySummary = await (await startDeploy(client, deployInput())).result();
    assert.equal(deploy.changes, 0, JSON.stringify(deploy.steps));
    assert.deepEqual(await containerSnapshot(lab), before, 'no container recreated or restarted');
    assert.deepEqual((await members()).map((m) => m.id).sort(), ids);
  });

  it('refuses without quorum, before changing anything', async () => {
    const before = await members();
    await onHost('ha2', `docker stop ${lab.inventory.etcd.containerName}`);
    try {
      await destroyEtcd('ha3');
      const containers = await containerSnapshot(lab);
      await assert.rejects(replace('ha3'), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError);
        assert.match(rootMessage(e), /replacing the etcd member on ha3 refused/);
        assert.match(rootMessage(e), /nothing was changed/);
        assert.match(rootMessage(e), /backup/);
        return true;
      });
      assert.deepEqual(await containerSnapshot(lab), containers, 'no container touched');
    } finally {
      await onHost('ha2', `docker start ${lab.inventory.etcd.containerName}`);
    }
    await waitFor(
      'quorum back',
      async () => (await etcdctl(lab, 'member', 'list')).code === 0,
      60_000,
      500,
    );
    assert.deepEqual(
      await members(),
      before,
      'membership unchanged (the lost member still listed)',
    );
    // ha3 is still lost; with ha2 back the replace goes through.
    const r = await replace('ha3');
    assert.equal(r.etcd?.swapped, true);
    assertThreeStarted(await members());
  });

  it('a worker SIGKILL mid-replace is resumed without a second member add', async () => {
    await destroyEtcd('ha3');
    const handle = await startReplace(client, replaceInput('ha3'));
    await waitForReplace((p) => p.hosts.ha3?.done.includes('etcd member add') ?? false);
    await worker.kill('SIGKILL');
    worker = await startWorkerProcess(server.address);
    const r = await handle.result();
    assert.equal(r.etcd?.swapped, true);
    const scheduled = scheduledActivities(
      await workflowHistory(server.address, handle.workflowId, handle.firstExecutionRunId),
    );
    assert.equal(scheduled.filter((a) => a.type === 'addMember').length, 1, 'one member add');
    assert.equal(scheduled.filter((a) => a.type === 'removeMember').length, 1, 'one member remove');
    assertThreeStarted(await members());
    await sameHashKv();
  });
});
