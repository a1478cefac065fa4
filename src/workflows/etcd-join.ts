// One etcd member joins a running cluster, as etcd's runtime reconfiguration says (docs/day2.md):
//   member add --learner → start it (empty data dir, ETCD_INITIAL_CLUSTER_STATE=existing,
//   the cluster's members plus itself) → promote it once it has caught up → same KV hash.
// A learner never votes, so adding one never changes quorum. Callers join members one at
// a time (replace, scale-out in deploy).
import { proxyActivities } from '@temporalio/workflow';
import type { ReplaceActivities } from '../activities';
import type { DeployInput } from '../activities/context';
import { activityOptions, DEPLOY_ATTEMPTS, retryPolicy, STEP_TIMEOUT } from './activity-options';
import type { DeployTracker } from './deploy-tracker';

export const memberRetry = retryPolicy(DEPLOY_ATTEMPTS, '10s');
export const memberOptions = activityOptions(STEP_TIMEOUT, memberRetry);
export const memberActs = proxyActivities<ReplaceActivities>(memberOptions);

export async function joinMember(
  input: DeployInput,
  t: DeployTracker,
  host: string,
): Promise<void> {
  const opts = (summary: string) => ({ ...memberOptions, summary: `${host}: ${summary}` });
  const added = await t.step(host, 'etcd member add', () =>
    memberActs.addMember.executeWithOptions(opts('etcd member add (learner)'), [input, host]),
  );
  await t.step(host, 'etcd start', () =>
    memberActs.startEtcdMember.executeWithOptions(opts('start etcd member, joining the cluster'), [
      input,
      host,
      { initialCluster: added.initialCluster },
    ]),
  );
  if (added.learner)
    await t.step(host, 'etcd promote', () =>
      memberActs.promoteMember.executeWithOptions(opts('promote the learner once caught up'), [
        input,
        host,
      ]),
    );
  await t.step(host, 'etcd caught up', () =>
    memberActs.waitEtcdCaughtUp.executeWithOptions(opts('wait until it has the same KV hash'), [
      input,
      host,
    ]),
  );
}
