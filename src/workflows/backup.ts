// backupEtcd: a checked etcd snapshot on the operator's side, as the day-2 procedure goes:
// make sure nothing else works on the cluster, find a healthy member (quorum first),
// `etcdctl snapshot save` on its host, `snapshot status` it, download it and check its
// sha256, write its manifest, prune past retention, and leave no copy on the host.
// Only the manifest passes through history, never the snapshot.
import {
  ApplicationFailure,
  ActivityFailure,
  CancellationScope,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackupActivities } from '../activities';
import type { BackupInput, RemoteSnapshot } from '../activities/backup';
import type { BackupManifest } from '../backup/manifest';
import {
  activityOptions,
  BACKUP_ATTEMPTS,
  BACKUP_SNAPSHOT_TRIES,
  retryPolicy,
  STEP_TIMEOUT,
  UPLOAD_TIMEOUT,
} from './activity-options';
import { CLUSTER, PHASE } from '../temporal/search-attributes';

export type { BackupInput } from '../activities/backup';

export interface BackupResult {
  manifest: BackupManifest;
  /** The snapshot on the worker's machine. */
  path: string;
  /** Files the retention rule removed. */
  pruned: string[];
  kept: number;
  /** Members that were not healthy when the backup ran. */
  unhealthy: string[];
}

const retry = retryPolicy(BACKUP_ATTEMPTS, '10s');
const act = proxyActivities<BackupActivities>(activityOptions(STEP_TIMEOUT, retry));
const transfer = proxyActivities<BackupActivities>(activityOptions(UPLOAD_TIMEOUT, retry));

const changedOnHost = (e: unknown) =>
  e instanceof ActivityFailure &&
  e.cause instanceof ApplicationFailure &&
  e.cause.type === 'SnapshotChanged';

export async function backupEtcd(input: BackupInput): Promise<BackupResult> {
  const inv = input.inventory;
  const self = workflowInfo().workflowId;
  const enter = (phase: string, detail = '') => {
    upsertSearchAttributes([{ key: PHASE, value: phase }]);
    setCurrentDetails(`**etcd backup of ${inv.cluster}**: ${phase}${detail ? ` — ${detail}` : ''}`);
  };
  upsertSearchAttributes([{ key: CLUSTER, value: inv.cluster }]);

  enter('exclusion');
  const exclusion = await act.checkBackupExclusion.executeWithOptions(
    {
      ...activityOptions(STEP_TIMEOUT, retry),
      summary: `check no deploy, verification or other backup of ${inv.cluster} runs`,
    },
    // A deploy's backup before a version change is its child: the parent is no blocker.
    [inv.cluster, self, workflowInfo().parent?.workflowId],
  );
  if (exclusion.blockedBy)
    throw ApplicationFailure.nonRetryable(
      `backup refused: ${exclusion.blockedBy}; try again when it has finished`,
      'BackupRefused',
    );

  enter('member');
  const source = await act.pickBackupMember.executeWithOptions(
    {
      ...activityOptions(STEP_TIMEOUT, retry),
      summary: 'check quorum and pick a healthy etcd member',
    },
    [input],
  );

  let stored: (BackupManifest & { path: string }) | undefined;
  try {
    for (let attempt = 1; !stored; attempt++) {
      enter('snapshot', `${source.host} (${source.member})`);
      const snap: RemoteSnapshot = await act.takeSnapshot.executeWithOptions(
        {
          ...activityOptions(STEP_TIMEOUT, retry),
          summary: `${source.host}: etcdctl snapshot save and status`,
        },
        [input, source],
      );
      enter('download', `revision ${snap.status.revision}, ${snap.keys} keys`);
      try {
        stored = await transfer.storeSnapshot.executeWithOptions(
          {
            ...activityOptions(UPLOAD_TIMEOUT, retry),
            summary: `${source.host}: download the snapshot, check its sha256, write the manifest`,
          },
          [input, source, snap, self],
        );
      } catch (e) {
        if (!changedOnHost(e) || attempt >= BACKUP_SNAPSHOT_TRIES) throw e;
      }
    }
  } finally {
    // Also after a failure or a cancellation: the host keeps no copy of the keyspace.
    await CancellationScope.nonCancellable(() =>
      act.removeRemoteSnapshot.executeWithOptions(
        {
          ...activityOptions(STEP_TIMEOUT, retry),
          summary: `${source.host}: remove the snapshot from the host`,
        },
        [input, source.host],
      ),
    ).catch((e: unknown) => {
      if (stored) throw e; // else the step's own failure is the one to report
    });
  }

  enter('prune');
  const pruned = await act.pruneLocalBackups.executeWithOptions(
    {
      ...activityOptions(STEP_TIMEOUT, retry),
      summary: `keep the newest ${inv.backup.keep} backups of ${inv.cluster}`,
    },
    [input],
  );
  const { path, ...manifest } = stored;
  enter('done', `${manifest.file}, revision ${manifest.revision}`);
  return { manifest, path, pruned: pruned.removed, kept: pruned.kept, unhealthy: source.unhealthy };
}
