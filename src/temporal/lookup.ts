// Asking Temporal about other runs of the same cluster (for mutual exclusion and
// rotation). Used by activities and the CLI, never by workflow code.
import { activityDeps } from '../activities/deps';
import { clusterBlocker, type ClusterOperation } from './cluster-lock';
import { CLUSTER } from './search-attributes';

/** Visibility query for runs of a workflow type for a cluster (values are schema-checked names). */
export function clusterRunsQuery(type: ClusterOperation, cluster: string): string {
  return `WorkflowType = '${type}' AND ${CLUSTER.name} = '${cluster}'`;
}

export interface Exclusion {
  /** Why a verification must not run now, if it must not. */
  blockedBy?: string;
  /** How many verifications of this cluster ran before (for rotating the faulted host). */
  previousRuns: number;
}

/**
 * The verifyHA activity that keeps drills away from any other operation on the cluster, and
 * counts earlier verifications (to rotate the faulted host).
 */
export async function checkExclusion(cluster: string, selfWorkflowId: string): Promise<Exclusion> {
  // The worker's client (src/activities/deps.ts).
  const client = await activityDeps().temporalClient();
  const blocked = await clusterBlocker({
    cluster,
    workflowId: selfWorkflowId,
    type: 'verifyHA',
    because: {
      deployHA: 'drills never run during a deploy',
      backupEtcd: 'the etcd drill would stop its member',
    },
  });
  const previousRuns =
    (await client.workflow.count(clusterRunsQuery('verifyHA', cluster))).count - 1;
  return { blockedBy: blocked?.message, previousRuns: Math.max(0, previousRuns) };
}
