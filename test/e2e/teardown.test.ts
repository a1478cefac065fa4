// teardownCluster end to end on the shared lab (ha5 as the non-root sudo user behind the
// bastion, so the sudoers rules are exercised): the hosts are left with no api7-ha
// container, image or file, etcd data kept by default, a second teardown is a no-op, a
// worker SIGKILLed mid-run is resumed without redoing finished hosts, a deploy stopped
// half way is torn down too (--delete-etcd-data), and a fresh deploy afterwards works.
// Asserted with docker and test over SSH (as root), curl and the run's history. The lab is
// left deployed, as the next file expects.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { deployWorkflowId, startDeploy } from '../../src/cli/deploy';
import { startTeardown, teardownWorkflowId } from '../../src/cli/teardown';
import { footprint } from '../../src/commands/teardown';
import type { LoadedInventory } from '../../src/config/load';
import type { EtcdDataChoice } from '../../src/commands/teardown';
import { run, sleep } from '../../src/util/exec';
import type { OperationProgress } from '../../src/workflows/operation-tracker';
import type { DeployProgress } from '../../src/workflows/progress';
import type { TeardownResult } from '../../src/workflows/teardown';
import { curlThroughDataPlane } from '../support/cluster';
import { attemptsByScheduledId, scheduledActivities, workflowHistory } from '../support/history';
import { sharedLab, sshAsRoot } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(61233);
let lab: LoadedInventory;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;

const deploy = async () =>
  (await startDeploy(client, { inventory: lab.inventory, baseDir: lab.baseDir })).result();
const teardownInput = (etcdData: EtcdDataChoice) => ({
  inventory: lab.inventory,
  baseDir: lab.baseDir,
  etcdData,
});

/** What is left on a host, seen as root with docker and test. */
async function leftOn(host: string) {
  const h = lab.inventory.hosts.find((x) => x.name === host)!;
  const f = footprint(lab.inventory, h);
  const s = await sshAsRoot(lab, host);
  try {
    const lines = async (argv: string[]) => (await s.exec(argv)).split('\n').filter(Boolean);
    const present = async (p: string) => (await s.execRaw(['test', '-e', p])).code === 0;
    const files: string[] = [];
    for (const p of [...f.trees, ...f.files]) if (await present(p)) files.push(p);
    return {
      containers: await lines(['docker', 'ps', '-a', '--format', '{{.Names}}']),
      images: await lines(['docker', 'images', '--format', '{{.Repository}}:{{.Tag}}']),
      networks: (await lines(['docker', 'network', 'ls', '--format', '{{.Name}}'])).filter(
        (n) => !['bridge', 'host', 'none'].includes(n),
      ),
      files,
      etcdData: f.etcdData ? await present(`${f.etcdData}/member`) : undefined,
    };
  } finally {
    s.close();
  }
}

async function assertClean(etcdKept: boolean) {
  for (const h of lab.inventory.hosts) {
    const left = await leftOn(h.name);
    assert.deepEqual(
      { ...left, etcdData: undefined },
      { containers: [], images: [], networks: [], files: [], etcdData: undefined },
      `${h.name} still has api7-ha's things`,
    );
    if (h.roles.includes('etcd'))
      assert.equal(left.etcdData, etcdKept, `${h.name}: etcd data ${etcdKept ? 'kept' : 'gone'}`);
  }
}

async function waitForProgress<P>(
  workflowId: string,
  when: (p: P) => boolean,
  timeoutMs = 120_000,
): Promise<P> {
  const handle = client.workflow.getHandle(workflowId);
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(200)) {
    const p = await handle.query<P>('progress').catch(() => undefined);
    if (p && when(p)) return p;
  }
  throw new Error(`${workflowId}: progress never got there`);
}

describe('teardownCluster on the lab', { timeout: 20 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    await deploy(); // a no-op when an earlier file left the lab deployed
  });
  after(async () => {
    await worker?.kill();
    await connection?.close();
    await server.dispose();
  });

  it('removes every container, image and file of api7-ha, keeps etcd data, and resumes after a worker SIGKILL', async () => {
    const handle = await startTeardown(client, teardownInput('keep'));
    const seen = await waitForProgress<OperationProgress>(teardownWorkflowId('lab'), (p) =>
      Object.values(p.hosts).some((h) => h.step === 'teardown' && h.status === 'running'),
    );
    await worker.kill('SIGKILL');
    const doneBeforeKill = Object.values(seen.hosts).filter((h) => h.status === 'done').length;
    worker = await startWorkerProcess(server.address);
    const r: TeardownResult = await handle.result();
    // Each host was scheduled once; only the ones cut off by the kill ran a second attempt.
    const events = await workflowHistory(
      server.address,
      handle.workflowId,
      handle.firstExecutionRunId,
    );
    const steps = scheduledActivities(events).filter((a) => a.type === 'teardownHost');
    assert.deepEqual(steps.map((a) => a.host).sort(), ['ha1', 'ha2', 'ha3', 'ha4', 'ha5']);
    const attempts = attemptsByScheduledId(events);
    const retried = steps.filter((a) => (attempts.get(String(a.eventId)) ?? 0) > 1);
    assert.ok(retried.length <= 5 - doneBeforeKill, 'hosts done before the kill were not redone');
    for (const h of lab.inventory.hosts)
      assert.ok(r.hosts[h.name]?.removed.length, `${h.name}: ${JSON.stringify(r.hosts[h.name])}`);
    assert.match(r.hosts.ha3!.kept.join(), /etcd data \/usr\/local\/etcd\/etcd_data/);
    await assertClean(true);
    assert.notEqual((await curlThroughDataPlane(lab)).stdout.trim().split('\n').at(-1), '200');
  });

  it('a second teardown is a no-op', async () => {
    const r = await (await startTeardown(client, teardownInput('keep'))).result();
    assert.equal(r.changes, 0);
    for (const h of lab.inventory.hosts) assert.deepEqual(r.hosts[h.name]?.removed, []);
    await assertClean(true);
  });

  it('tears down a deploy stopped half way; --delete-etcd-data removes the data', async () => {
    const d = await startDeploy(client, { inventory: lab.inventory, baseDir: lab.baseDir });
    await waitForProgress<DeployProgress>(deployWorkflowId('lab'), (p) =>
      p.phasesDone.includes('etcd'),
    );
    await d.cancel();
    await d.result().catch(() => undefined);
    // A cancelled deploy closes at once, but a `docker load` it started on a host runs to
    // its end (closing the SSH channel does not stop it), and its image would appear after
    // the teardown. Known gap (closing note of session 5): wait here until none runs. The
    // lab's hosts share the machine's process table, so pgrep sees every host's.
    for (const deadline = Date.now() + 180_000; ; await sleep(500)) {
      const r = await run(['pgrep', '-f', '^docker load -i '], { allowFailure: true });
      if (r.code !== 0) break;
      assert.ok(Date.now() < deadline, `a docker load still runs: ${r.stdout}`);
    }
    assert.ok((await leftOn('ha1')).containers.includes(lab.inventory.etcd.containerName));
    const r = await (await startTeardown(client, teardownInput('delete'))).result();
    assert.match(r.hosts.ha1!.removed.join(), /etcd data/);
    await assertClean(false);
  });

  it('a fresh deploy afterwards succeeds and serves', async () => {
    const summary = await deploy();
    assert.equal(summary.proof.status, 200);
    const curl = await curlThroughDataPlane(lab);
    assert.equal(curl.stdout.trim().split('\n').at(-1), '200', curl.stderr);
  });
});
