// verifyHA end to end on the deployed lab: the drills, cancellation, a degraded start,
// mutual exclusion with deploys, and a Temporal Schedule. Asserted with docker (over SSH),
// etcdctl, curl and the temporal CLI.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { DeployInput } from '../../src/activities/context';
import { startDeploy } from '../../src/cli/deploy';
import { startVerify } from '../../src/cli/verify';
import { composeArgv } from '../../src/commands/compose';
import { composeOverrides } from '../../src/commands/etcd-tls';
import { composeProject } from '../../src/commands/layout';
import { bundled } from '../../src/model/components';
import type { LoadedInventory } from '../../src/config/load';
import { projectRoot, temporalBinary } from '../../src/paths';
import { run, sleep, waitFor } from '../../src/util/exec';
import type { Journal } from '../../src/workflows/journal';
import type { VerifyInput } from '../../src/workflows/verify';
import { containerSnapshot, curlThroughDataPlane, etcdctl } from '../support/cluster';
import { rawHistory, scheduledActivities, workflowHistory } from '../support/history';
import { labSecrets, sharedLab, sshTo } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(37233);
let lab: LoadedInventory;
let input: DeployInput;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;

const quick = (over: VerifyInput['options'] = {}): VerifyInput => ({
  ...input,
  options: { rate: 20, holdMs: 6000, ...over },
});

/** Runs on the test server, listed with the temporal CLI (JSON), optionally filtered. */
async function listRuns(
  query?: string,
): Promise<Array<{ execution: { workflowId: string; runId: string } }>> {
  const args = [
    temporalBinary,
    'workflow',
    'list',
    '--address',
    server.address,
    '-o',
    'json',
    '--limit',
    '500',
  ];
  if (query) args.push('-q', query);
  return JSON.parse((await run(args)).stdout || '[]') as Array<{
    execution: { workflowId: string; runId: string };
  }>;
}

/** Every container on every host is running and etcd has its three healthy members. */
async function assertFullyRestored() {
  const snapshot = await containerSnapshot(lab);
  for (const h of lab.inventory.hosts) {
    const expected = h.roles.length; // one container per role on the lab layout
    const running = (snapshot[h.name] ?? []).filter((c) => c.running);
    assert.equal(running.length, expected, `${h.name}: ${JSON.stringify(snapshot[h.name])}`);
  }
  const health = await etcdctl(lab, 'endpoint', 'health');
  assert.equal(
    (health.stdout + health.stderr).match(/is healthy/g)?.length,
    3,
    health.stdout + health.stderr,
  );
  const curl = await curlThroughDataPlane(lab);
  assert.equal(curl.stdout.split('\n')[1], '200');
}

async function composeOnHost(host: string, args: string[]) {
  const s = await sshTo(lab, host);
  try {
    const dir = bundled(lab.inventory, 'data-plane').dir;
    await s.exec(
      composeArgv(
        'standalone',
        dir,
        composeProject(dir),
        args,
        composeOverrides(lab.inventory, dir),
      ),
    );
  } finally {
    s.close();
  }
}

describe('verifyHA on the deployed lab', { timeout: 20 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    input = { inventory: lab.inventory, baseDir: lab.baseDir };
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    // Drills need a deployed cluster: a no-op when an earlier test file left one.
    await (await startDeploy(client, input)).result();
  });
  after(async () => {
    await run(
      [temporalBinary, 'schedule', 'delete', '--address', server.address, '-s', 'verify-lab'],
      { allowFailure: true },
    );
    await worker?.kill();
    await connection?.close();
    await server.dispose();
  });

  it('all three drills pass on a healthy lab, measured, and everything runs again afterwards', async () => {
    const journal = await (await startVerify(client, quick())).result();
    assert.equal(journal.verdict, 'passed', JSON.stringify(journal.drills, null, 1));
    assert.deepEqual(
      journal.drills.map((d) => d.drill),
      ['data-plane', 'control-plane', 'etcd'],
    );
    for (const d of journal.drills) {
      assert.equal(d.restored, true);
      assert.ok((d.recoveryMs ?? -1) >= 0, `${d.drill} has a recovery time`);
      assert.ok(d.faultAt && d.restoredAt && d.faultAt < d.restoredAt);
    }
    const dp = journal.drills[0]!;
    assert.ok(
      dp.probe && dp.probe.requests >= 100,
      `the data plane was probed continuously: ${dp.probe?.requests}`,
    );
    assert.equal(
      dp.probe.failures,
      0,
      `no request failed through the data-plane load balancer: ${dp.probe.errors.join('; ')}`,
    );
    assert.ok(
      dp.probe.p50Ms > 0 && dp.probe.p50Ms <= dp.probe.p95Ms && dp.probe.p95Ms <= dp.probe.p99Ms,
    );
    const cp = journal.drills[1]!;
    assert.ok(cp.probe && cp.probe.requests >= 100);
    assert.ok(cp.probe.failedRatio <= 0.001, cp.probe.errors.join('; '));
    const etcd = journal.drills[2]!;
    assert.equal(etcd.checks?.routeWritten, true);
    assert.equal(etcd.checks?.gatewaysRouted, true);
    assert.equal(etcd.checks?.healthyMembers, 2);
    await assertFullyRestored();
  });

  it('a verification cancelled in the middle of a drill leaves the cluster fully restored; deploys are refused meanwhile', async () => {
    const handle = await startVerify(
      client,
      quick({ drills: ['data-plane'], holdMs: 60_000, hosts: { 'data-plane': 'ha5' } }),
    );
    await waitFor(
      'the data-plane fault',
      async () => (await handle.query<Journal>('progress')).drills[0]?.faultAt !== undefined,
      60_000,
      200,
    );
    const gone = await containerSnapshot(lab);
    assert.equal((gone.ha5 ?? []).length, 0, 'the gateway on ha5 is down during the drill');
    await assert.rejects(
      (async () => (await startDeploy(client, input)).result())(),
      (e: unknown) =>
        e instanceof WorkflowFailedError &&
        /a verification of lab is running/.test(String((e.cause as Error)?.cause ?? e.cause)),
    );
    await handle.cancel();
    await assert.rejects(handle.result(), /cancel/i);
    await assertFullyRestored();
  });

  it('a cluster already degraded gives "aborted" and no fault is injected', async () => {
    await composeOnHost('ha4', ['down']);
    try {
      const before = await containerSnapshot(lab);
      const handle = await startVerify(client, quick());
      const journal = await handle.result();
      assert.equal(journal.verdict, 'aborted');
      assert.match(journal.drills[0]!.reasons.join(' '), /cluster not steady: .*gateway on ha4/);
      const types = scheduledActivities(
        await workflowHistory(server.address, handle.workflowId, handle.firstExecutionRunId),
      ).map((a) => a.type);
      assert.ok(!types.includes('stopComponent'), `no fault was injected: ${types.join(', ')}`);
      assert.deepEqual(await containerSnapshot(lab), before);
    } finally {
      // As an operator would: the bundle's own cli.sh, which runs plain `compose up -d`
      // and so must pick up api7-ha's docker-compose.override.yaml (the etcd TLS mount).
      const s = await sshTo(lab, 'ha4');
      try {
        await s.exec([`${bundled(lab.inventory, 'data-plane').dir}/cli.sh`, 'start']);
      } finally {
        s.close();
      }
    }
    const ha4 = lab.inventory.hosts.find((h) => h.name === 'ha4')!.address;
    await waitFor(
      'ha4 itself serving again, reading routes from etcd over TLS',
      async () =>
        (
          await run(
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
              'Host: test.com',
              `http://${ha4}/get`,
            ],
            { allowFailure: true },
          )
        ).stdout === '200',
      60_000,
    );
    await sleep(2000);
  });

  it('a schedule runs verifyHA, is listed by `temporal schedule list`, and its verdict is found by `verify --last`', async () => {
    const cli = (...args: string[]) =>
      run([process.execPath, path.join(projectRoot, 'dist/src/client.js'), ...args], {
        env: { ...process.env, TEMPORAL_ADDRESS: server.address },
        allowFailure: true,
      });
    const created = await cli(
      'schedule',
      'create',
      '-i',
      path.join(lab.baseDir, 'inventory.yaml'),
      '--every',
      '20s',
      '--drills',
      'data-plane',
      '--hold',
      '3',
    );
    assert.equal(created.code, 0, created.stderr);
    const listed = await run([temporalBinary, 'schedule', 'list', '--address', server.address]);
    assert.match(listed.stdout, /verify-lab/);
    const scheduledRuns = () =>
      listRuns(`TemporalScheduledById = 'verify-lab' AND ExecutionStatus = 'Completed'`);
    await waitFor(
      'a scheduled verification to complete',
      async () => (await scheduledRuns()).length >= 1,
      120_000,
      1000,
    );
    assert.ok(
      (await listRuns(`TemporalScheduledById = 'verify-lab' AND Api7Verdict = 'passed'`)).length >=
        1,
      'the verdict is a search attribute the UI can filter on',
    );
    const last = await cli('verify', '--last', 'lab');
    assert.match(last.stdout, /verification of lab: .*passed/);
    assert.equal((await cli('schedule', 'delete', 'lab')).code, 0);
    assert.doesNotMatch(
      (await run([temporalBinary, 'schedule', 'list', '--address', server.address])).stdout,
      /verify-lab/,
    );
    // A scheduled run may still be finishing; let it, so the lab is left as it was.
    await waitFor(
      'no verification running',
      async () =>
        (await listRuns(`WorkflowType = 'verifyHA' AND ExecutionStatus = 'Running'`)).length === 0,
      120_000,
      1000,
    );
    await assertFullyRestored();
  });

  it('no run on the server holds a secret in any encoding, and payloads are unreadable without the key', async () => {
    // SSH key, dashboard password and token secret, etcd root password, etcd TLS keys.
    const secrets = labSecrets(lab);
    // Plain inventory text that any unencrypted workflow argument would contain.
    const plainMarkers = ['api7-ha/v1', lab.inventory.hosts[0]!.address, 'smokeTest'];
    const runs = await listRuns();
    assert.ok(runs.length >= 5, `deploys and verifications ran on this server: ${runs.length}`);
    for (const r of runs) {
      const raw = await rawHistory(server.address, r.execution.workflowId, r.execution.runId);
      for (const s of secrets)
        for (const form of encodings(s))
          assert.ok(!raw.includes(form), `${r.execution.workflowId} holds a secret`);
      for (const m of plainMarkers)
        for (const form of encodings(m))
          assert.ok(!raw.includes(form), `${r.execution.workflowId} shows "${m}" without the key`);
    }
  });
});

/** A string as it could appear in history JSON: plain, hex, or base64 at any byte alignment. */
function encodings(s: string): string[] {
  const out = [s, Buffer.from(s).toString('hex')];
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift), Buffer.from(s)]).toString('base64');
    // Drop the characters that depend on the unknown neighbours on either side.
    out.push(b64.slice(Math.ceil((shift * 4) / 3) + 1, -4));
  }
  return out.filter((x) => x.length >= 6);
}
