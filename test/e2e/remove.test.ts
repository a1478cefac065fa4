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

  it('an etcd host (--force below 3) leaves the membership first; a deploy brings it back as a new member', async () => {
    const members = async () => {
      const r = await etcdctl(lab, 'member', 'list');
      assert.equal(r.code, 0, r.stderr);
      // id, status, name, peer URLs, client URLs, is learner
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(', '))
        .map(([id = '', status = '', name = '', peer = '']) => ({ id, status, name, peer }));
    };
    const ha3 = lab.inventory.hosts.find((h) => h.name === 'ha3')!;
    const before = await members();
    const old = before.find((m) => m.peer.includes(ha3.address));
    assert.ok(old, 'ha3 is a member before');
    const r = await remove('ha3');
    assert.equal(r.notReached, undefined);
    const after = await members();
    assert.equal(after.length, before.length - 1);
    assert.ok(!after.some((m) => m.peer.includes(ha3.address)), 'ha3 left the membership');
    const s = await sshAsRoot(lab, 'ha3');
    try {
      assert.equal((await s.exec(['docker', 'ps', '-aq'])).trim(), '', 'no container on ha3');
      const aside = await s.exec([
        'sh',
        '-c',
        'ls -d "$1".replaced-*',
        'sh',
        lab.inventory.etcd.dataDir,
      ]);
      assert.match(aside, /\.replaced-/, 'the old data dir was moved aside, not deleted');
    } finally {
      s.close();
    }
    const summary = await deploy();
    assert.equal(summary.proof.status, 200);
    const back = await members();
    const rejoined = back.find((m) => m.peer.includes(ha3.address));
    assert.equal(back.length, before.length);
    assert.ok(rejoined && rejoined.status === 'started', `ha3 rejoined: ${JSON.stringify(back)}`);
    assert.notEqual(rejoined.id, old.id, 'as a new member');
    const hash = await etcdctl(lab, 'endpoint', 'hashkv', '-w', 'json');
    assert.equal(hash.code, 0, hash.stderr);
    const hashes = (JSON.parse(hash.stdout) as Array<{ HashKV: { hash: number } }>).map(
      (e) => e.HashKV.hash,
    );
    assert.equal(hashes.length, 3);
    assert.equal(new Set(hashes).size, 1, `one KV hash: ${hashes.join(', ')}`);
  });
});
