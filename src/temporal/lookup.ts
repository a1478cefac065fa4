// Asking Temporal about other runs of the same cluster (for mutual exclusion and
// rotation). Used by activities and the CLI, never by workflow code.
import type { Client } from '@temporalio/client';
import { activityDeps } from '../activities/deps';

/** Visibility query for runs of a workflow type for a cluster (values are schema-checked names). */
export function clusterRunsQuery(
  type: 'deployHA' | 'verifyHA' | 'backupEtcd',
  cluster: string,
  extra = '',
): string {
  return `WorkflowType = '${type}' AND Api7Cluster = '${cluster}'${extra ? ` AND ${extra}` : ''}`;
}

export async function runningRuns(
  client: Client,
  type: 'deployHA' | 'verifyHA' | 'backupEtcd',
  cluster: string,
  exceptWorkflowId?: string,
): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({
    query: clusterRunsQuery(type, cluster, `ExecutionStatus = 'Running'`),
  }))
    if (w.workflowId !== exceptWorkflowId) ids.push(w.workflowId);
  return ids;
}

export interface Exclusion {
  /** Why a verification must not run now, if it must not. */
  blockedBy?: string;
  /** How many verifications of this cluster ran before (for rotating the faulted host). */
  previousRuns: number;
}

/**
 * The verifyHA activity that keeps drills away from a running deploy or verification, and
 * counts earlier verifications (to rotate the faulted host).
 */
export async function checkExclusion(cluster: string, selfWorkflowId: string): Promise<Exclusion> {
  // The worker's client (src/activities/deps.ts).
  const client = await activityDeps().temporalClient();
  const deploys = await runningRuns(client, 'deployHA', cluster);
  const verifies = await runningRuns(client, 'verifyHA', cluster, selfWorkflowId);
  const previousRuns =
    (await client.workflow.count(clusterRunsQuery('verifyHA', cluster))).count - 1;
  const backups = await runningRuns(client, 'backupEtcd', cluster);
  const blockedBy = deploys.length
    ? `a deploy of ${cluster} is running (${deploys.join(', ')}); drills never run during a deploy`
    : verifies.length
      ? `another verification of ${cluster} is running (${verifies.join(', ')})`
      : backups.length
        ? `a backup of ${cluster} is running (${backups.join(', ')}); the etcd drill would stop its member`
        : undefined;
  return { blockedBy, previousRuns: Math.max(0, previousRuns) };
}
