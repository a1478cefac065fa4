// Asking Temporal about other runs of the same cluster (for mutual exclusion and
// rotation). Used by activities and the CLI, never by workflow code.
import type { Client } from '@temporalio/client';
import { connectClient } from './connection';

let shared: Promise<Client> | undefined;

/** One client per worker process, made on first use. */
export function sharedClient(): Promise<Client> {
  shared ??= connectClient();
  return shared;
}

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
