// teardownCluster: take away everything a deploy put on the cluster's hosts — containers,
// compose networks, loaded images, unpacked bundles, uploaded artifacts — keeping etcd's
// data directories unless the operator said delete. Nothing else works on the cluster
// meanwhile (the per-cluster lock). Every host is torn down on its own (bounded fan-out),
// each step idempotent: a host that fails does not stop the others, and the run fails at
// the end naming it; running teardown again finishes the job.
import {
  ApplicationFailure,
  upsertSearchAttributes,
  workflowInfo,
  proxyActivities,
} from '@temporalio/workflow';
import type { TeardownActivities } from '../activities';
import type { TeardownHostResult, TeardownInput } from '../activities/teardown';
import { CLUSTER } from '../temporal/search-attributes';
import { activityOptions, retryPolicy, STEP_TIMEOUT, TEARDOWN_ATTEMPTS } from './activity-options';
import { settleBounded } from './bounded';
import { failureMessage } from './failures';
import { OperationTracker } from './operation-tracker';

export type { TeardownInput } from '../activities/teardown';

export const TEARDOWN_PHASES = ['exclusion', 'teardown'] as const;

export interface TeardownResult {
  cluster: string;
  etcdData: TeardownInput['etcdData'];
  /** What each host had removed, kept and left. */
  hosts: Record<string, Pick<TeardownHostResult, 'removed' | 'kept' | 'left'>>;
  changes: number;
}

const options = activityOptions(STEP_TIMEOUT, retryPolicy(TEARDOWN_ATTEMPTS, '10s'));
const act = proxyActivities<TeardownActivities>(options);

export async function teardownCluster(input: TeardownInput): Promise<TeardownResult> {
  const inv = input.inventory;
  upsertSearchAttributes([{ key: CLUSTER, value: inv.cluster }]);
  const t = new OperationTracker('Teardown', inv.cluster, inv.hosts, TEARDOWN_PHASES);
  try {
    t.enter('exclusion');
    const lock = await act.checkTeardownExclusion.executeWithOptions(
      { ...options, summary: `check nothing else runs on ${inv.cluster}` },
      [inv.cluster, workflowInfo().workflowId],
    );
    if (lock.blockedBy)
      throw ApplicationFailure.nonRetryable(
        `teardown refused: ${lock.blockedBy}; try again when it has finished`,
        'ClusterBusy',
      );
    t.finish('exclusion');

    t.enter('teardown');
    const done = await settleBounded(inv.hosts, inv.deploy.parallelism, (h) =>
      t.step(h.name, 'teardown', () =>
        act.teardownHost.executeWithOptions(
          { ...options, summary: `${h.name}: remove api7-ha's containers, images and files` },
          [input, h.name],
        ),
      ),
    );
    const failed = done.filter((d) => !d.ok);
    if (failed.length)
      throw ApplicationFailure.nonRetryable(
        `teardown of ${inv.cluster} did not finish on ${failed.length} host(s) (the others are done; run it again):\n` +
          failed
            .map((d) => `  - ${d.item.name}: ${d.ok ? '' : failureMessage(d.error)}`)
            .join('\n'),
        'TeardownIncomplete',
      );
    t.finish('teardown');
    t.enter('done');
    const hosts: TeardownResult['hosts'] = {};
    for (const d of done)
      if (d.ok)
        hosts[d.item.name] = { removed: d.value.removed, kept: d.value.kept, left: d.value.left };
    return { cluster: inv.cluster, etcdData: input.etcdData, hosts, changes: t.progress.changes };
  } catch (e) {
    t.failed(e);
    throw e;
  }
}
