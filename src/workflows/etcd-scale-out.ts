// Scale-out of etcd through deploy: when the inventory names etcd hosts the running cluster
// does not have, the members it has are started as always (no-ops), and each new one then
// joins on its own, one after the other (etcd-join.ts): never two membership changes at once.
import type { DeployInput } from '../activities/context';
import type { DeployTracker } from './deploy-tracker';
import { deployActs, deployOptions } from './deploy-checks';
import { joinMember } from './etcd-join';

/** The etcd hosts to join to a running cluster (none for a new cluster). */
export async function etcdHostsToJoin(input: DeployInput): Promise<string[]> {
  const plan = await deployActs.etcdJoinPlan.executeWithOptions(
    { ...deployOptions, summary: 'find etcd hosts the running cluster does not have yet' },
    [input],
  );
  return plan.joining;
}

/** Join `hosts` one at a time, each once it is ready (`ready(host)`). */
export async function joinOneByOne(
  input: DeployInput,
  t: DeployTracker,
  hosts: string[],
  ready: (host: string) => Promise<unknown>,
): Promise<void> {
  for (const host of hosts) {
    await ready(host);
    await joinMember(input, t, host);
  }
}
