// removeHost end to end on the shared lab (5 hosts: two gateways, so taking one out needs
// --force): the real CLI refuses below the minimum naming what would be lost (exit 2); a
// gateway host whose sshd is down is removed anyway and the rest is proven; once back, the
// same remove drains it under traffic (at most 1 % failed through the load balancer) and
// leaves nothing of api7-ha on it. The lab is deployed again at the end, as the next file
// expects.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDeploy } from '../../src/cli/deploy';
import { startRemove } from '../../src/cli/remove';
import { dataPlaneOnce } from '../../src/activities/probe';
import type { LoadedInventory } from '../../src/config/load';
import { projectRoot } from '../../src/paths';
import { run } from '../../src/util/exec';
import { hostPaths, startSshd, stopSshd } from '../../lab/hosts';
import { labPaths } from '../../lab/lab';
import { labHosts } from '../../lab/layout';
import { etcdctl } from '../support/cluster';
import { sharedLab, sshAsRoot } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(54233);
let lab: LoadedInventory;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;

const base = () => ({ inventory: lab.inventory, baseDir: lab.baseDir });
const deploy = async () => (await startDeploy(client, base())).result();
const remove = async (host: string) =>
  (await startRemove(client, { ...base(), host, force: true })).result();

describe('removeHost on the lab', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    await deploy();
  });
  after(async () => {
    const ha4 = labHosts(lab.inventory.hosts.length).find((h) => h.name === 'ha4')!;
    startSshd(ha4, hostPaths(labPaths().dir, ha4)); // no-op when it runs
    await worker?.kill();
    await connection?.close();
    await server.dispose();
  });

  it('the CLI refuses below the minimums, naming what would be lost', async () => {
    const file = labPaths().inventory;
    const r = await run(
      [
        process.execPath,
        path.join(projectRoot, 'dist', 'src', 'client.js'),
        'remove',
        '-i',
        file,
        '--host',
        'ha4',
      ],
      { allowFailure: true, env: { ...process.env, TEMPORAL_ADDRESS: server.address } },
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /removing ha4 would leave 1 gateway \(ha5\); the data plane needs 2 gateways/,
    );
    const etcd = await run(
      [
        process.execPath,
        path.join(projectRoot, 'dist', 'src', 'client.js'),
        'remove',
        '-i',
        file,
        '--host',
        'ha3',
      ],
      { allowFailure: true },
    );
    assert.equal(etcd.code, 2);
    assert.match(etcd.stderr, /would leave 2 etcd members \(ha1, ha2\)/);
  });

  it('a dead gateway host (sshd down) is removed; the rest of the cluster is healthy', async () => {
    const ha4 = labHosts(lab.inventory.hosts.length).find((h) => h.name === 'ha4')!;
    await stopSshd(ha4);
    try {
      const r = await remove('ha4');
      assert.ok(r.notReached, 'ha4 was not reached');
      assert.match(r.notReached.mayBeLeft.join(), /gateway's container/);
      assert.equal(r.proof?.status, 200);
      const health = await etcdctl(lab, 'endpoint', 'health');
      assert.equal(health.code, 0, health.stderr);
    } finally {
      startSshd(ha4, hostPaths(labPaths().dir, ha4));
    }
  });

  it('once back, the same remove drains it under traffic and leaves nothing on it', async () => {
    let requests = 0;
    let failures = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        requests++;
        if (await dataPlaneOnce(base()).catch((e: Error) => e.message)) failures++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const r = await remove('ha4');
    probing = false;
    await probe;
    assert.equal(r.notReached, undefined);
    assert.ok(requests > 20, `${requests} requests`);
    assert.ok(failures / requests <= 0.01, `${failures} of ${requests} requests failed`);
    const s = await sshAsRoot(lab, 'ha4');
    try {
      assert.equal((await s.exec(['docker', 'ps', '-aq'])).trim(), '');
      assert.notEqual((await s.execRaw(['test', '-e', '/opt/api7-ha'])).code, 0);
    } finally {
      s.close();
    }
  });

  it('a deploy of the full inventory brings ha4 back', async () => {
    const summary = await deploy();
    assert.equal(summary.proof.status, 200);
  });
});
