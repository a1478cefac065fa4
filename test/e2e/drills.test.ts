// The harsher drills and the safeguards on the deployed lab, with one deploy shared by
// every test: host (a whole host cut off), etcd-partition, gateway-restart-degraded, a
// safeguard tripped by a second component stopped by hand, and a worker SIGKILL during
// each new drill's fault. Asserted with docker and iptables (over SSH), etcdctl and curl.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import type { DeployInput } from '../../src/activities/context';
import { startDeploy } from '../../src/cli/deploy';
import { startVerify } from '../../src/cli/verify';
import type { LoadedInventory } from '../../src/config/load';
import { waitFor } from '../../src/util/exec';
import type { DrillName, Journal } from '../../src/workflows/journal';
import type { VerifyInput } from '../../src/workflows/verify';
import { containerSnapshot, curlThroughDataPlane, etcdctl } from '../support/cluster';
import { sshAsRoot, sharedLab } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(37243);
let lab: LoadedInventory;
let input: DeployInput;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;

const quick = (over: VerifyInput['options'] = {}): VerifyInput => ({
  ...input,
  options: { rate: 20, holdMs: 6000, ...over },
});

/** api7-ha's packet-filter chains on a host (iptables -S as root, over SSH). */
async function cutChains(host: string): Promise<string[]> {
  const s = await sshAsRoot(lab, host);
  try {
    return (await s.exec(['iptables', '-w', '-S']))
      .split('\n')
      .filter((l) => l.includes('API7HA-CUT'));
  } finally {
    s.close();
  }
}

async function onHost(host: string, argv: string[]) {
  const s = await sshAsRoot(lab, host);
  try {
    return await s.exec(argv);
  } finally {
    s.close();
  }
}

/** Every container runs, etcd has three healthy members with one HashKV, no filter is left. */
async function assertFullyRestored() {
  const snapshot = await containerSnapshot(lab);
  for (const h of lab.inventory.hosts) {
    const running = (snapshot[h.name] ?? []).filter((c) => c.running);
    assert.equal(running.length, h.roles.length, `${h.name}: ${JSON.stringify(snapshot[h.name])}`);
    assert.deepEqual(await cutChains(h.name), [], `${h.name} has no api7-ha filter left`);
  }
  const health = await etcdctl(lab, 'endpoint', 'health');
  assert.equal((health.stdout + health.stderr).match(/is healthy/g)?.length, 3, health.stderr);
  await waitFor(
    'one HashKV on all three members',
    async () => {
      const r = await etcdctl(lab, 'endpoint', 'hashkv', '-w', 'json');
      const hashes = (JSON.parse(r.stdout) as Array<{ HashKV: { hash: number } }>).map(
        (e) => e.HashKV.hash,
      );
      return hashes.length === 3 && new Set(hashes).size === 1;
    },
    30_000,
  );
  const curl = await curlThroughDataPlane(lab);
  assert.equal(curl.stdout.split('\n')[1], '200');
}

const drillOf = (j: Journal, name: DrillName) => j.drills.find((d) => d.drill === name)!;
const why = (j: Journal) => JSON.stringify(j.drills, null, 1);

describe('the harsher drills on the deployed lab', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    input = { inventory: lab.inventory, baseDir: lab.baseDir };
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    await (await startDeploy(client, input)).result();
  });
  after(async () => {
    await worker?.kill();
    await connection?.close();
    await server.dispose();
  });

  it('host: ha1 (etcd + dashboard) cut off whole; both load balancers measured, the control plane writes, everything back', async () => {
    // A host that vanishes (no reset) costs the control plane the requests in flight
    // while the dashboards' etcd clients time out on its member (3 s in the stand-in) and
    // HAProxy marks its dashboard down (fall 2 x inter 1 s): about 4-5 s of failures at the
    // cut, the same for a 6 s and a 20 s hold. So a 30 s hold, and 25 % tolerated there.
    const j = await (
      await startVerify(
        client,
        quick({
          drills: ['host'],
          holdMs: 30_000,
          tolerances: { maxFailedRatio: 0.25, maxRecoveryMs: 60_000 },
        }),
      )
    ).result();
    const d = drillOf(j, 'host');
    assert.equal(d.host, 'ha1');
    assert.equal(d.verdict, 'passed', why(j));
    assert.ok(d.probe && d.probe.requests >= 500, 'the data plane was probed');
    assert.equal(d.probe.failures, 0, `the data plane lost nothing: ${d.probe.errors.join('; ')}`);
    assert.ok(d.controlPlaneProbe && d.controlPlaneProbe.requests >= 500, 'the control plane too');
    assert.equal(d.checks?.routeWritten, true);
    assert.equal(d.checks?.routeReadBack, true);
    assert.equal(d.checks?.gatewaysRouted, true);
    assert.equal(d.checks?.healthyMembers, 2);
    assert.ok(d.restored && (d.recoveryMs ?? -1) >= 0);
    await assertFullyRestored();
  });

  it('etcd-partition: the cut-off member answers no linearizable read, the majority does, gateways route the new route, HashKV equal after heal', async () => {
    const handle = await startVerify(
      client,
      quick({ drills: ['etcd-partition'], hosts: { 'etcd-partition': 'ha2' } }),
    );
    await waitFor(
      'the partition',
      async () => (await handle.query<Journal>('progress')).drills[0]?.faultAt !== undefined,
      60_000,
      200,
    );
    // The member's process keeps running while it is cut off.
    const running = (await containerSnapshot(lab)).ha2!.filter((c) => c.running).map((c) => c.name);
    assert.ok(running.includes('etcd'), running.join(', '));
    assert.ok((await cutChains('ha2')).length > 0, 'the filter is on ha2');
    const j = await handle.result();
    const d = drillOf(j, 'etcd-partition');
    assert.equal(d.verdict, 'passed', why(j));
    assert.equal(d.checks?.isolatedAnsweredLinearizableRead, false);
    assert.ok(String(d.checks?.isolatedReadError).length > 0, 'etcdctl said why');
    assert.equal(d.checks?.majorityAnsweredLinearizableRead, true);
    assert.equal(d.checks?.gatewaysRouted, true);
    assert.equal(d.checks?.hashKvEqualAfterHeal, true);
    await assertFullyRestored();
  });

  it('gateway-restart-degraded: with an etcd member down a restarted gateway comes back, takes traffic and routes a new route', async () => {
    const j = await (
      await startVerify(client, quick({ drills: ['gateway-restart-degraded'] }))
    ).result();
    const d = drillOf(j, 'gateway-restart-degraded');
    assert.equal(d.verdict, 'passed', why(j));
    assert.equal(d.checks?.gatewayBack, true);
    assert.equal(d.checks?.takesLbTraffic, true);
    assert.equal(d.checks?.gatewaysRouted, true);
    await assertFullyRestored();
  });

  it('a second component stopped by hand during a fault trips a safeguard: aborted early, the target restored, the safeguard reported', async () => {
    const handle = await startVerify(
      client,
      quick({ drills: ['data-plane'], holdMs: 90_000, hosts: { 'data-plane': 'ha4' } }),
    );
    await waitFor(
      'the gateway fault',
      async () => (await handle.query<Journal>('progress')).drills[0]?.faultAt !== undefined,
      60_000,
      200,
    );
    const started = Date.now();
    await onHost('ha3', ['docker', 'stop', 'etcd']);
    try {
      const j = await handle.result();
      assert.ok(Date.now() - started < 60_000, 'aborted well before the 90 s hold ended');
      const d = j.drills[0]!;
      assert.equal(j.verdict, 'aborted');
      assert.equal(d.verdict, 'aborted');
      assert.equal(d.safeguard?.safeguard, 'second-component', why(j));
      assert.match(d.safeguard?.detail ?? '', /etcd member on ha3/);
      assert.ok(d.safeguard?.at, 'when it tripped');
      assert.match(d.reasons.join(' '), /safeguard second-component tripped/);
      assert.equal(d.restored, true);
      const ha4 = (await containerSnapshot(lab)).ha4!.filter((c) => c.running);
      assert.equal(ha4.length, 1, 'the gateway on ha4 was restored');
    } finally {
      await onHost('ha3', ['docker', 'start', 'etcd']);
    }
    let last = '';
    await waitFor(
      'etcd on ha3 healthy again',
      async () => {
        const r = await etcdctl(lab, 'endpoint', 'health');
        last = r.stdout + r.stderr;
        return last.match(/is healthy/g)?.length === 3;
      },
      60_000,
      1000,
    ).catch(async (e: unknown) => {
      const ps = await onHost('ha3', ['docker', 'ps', '-a']).catch((x: unknown) => String(x));
      throw new Error(`${String(e)}\netcdctl: ${last}\nha3: ${ps}`);
    });
    await assertFullyRestored();
  });

  for (const drill of ['host', 'etcd-partition', 'gateway-restart-degraded'] as const)
    it(`a worker SIGKILL during the ${drill} fault still ends with the fault restored`, async () => {
      const handle = await startVerify(client, quick({ drills: [drill], holdMs: 10_000 }));
      await waitFor(
        `the ${drill} fault`,
        async () => (await handle.query<Journal>('progress')).drills[0]?.faultAt !== undefined,
        90_000,
        200,
      );
      await worker.kill('SIGKILL');
      worker = await startWorkerProcess(server.address);
      const j = await handle.result();
      const d = j.drills[0]!;
      assert.equal(d.restored, true, why(j));
      assert.ok(d.restoredAt, why(j));
      await assertFullyRestored();
    });
});
