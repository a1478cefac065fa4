// restoreEtcd: rebuild the cluster's etcd from a backup, as etcd's disaster-recovery
// procedure goes (docs/backup.md, DR runbook):
//   nothing else works on the cluster → the snapshot is checked (sha256, manifest, this
//   cluster) → unless the cluster already is that restore, it is uploaded to every member
//   and checked there by etcd → the dashboards stop (nothing writes) → every member stops
//   → each data dir is moved aside and rebuilt from the snapshot with the inventory's
//   names, peer URLs and a new token → the members start (the deploy's own start) →
//   quorum → auth, users and roles came back → the dashboards start → the gateways
//   restart at most half at a time (they read etcd anew: a watch from a newer revision
//   would miss changes, apache/apisix #11144) → the proof through the data-plane LB.
// Every step is idempotent; after a worker crash the run resumes where it was.
import {
  ApplicationFailure,
  CancellationScope,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RestoreActivities, BackupActivities, DeployActivities } from '../activities';
import type { RestoreInput, RestorePlan, RestoredCluster } from '../activities/restore';
import type { ProofResult } from '../activities/gateway';
import { hostsWith } from '../model/components';
import { CLUSTER } from '../temporal/search-attributes';
import {
  activityOptions,
  DEPLOY_ATTEMPTS,
  QUORUM_ATTEMPTS,
  retryPolicy,
  STEP_TIMEOUT,
  UPLOAD_TIMEOUT,
} from './activity-options';
import { RestoreTracker } from './restore-tracker';
import { Semaphore } from './semaphore';

export type { RestoreInput } from '../activities/restore';
export { restoreProgressQuery } from './restore-tracker';

export interface RestoreResult {
  cluster: string;
  snapshot: string;
  sha256: string;
  /** The snapshot's revision: the cluster's store went back to it. */
  revision: number;
  /** The cluster already was this snapshot's restore: nothing was stopped or changed. */
  alreadyRestored: boolean;
  /** The data dirs the restore moved aside, by host: the operator deletes them when sure. */
  movedAside: Record<string, string>;
  etcdClusterId?: string;
  memberIds: string[];
  auth?: Pick<RestoredCluster, 'authEnabled' | 'users' | 'roles'>;
  proof?: ProofResult;
  changes: number;
  warnings: string[];
  steps: Record<string, string[]>;
}

// A restore that has begun must get through: its steps are retried as long as a deploy's.
const retry = retryPolicy(DEPLOY_ATTEMPTS, '10s');
const base = activityOptions(STEP_TIMEOUT, retry);
const act = proxyActivities<RestoreActivities & BackupActivities & DeployActivities>(base);

export async function restoreEtcd(input: RestoreInput): Promise<RestoreResult> {
  const inv = input.inventory;
  const self = workflowInfo().workflowId;
  upsertSearchAttributes([{ key: CLUSTER, value: inv.cluster }]);
  const t = new RestoreTracker(inv);
  try {
    return await restore(input, t, self);
  } catch (e) {
    t.failed(e);
    throw e;
  }
}

async function restore(
  input: RestoreInput,
  t: RestoreTracker,
  self: string,
): Promise<RestoreResult> {
  const inv = input.inventory;
  const etcdHosts = hostsWith(inv, 'etcd').map((h) => h.name);
  const cpHosts = hostsWith(inv, 'control-plane').map((h) => h.name);
  const dpHosts = hostsWith(inv, 'data-plane').map((h) => h.name);
  const eachHost = <R>(
    hosts: string[],
    step: string,
    run: (h: string) => Promise<R & { host: string; changed: boolean; detail: string }>,
  ) => Promise.all(hosts.map((h) => t.step(h, step, () => run(h))));

  t.enter('exclusion');
  const exclusion = await act.checkRestoreExclusion.executeWithOptions(
    {
      ...base,
      summary: `check no deploy, verification, backup or other restore of ${inv.cluster} runs`,
    },
    [inv.cluster, self],
  );
  if (exclusion.blockedBy)
    throw ApplicationFailure.nonRetryable(
      `restore refused: ${exclusion.blockedBy}; try again when it has finished`,
      'RestoreRefused',
    );

  t.enter('check');
  const checked = await act.checkRestoreSnapshot.executeWithOptions(
    { ...base, summary: `check ${input.snapshot}: sha256, manifest, cluster ${inv.cluster}` },
    [input],
  );
  const m = checked.manifest;
  t.progress.snapshot = m.file;
  t.progress.warnings = checked.warnings;
  const state = await act.readRestoreState.executeWithOptions(
    { ...base, summary: 'read the restore markers and the live member list' },
    [input, m.sha256],
  );
  const earlier = state.already;
  const result: RestoreResult = {
    cluster: inv.cluster,
    snapshot: input.snapshot,
    sha256: m.sha256,
    revision: m.revision,
    alreadyRestored: earlier.yes,
    movedAside: {},
    memberIds: [],
    changes: 0,
    warnings: checked.warnings,
    steps: t.steps,
  };
  if (earlier.yes) {
    result.etcdClusterId = state.live?.etcdClusterId;
    result.memberIds = state.live?.memberIds ?? [];
    t.enter('done');
    return result;
  }

  // The run's start, e.g. 20261202T170501Z: the same after a crash (commands/restore.ts, STAMP).
  const stamp = workflowInfo()
    .startTime.toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
  const plan: RestorePlan = { sha256: m.sha256, revision: m.revision, stamp, workflowId: self };

  try {
    // Before anything stops: every member host has the file, and etcd says it is sound.
    t.enter('upload');
    await eachHost(etcdHosts, 'upload', (h) =>
      act.uploadSnapshot.executeWithOptions(
        {
          ...activityOptions(UPLOAD_TIMEOUT, retry),
          summary: `${h}: upload the snapshot, check it`,
        },
        [input, h, m],
      ),
    );

    t.enter('dashboards-stop');
    await eachHost(cpHosts, 'stop dashboard', (h) =>
      act.stopDashboard.executeWithOptions({ ...base, summary: `${h}: stop the dashboard` }, [
        input,
        h,
      ]),
    );

    t.enter('etcd-stop');
    await eachHost(etcdHosts, 'stop etcd', (h) =>
      act.stopEtcdMember.executeWithOptions({ ...base, summary: `${h}: stop the etcd member` }, [
        input,
        h,
      ]),
    );

    t.enter('restore');
    const restored = await eachHost(etcdHosts, 'restore', (h) =>
      act.restoreMember.executeWithOptions(
        { ...base, summary: `${h}: move the data dir aside, rebuild it from the snapshot` },
        [input, h, plan],
      ),
    );
    for (const r of restored) if (r.movedAside) result.movedAside[r.host] = r.movedAside;

    t.enter('etcd-start');
    await eachHost(etcdHosts, 'start etcd', (h) =>
      act.startEtcdMember.executeWithOptions({ ...base, summary: `${h}: start the etcd member` }, [
        input,
        h,
      ]),
    );
  } finally {
    // Also after a failure: the hosts keep no copy of the keyspace.
    await CancellationScope.nonCancellable(() =>
      Promise.all(
        etcdHosts.map((h) =>
          act.removeRemoteSnapshot.executeWithOptions(
            { ...base, summary: `${h}: remove the snapshot from the host` },
            [input, h],
          ),
        ),
      ),
    ).catch(() => undefined);
  }

  t.enter('quorum');
  await act.waitForQuorum.executeWithOptions(
    {
      ...base,
      retry: { ...retry, maximumAttempts: QUORUM_ATTEMPTS },
      summary: `wait for etcd quorum (${etcdHosts.length} members)`,
    },
    [input],
  );
  const cluster = await act.checkRestoredCluster.executeWithOptions(
    { ...base, summary: 'check members, revision, and that auth, users and roles came back' },
    [input, m],
  );
  if (cluster.problems.length)
    throw ApplicationFailure.nonRetryable(
      `the restored etcd is not what the snapshot held: ${cluster.problems.join('; ')}`,
      'RestoreMismatch',
    );
  result.etcdClusterId = cluster.etcdClusterId;
  result.memberIds = cluster.memberIds;
  result.auth = { authEnabled: cluster.authEnabled, users: cluster.users, roles: cluster.roles };
  await Promise.all(
    etcdHosts.map((h) =>
      act.recordRestore.executeWithOptions(
        { ...base, summary: `${h}: record the member ids this restore produced` },
        [input, h, plan, { etcdClusterId: cluster.etcdClusterId, memberIds: cluster.memberIds }],
      ),
    ),
  );

  t.enter('dashboards-start');
  await eachHost(cpHosts, 'start dashboard', (h) =>
    act.startDashboardAgain.executeWithOptions({ ...base, summary: `${h}: start the dashboard` }, [
      input,
      h,
    ]),
  );
  const clusterId = await act.restoredGatewayCluster.executeWithOptions(
    { ...base, summary: `find gateway cluster "${inv.dashboard.gatewayClusterName}"` },
    [input],
  );
  t.progress.clusterId = clusterId;

  // Restarting takes a serving gateway out of its load balancer: at most half at once.
  t.enter('gateways');
  const slots = new Semaphore(Math.max(1, Math.floor(dpHosts.length / 2)));
  await Promise.all(
    dpHosts.map((h) =>
      slots.run(() =>
        t.step(h, 'restart gateway', () =>
          act.restartGateway.executeWithOptions(
            { ...base, summary: `${h}: restart the gateway so it reads the restored etcd` },
            [input, h, clusterId],
          ),
        ),
      ),
    ),
  );

  t.enter('prove');
  result.proof = await act.proveTraffic.executeWithOptions(
    {
      ...base,
      summary: `prove ${inv.smokeTest.host}${inv.smokeTest.uri} through the data-plane load balancer`,
    },
    [input, clusterId],
  );
  result.changes = t.progress.changes;
  t.enter('done');
  return result;
}
