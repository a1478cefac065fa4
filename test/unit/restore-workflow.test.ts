// restoreEtcd's logic on a local TestWorkflowEnvironment with fake activities: the order
// of the steps (nothing stops before every host has a checked snapshot), the moved-aside
// dirs in the result, a refused snapshot stopping nothing, the second restore of the same
// snapshot changing nothing, gateways restarted at most half at a time, the hosts cleaned
// after a failure too, and the lock (real lookup) against a running deploy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import type { BackupActivities, RestoreActivities } from '../../src/activities';
import { checkBackupExclusion } from '../../src/activities/backup';
import { checkRestoreExclusion, type RestoreInput } from '../../src/activities/restore';
import { MANIFEST_FORMAT, type BackupManifest } from '../../src/backup/manifest';
import { rootMessage } from '../../src/cli/deploy';
import { runningRuns } from '../../src/temporal/cluster-lock';
import { deployHA, restoreEtcd } from '../../src/workflows';
import { Calls, fakeDeployActivities, fatal, gate, sleep } from '../support/fakes';
import { deployInput, inventory, withWorker, workflowEnvForFile } from '../support/workflow-env';

const t = workflowEnvForFile({ lookups: true });

const manifest = (cluster: string): BackupManifest => ({
  format: MANIFEST_FORMAT,
  cluster,
  createdAt: '2026-12-02T13:00:00.000Z',
  file: `${cluster}-20261202T130000Z-r17.db`,
  sha256: 'b'.repeat(64),
  size: 20512,
  member: { name: 'api7-etcd-2', host: 'ha2', endpoint: '10.0.0.12:2379' },
  members: [],
  etcdClusterId: '99',
  etcdVersion: '3.4.23',
  revision: 17,
  keys: 5,
  snapshot: { hash: 1, revision: 17, totalKey: 30, totalSize: 20480 },
  authEnabled: true,
  workflowId: 'backup-x',
});

const restoreOf = (cluster: string, dataPlaneHosts?: number): RestoreInput => ({
  ...deployInput(inventory({ cluster, dataPlaneHosts })),
  snapshot: `/backups/${cluster}-20261202T130000Z-r17.db`,
});

const step = (host: string, detail: string) => ({ host, changed: true, detail });

function fakes(
  calls: Calls,
  over: Partial<RestoreActivities & BackupActivities> = {},
): RestoreActivities & Pick<BackupActivities, 'removeRemoteSnapshot'> {
  return calls.record({
    checkRestoreExclusion: async () => ({}),
    checkRestoreSnapshot: async (input: RestoreInput) => ({
      path: input.snapshot,
      manifest: manifest(input.inventory.cluster),
      warnings: [],
    }),
    readRestoreState: async () => ({
      markers: [],
      already: { yes: false as const, why: 'a member host has no restore marker' },
    }),
    uploadSnapshot: async (_i: RestoreInput, h: string) => step(h, 'uploaded'),
    stopDashboard: async (_i: RestoreInput, h: string) => step(h, 'stopped'),
    stopEtcdMember: async (_i: RestoreInput, h: string) => step(h, 'stopped'),
    restoreMember: async (_i: RestoreInput, h: string, plan: { stamp: string }) => ({
      ...step(h, 'restored'),
      movedAside: `/usr/local/etcd/etcd_data.before-restore-${plan.stamp}`,
    }),
    checkRestoredCluster: async () => ({
      etcdClusterId: 'c1',
      memberIds: ['a', 'b', 'c'],
      revision: 17,
      authEnabled: true,
      users: ['root'],
      roles: ['root'],
      problems: [],
    }),
    recordRestore: async () => undefined,
    startDashboardAgain: async (_i: RestoreInput, h: string) => step(h, 'started'),
    restoredGatewayCluster: async () => 'gc1',
    restartGateway: async (_i: RestoreInput, h: string) => step(h, 'restarted'),
    removeRemoteSnapshot: async () => undefined,
    ...over,
  } as RestoreActivities & Pick<BackupActivities, 'removeRemoteSnapshot'>);
}

const all = (calls: Calls, over: Partial<RestoreActivities & BackupActivities> = {}) => ({
  ...fakeDeployActivities(calls),
  ...fakes(calls, over),
});

const firstIndex = (names: string[], name: string) => names.indexOf(name);
const lastIndex = (names: string[], name: string) => names.lastIndexOf(name);

describe('restoreEtcd workflow', { timeout: 120_000 }, () => {
  it('checks, uploads everywhere before anything stops, then stops, rebuilds, starts, proves', async () => {
    const calls = new Calls();
    const r = await withWorker(t, all(calls), (taskQueue) =>
      t.env.client.workflow.execute(restoreEtcd, {
        taskQueue,
        workflowId: 'restore-wf-a',
        args: [restoreOf('wf-a')],
      }),
    );
    const names = calls.list.map((c) => c.name);
    assert.deepEqual(names.slice(0, 3), [
      'checkRestoreExclusion',
      'checkRestoreSnapshot',
      'readRestoreState',
    ]);
    const order = [
      'uploadSnapshot',
      'stopDashboard',
      'stopEtcdMember',
      'restoreMember',
      'startEtcdMember',
      'waitForQuorum',
      'checkRestoredCluster',
      'recordRestore',
      'startDashboardAgain',
      'restoredGatewayCluster',
      'restartGateway',
      'proveTraffic',
    ];
    for (let i = 1; i < order.length; i++)
      assert.ok(
        lastIndex(names, order[i - 1]!) < firstIndex(names, order[i]!),
        `${order[i - 1]} before ${order[i]}: ${names.join(', ')}`,
      );
    assert.deepEqual(
      calls
        .of('uploadSnapshot')
        .map((c) => c.args[1] as string)
        .sort(),
      ['ha1', 'ha2', 'ha3'],
    );
    assert.deepEqual(
      calls
        .of('stopDashboard')
        .map((c) => c.args[1] as string)
        .sort(),
      ['ha1', 'ha2'],
    );
    assert.equal(calls.of('removeRemoteSnapshot').length, 3, 'every member host cleaned');
    // One stamp for every member, from the run's start; moved-aside dirs in the result.
    const stamps = new Set(
      calls.of('restoreMember').map((c) => (c.args[2] as { stamp: string }).stamp),
    );
    assert.equal(stamps.size, 1);
    const [stamp] = [...stamps];
    assert.match(stamp!, /^[0-9]{8}T[0-9]{6}Z$/);
    assert.deepEqual(r.movedAside, {
      ha1: `/usr/local/etcd/etcd_data.before-restore-${stamp}`,
      ha2: `/usr/local/etcd/etcd_data.before-restore-${stamp}`,
      ha3: `/usr/local/etcd/etcd_data.before-restore-${stamp}`,
    });
    assert.equal(r.alreadyRestored, false);
    assert.deepEqual(r.memberIds, ['a', 'b', 'c']);
    assert.equal(r.revision, 17);
  });

  it('a refused snapshot stops nothing', async () => {
    const calls = new Calls();
    await withWorker(
      t,
      all(calls, {
        checkRestoreSnapshot: async () => {
          throw fatal('--snapshot: x.db has sha256 0000, its manifest says bbbb', 'RestoreRefused');
        },
      }),
      (taskQueue) =>
        assert.rejects(
          t.env.client.workflow.execute(restoreEtcd, {
            taskQueue,
            workflowId: 'restore-wf-b',
            args: [restoreOf('wf-b')],
          }),
          (e: unknown) => e instanceof WorkflowFailedError && /has sha256/.test(rootMessage(e)),
        ),
    );
    assert.deepEqual(
      calls.list.map((c) => c.name),
      ['checkRestoreExclusion', 'checkRestoreSnapshot'],
    );
  });

  it('a failed upload on one host stops nothing, and the hosts are cleaned', async () => {
    const calls = new Calls();
    await withWorker(
      t,
      all(calls, {
        uploadSnapshot: async (_i, h) => {
          if (h === 'ha3') throw fatal('ha3: etcd says the file differs', 'RestoreRefused');
          return step(h, 'uploaded');
        },
      }),
      (taskQueue) =>
        assert.rejects(
          t.env.client.workflow.execute(restoreEtcd, {
            taskQueue,
            workflowId: 'restore-wf-c',
            args: [restoreOf('wf-c')],
          }),
        ),
    );
    assert.equal(calls.of('stopDashboard').length, 0);
    assert.equal(calls.of('stopEtcdMember').length, 0);
    assert.equal(calls.of('removeRemoteSnapshot').length, 3);
  });

  it('the same snapshot again: already restored, nothing stopped or changed', async () => {
    const calls = new Calls();
    const r = await withWorker(
      t,
      all(calls, {
        readRestoreState: async () => ({
          markers: [],
          live: { etcdClusterId: 'c1', memberIds: ['a', 'b', 'c'] },
          already: { yes: true as const, stamp: '20261202T130000Z' },
        }),
      }),
      (taskQueue) =>
        t.env.client.workflow.execute(restoreEtcd, {
          taskQueue,
          workflowId: 'restore-wf-d',
          args: [restoreOf('wf-d')],
        }),
    );
    assert.equal(r.alreadyRestored, true);
    assert.equal(r.etcdClusterId, 'c1');
    assert.deepEqual(r.movedAside, {});
    assert.deepEqual(
      calls.list.map((c) => c.name),
      ['checkRestoreExclusion', 'checkRestoreSnapshot', 'readRestoreState'],
    );
  });

  it('restarts the gateways at most half at a time', async () => {
    const calls = new Calls();
    let running = 0;
    let most = 0;
    await withWorker(
      t,
      all(calls, {
        restartGateway: async (_i, h) => {
          most = Math.max(most, ++running);
          await sleep(200);
          running--;
          return step(h, 'restarted');
        },
      }),
      (taskQueue) =>
        t.env.client.workflow.execute(restoreEtcd, {
          taskQueue,
          workflowId: 'restore-wf-e',
          args: [restoreOf('wf-e', 4)],
        }),
    );
    assert.equal(calls.of('restartGateway').length, 4);
    assert.equal(most, 2);
  });

  it('auth that did not come back fails the restore before the dashboards start', async () => {
    const calls = new Calls();
    await withWorker(
      t,
      all(calls, {
        checkRestoredCluster: async () => ({
          etcdClusterId: 'c1',
          memberIds: ['a', 'b', 'c'],
          revision: 17,
          authEnabled: false,
          users: [],
          roles: [],
          problems: ['the snapshot had authentication on, the restored cluster has it off'],
        }),
      }),
      (taskQueue) =>
        assert.rejects(
          t.env.client.workflow.execute(restoreEtcd, {
            taskQueue,
            workflowId: 'restore-wf-f',
            args: [restoreOf('wf-f')],
          }),
          (e: unknown) =>
            e instanceof WorkflowFailedError && /authentication on/.test(rootMessage(e)),
        ),
    );
    assert.equal(calls.of('startDashboardAgain').length, 0);
  });

  it('is refused while a deploy of the cluster runs (real lookup)', async () => {
    const calls = new Calls();
    const prepare = gate();
    const activities = {
      ...fakeDeployActivities(calls, {
        prepareHost: async (_input, host) => {
          await prepare.promise;
          return { host, changed: false, detail: 'present' };
        },
      }),
      ...fakes(calls, calls.record({ checkRestoreExclusion })),
    };
    await withWorker(t, activities, async (taskQueue) => {
      const deploy = await t.env.client.workflow.start(deployHA, {
        taskQueue,
        workflowId: 'deploy-wf-g',
        args: [deployInput(inventory({ cluster: 'wf-g' }))],
      });
      for (const deadline = Date.now() + 15_000; ; await sleep(100)) {
        if ((await runningRuns(t.env.client, 'deployHA', 'wf-g')).includes('deploy-wf-g')) break;
        assert.ok(Date.now() < deadline, 'the deploy never showed as running');
      }
      await assert.rejects(
        t.env.client.workflow.execute(restoreEtcd, {
          taskQueue,
          workflowId: 'restore-wf-g',
          args: [restoreOf('wf-g')],
        }),
        (e: unknown) =>
          e instanceof WorkflowFailedError &&
          rootMessage(e) ===
            'restore refused: a deploy of wf-g is running (deploy-wf-g); try again when it has finished',
      );
      assert.equal(calls.of('uploadSnapshot').length, 0);
      prepare.open();
      await deploy.result();
    });
  });
});

describe('deployHA: an etcd backup before a bundle version change', { timeout: 120_000 }, () => {
  const backupFakes = (calls: Calls): BackupActivities =>
    calls.record<BackupActivities>({
      // The real lock: the parent deploy is running, and must not refuse its own backup.
      checkBackupExclusion,
      pickBackupMember: async () => ({
        host: 'ha2',
        member: 'api7-etcd-2',
        endpoint: '10.0.0.12:2379',
        etcdVersion: '3.4.23',
        etcdClusterId: '99',
        authEnabled: false,
        members: [],
        unhealthy: [],
      }),
      takeSnapshot: async () => ({
        host: 'ha2',
        takenAt: '2026-12-02T13:00:00.000Z',
        sha256: 'b'.repeat(64),
        status: { hash: 1, revision: 17, totalKey: 30, totalSize: 20480 },
        keys: 5,
      }),
      storeSnapshot: async (input) => ({ ...manifest(input.inventory.cluster), path: '/b/x.db' }),
      removeRemoteSnapshot: async () => undefined,
      pruneLocalBackups: async () => ({ removed: [], kept: 1, dir: '/b' }),
    });

  it('backs up (as a child, let through the lock) before any host changes, and says so', async () => {
    const calls = new Calls();
    const activities = {
      ...fakeDeployActivities(calls, {
        bundleChanges: async () => [
          'ha4: gateway runs api7-gateway-1, the inventory has api7-gateway-2',
        ],
      }),
      ...backupFakes(calls),
    };
    const summary = await withWorker(t, activities, (taskQueue) =>
      t.env.client.workflow.execute(deployHA, {
        taskQueue,
        workflowId: 'deploy-wf-h',
        args: [deployInput(inventory({ cluster: 'wf-h' }))],
      }),
    );
    const names = calls.list.map((c) => c.name);
    assert.ok(names.indexOf('storeSnapshot') > 0, names.join(', '));
    assert.ok(names.indexOf('storeSnapshot') < names.indexOf('prepareHost'), names.join(', '));
    assert.ok(names.indexOf('preflightHost') < names.indexOf('bundleChanges'));
    assert.match(summary.warnings.join('\n'), /backed up first to \/b\/x\.db/);
  });

  it('no backup without a version change, nor with --no-backup', async () => {
    for (const [id, changes, noBackup] of [
      ['deploy-wf-i', [], false],
      ['deploy-wf-j', ['ha4: gateway runs a, the inventory has b'], true],
    ] as const) {
      const calls = new Calls();
      const activities = {
        ...fakeDeployActivities(calls, { bundleChanges: async () => [...changes] }),
        ...backupFakes(calls),
      };
      await withWorker(t, activities, (taskQueue) =>
        t.env.client.workflow.execute(deployHA, {
          taskQueue,
          workflowId: id,
          args: [{ ...deployInput(inventory({ cluster: id.slice(7) })), noBackup }],
        }),
      );
      assert.equal(calls.of('takeSnapshot').length, 0, id);
      assert.equal(calls.of('bundleChanges').length, noBackup ? 0 : 1, id);
    }
  });
});
