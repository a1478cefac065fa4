// The per-cluster lock: no two api7-ha operations on one cluster run at once. Every
// workflow starts with an activity that asks Temporal's visibility which runs of the
// cluster (search attribute Api7Cluster, set at start) are still running, and refuses when
// any other one is. Used by activities and the CLI, never by workflow code.
//
// Two operations started in the same instant may both see the other and both refuse;
// that is the safe side of the race.
import type { Client } from '@temporalio/client';
import { activityDeps } from '../activities/deps';
import { CLUSTER } from './search-attributes';

/** Every workflow type that works on a cluster, and how a refusal names a run of it. */
export const CLUSTER_OPERATIONS = {
  deployHA: 'a deploy',
  verifyHA: 'a verification',
  backupEtcd: 'a backup',
  restoreEtcd: 'a restore',
  replaceHost: 'a replace',
  removeHost: 'a remove',
  teardownCluster: 'a teardown',
} as const;

export type ClusterOperation = keyof typeof CLUSTER_OPERATIONS;

const isOperation = (type: string): type is ClusterOperation =>
  Object.prototype.hasOwnProperty.call(CLUSTER_OPERATIONS, type);

export interface RunningOperation {
  type: ClusterOperation;
  workflowId: string;
}

/** The running api7-ha operations of a cluster, except the given workflow ids. */
export async function runningOperations(
  client: Client,
  cluster: string,
  exceptWorkflowIds: readonly string[] = [],
): Promise<RunningOperation[]> {
  const found: RunningOperation[] = [];
  // Cluster names are schema-checked ([a-z0-9-]), so the query needs no escaping.
  for await (const w of client.workflow.list({
    query: `${CLUSTER.name} = '${cluster}' AND ExecutionStatus = 'Running'`,
  }))
    if (isOperation(w.type) && !exceptWorkflowIds.includes(w.workflowId))
      found.push({ type: w.type, workflowId: w.workflowId });
  return found;
}

/** The running runs of one workflow type for a cluster, by workflow id. */
export async function runningRuns(
  client: Client,
  type: ClusterOperation,
  cluster: string,
  exceptWorkflowId?: string,
): Promise<string[]> {
  return (await runningOperations(client, cluster, exceptWorkflowId ? [exceptWorkflowId] : []))
    .filter((r) => r.type === type)
    .map((r) => r.workflowId);
}

export interface LockRequest {
  cluster: string;
  /** The asking workflow (never refused by itself). */
  workflowId: string;
  type: ClusterOperation;
  /** A parent that started this one as a child (a deploy's backup first): not a blocker. */
  parentWorkflowId?: string;
  /** Why a run of a given type is in the way, added to its refusal. */
  because?: Partial<Record<ClusterOperation, string>>;
}

export interface Blocker {
  /** The kind of run in the way. */
  type: ClusterOperation;
  /** Names it, its workflow ids, and why it is in the way. */
  message: string;
}

/**
 * Why `request` must not run now, or undefined when the cluster is free. Blockers are
 * named in the order of CLUSTER_OPERATIONS, with their workflow ids.
 */
export function blocker(
  request: LockRequest,
  running: readonly RunningOperation[],
): Blocker | undefined {
  for (const type of Object.keys(CLUSTER_OPERATIONS) as ClusterOperation[]) {
    const ids = running.filter((r) => r.type === type).map((r) => r.workflowId);
    if (!ids.length) continue;
    const who =
      type === request.type
        ? `another ${CLUSTER_OPERATIONS[type].slice(2)}`
        : CLUSTER_OPERATIONS[type];
    const why = request.because?.[type];
    return {
      type,
      message: `${who} of ${request.cluster} is running (${ids.join(', ')})${why ? `; ${why}` : ''}`,
    };
  }
  return undefined;
}

/** The blocker of `request` on the worker's Temporal client (src/activities/deps.ts). */
export async function clusterBlocker(request: LockRequest): Promise<Blocker | undefined> {
  const client = await activityDeps().temporalClient();
  const except = [
    request.workflowId,
    ...(request.parentWorkflowId ? [request.parentWorkflowId] : []),
  ];
  return blocker(request, await runningOperations(client, request.cluster, except));
}
