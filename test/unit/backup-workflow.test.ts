// backupEtcd's logic on a local TestWorkflowEnvironment with fake activities: the order
// of the steps, a snapshot taken again when the host's copy changed under the download,
// the host cleaned after a failure too, and the refusal during a deploy with the REAL
// lookup (checkBackupExclusion against the local server).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import type { BackupActivities } from '../../src/activities';
import { checkBackupExclusion, type BackupSource } from '../../src/activities/backup';
import { MANIFEST_FORMAT } from '../../src/backup/manifest';
import { rootMessage } from '../../src/cli/deploy';
import { checkExclusion } from '../../src/temporal/lookup';
import { runningRuns } from '../../src/temporal/cluster-lock';
import { backupEtcd, deployHA, verifyHA } from '../../src/workflows';
import {
  Calls,
  fakeDeployActivities,
  fakeVerifyActivities,
  fatal,
  gate,
  sleep,
} from '../support/fakes';
import {
  deployInput,
  inventory,
  workflowEnvForFile,
  verifyInput,
  withWorker,
} from '../support/workflow-env';

// Lookups of other runs connect as the worker does.
const t = workflowEnvForFile({ lookups: true });

const source: BackupSource = {
  host: 'ha2',
  member: 'api7-etcd-2',
  endpoint: '10.0.0.12:2379',
  etcdVersion: '3.4.23',
  etcdClusterId: '99',
  authEnabled: false,
  members: [{ name: 'api7-etcd-2', peerUrl: 'http://10.0.0.12:2380' }],
  unhealthy: [],
};

function fakes(calls: Calls, over: Partial<BackupActivities> = {}): BackupActivities {
  let taken = 0;
  return calls.record<BackupActivities>({
    checkBackupExclusion: async () => ({}),
    pickBackupMember: async () => source,
    takeSnapshot: async () => ({
      host: 'ha2',
      takenAt: `2026-12-02T13:00:0${taken++}.000Z`,
      sha256: 'b'.repeat(64),
      status: { hash: 1, revision: 17, totalKey: 30, totalSize: 20480 },
      keys: 5,
    }),
    storeSnapshot: async (input, src, snap, workflowId) => ({
      format: MANIFEST_FORMAT,
      cluster: input.inventory.cluster,
      createdAt: snap.takenAt,
      file: 'x.db',
      sha256: snap.sha256,
      size: 20512,
      member: { name: src.member, host: src.host, endpoint: src.endpoint },
      members: src.members,
      etcdClusterId: src.etcdClusterId,
      etcdVersion: src.etcdVersion,
      revision: snap.status.revision,
      keys: snap.keys,
      snapshot: snap.status,
      authEnabled: src.authEnabled,
      workflowId,
      path: '/backups/x.db',
    }),
    removeRemoteSnapshot: async () => undefined,
    pruneLocalBackups: async () => ({ removed: ['old.db'], kept: 14, dir: '/backups' }),
    ...over,
  });
}

const backupOf = (cluster: string) => deployInput(inventory({ cluster }));

describe('backupEtcd workflow', { timeout: 120_000 }, () => {
  it('checks exclusion, picks a member, snapshots, stores, cleans the host, prunes', async () => {
    const calls = new Calls();
    const r = await withWorker(t, fakes(calls), (taskQueue) =>
      t.env.client.workflow.execute(backupEtcd, {
        taskQueue,
        workflowId: 'backup-wf-a',
        args: [backupOf('wf-a')],
      }),
    );
    assert.deepEqual(
      calls.list.map((c) => c.name),
      [
        'checkBackupExclusion',
        'pickBackupMember',
        'takeSnapshot',
        'storeSnapshot',
        'removeRemoteSnapshot',
        'pruneLocalBackups',
      ],
    );
    assert.equal(r.manifest.workflowId, 'backup-wf-a');
    assert.equal(r.manifest.revision, 17);
    assert.equal(r.path, '/backups/x.db');
    assert.equal('path' in r.manifest, false, 'the manifest is what is written, without the path');
    assert.deepEqual(r.pruned, ['old.db']);
    assert.deepEqual(calls.of('removeRemoteSnapshot')[0]?.args[1], 'ha2');
  });

  it('takes the snapshot again when the host copy changed under the download', async () => {
    const calls = new Calls();
    let stores = 0;
    const base = fakes(new Calls());
    const r = await withWorker(
      t,
      fakes(calls, {
        storeSnapshot: async (...args) => {
          if (stores++ === 0) throw fatal('the host copy changed', 'SnapshotChanged');
          return base.storeSnapshot(...args);
        },
      }),
      (taskQueue) =>
        t.env.client.workflow.execute(backupEtcd, {
          taskQueue,
          workflowId: 'backup-wf-b',
          args: [backupOf('wf-b')],
        }),
    );
    assert.equal(calls.of('takeSnapshot').length, 2);
    assert.equal(calls.of('storeSnapshot').length, 2);
    assert.equal(r.manifest.createdAt, '2026-12-02T13:00:01.000Z', 'the second snapshot');
  });

  it('a failed download fails the backup, and the host copy is still removed; nothing is pruned', async () => {
    const calls = new Calls();
    await withWorker(
      t,
      fakes(calls, {
        storeSnapshot: async () => {
          throw fatal('disk full on the operator side', 'LocalFileError');
        },
      }),
      async (taskQueue) => {
        await assert.rejects(
          t.env.client.workflow.execute(backupEtcd, {
            taskQueue,
            workflowId: 'backup-wf-c',
            args: [backupOf('wf-c')],
          }),
          (e: unknown) => e instanceof WorkflowFailedError && /disk full/.test(rootMessage(e)),
        );
      },
    );
    assert.equal(calls.of('removeRemoteSnapshot').length, 1);
    assert.equal(calls.of('pruneLocalBackups').length, 0);
  });

  it('is refused while a deploy of the cluster runs (real lookup), and not by another cluster', async () => {
    const calls = new Calls();
    const prepare = gate();
    const activities = {
      ...fakeDeployActivities(calls, {
        prepareHost: async (_input, host) => {
          await prepare.promise;
          return { host, changed: false, detail: 'present' };
        },
      }),
      ...fakes(calls, calls.record({ checkBackupExclusion })),
    };
    await withWorker(t, activities, async (taskQueue) => {
      const deploy = await t.env.client.workflow.start(deployHA, {
        taskQueue,
        workflowId: 'deploy-wf-d',
        args: [deployInput(inventory({ cluster: 'wf-d' }))],
      });
      for (const deadline = Date.now() + 15_000; ; await sleep(100)) {
        if ((await runningRuns(t.env.client, 'deployHA', 'wf-d')).includes('deploy-wf-d')) break;
        assert.ok(Date.now() < deadline, 'the deploy never showed as running');
      }
      await assert.rejects(
        t.env.client.workflow.execute(backupEtcd, {
          taskQueue,
          workflowId: 'backup-wf-d',
          args: [backupOf('wf-d')],
        }),
        (e: unknown) =>
          e instanceof WorkflowFailedError &&
          rootMessage(e) ===
            'backup refused: a deploy of wf-d is running (deploy-wf-d); try again when it has finished',
      );
      assert.equal(calls.of('takeSnapshot').length, 0);
      // Another cluster's backup is not held up by it.
      const other = await t.env.client.workflow.execute(backupEtcd, {
        taskQueue,
        workflowId: 'backup-wf-e',
        args: [backupOf('wf-e')],
      });
      assert.equal(other.manifest.cluster, 'wf-e');
      prepare.open();
      await deploy.result();
    });
  });

  it('a verification is refused while a backup of the cluster runs (real lookup)', async () => {
    const calls = new Calls();
    const pick = gate();
    const activities = {
      ...fakeVerifyActivities(calls, calls.record({ checkExclusion })),
      ...fakes(calls, {
        pickBackupMember: async () => {
          await pick.promise;
          return source;
        },
      }),
    };
    await withWorker(t, activities, async (taskQueue) => {
      const backup = await t.env.client.workflow.start(backupEtcd, {
        taskQueue,
        workflowId: 'backup-wf-f',
        args: [backupOf('wf-f')],
      });
      for (const deadline = Date.now() + 15_000; ; await sleep(100)) {
        if ((await runningRuns(t.env.client, 'backupEtcd', 'wf-f')).includes('backup-wf-f')) break;
        assert.ok(Date.now() < deadline, 'the backup never showed as running');
      }
      const journal = await t.env.client.workflow.execute(verifyHA, {
        taskQueue,
        workflowId: 'verify-wf-f',
        args: [verifyInput(inventory({ cluster: 'wf-f' }), { drills: ['etcd'] })],
      });
      assert.equal(
        journal.summary,
        'aborted before any fault: a backup of wf-f is running (backup-wf-f); the etcd drill would stop its member',
      );
      assert.equal(calls.of('stopComponent').length, 0);
      pick.open();
      assert.equal((await backup.result()).manifest.cluster, 'wf-f');
    });
  });
});
