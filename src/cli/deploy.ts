// `api7-ha deploy | status | cancel`: start deployHA, follow it, ask how it is going.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { validateDeploy } from '../activities/validate';
import type { DeployInput } from '../activities/context';
import { loadInventory } from '../config/load';
import { connectClient } from '../temporal/connection';
import { CLUSTER, PHASE, TASK_QUEUE } from '../temporal/search-attributes';
import type { deployHA, DeploySummary } from '../workflows/deploy';
import type { DeployProgress } from '../workflows/progress';
import { NotFound } from './exit';
import { followRun, progressTable } from './follow';
import { pc } from './output';
import { uiUrl } from './ui';

export const deployWorkflowId = (cluster: string) => `deploy-${cluster}`;

/** Failure causes nest (workflow → activity → application); the innermost says what happened. */
export function rootMessage(e: unknown): string {
  let cur: unknown = e;
  while (cur instanceof Error && (cur as { cause?: unknown }).cause instanceof Error)
    cur = (cur as { cause: Error }).cause;
  return cur instanceof Error ? cur.message : String(cur);
}

export async function startDeploy(client: Client, input: DeployInput) {
  const inv = input.inventory;
  const roles = inv.hosts.map((h) => `${h.name} (${h.roles.join(', ')})`).join(', ');
  try {
    return await client.workflow.start<typeof deployHA>('deployHA', {
      taskQueue: TASK_QUEUE,
      workflowId: deployWorkflowId(inv.cluster),
      args: [input],
      // The workflow id is the lock: one deploy per cluster at a time, nothing stale to clean.
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: CLUSTER, value: inv.cluster },
        { key: PHASE, value: 'validate' },
      ],
      staticSummary: `Deploy API7 Enterprise HA cluster "${inv.cluster}" on ${inv.hosts.length} hosts`,
      staticDetails: `Hosts: ${roles}\n\nControl-plane LB: ${inv.loadBalancers.controlPlane}\nData-plane LB: ${inv.loadBalancers.dataPlane}`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(
        `a deploy of cluster "${inv.cluster}" is already running (workflow ${deployWorkflowId(inv.cluster)}); ` +
          `follow it with \`api7-ha status ${inv.cluster}\` or stop it with \`api7-ha cancel ${inv.cluster}\``,
      );
    throw e;
  }
}

export async function followDeploy(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<DeploySummary> {
  return followRun<DeploySummary>(client.workflow.getHandle<typeof deployHA>(workflowId, runId));
}

export function printDeploySummary(s: DeploySummary, workflowUrl: string): void {
  console.log(
    `\n${pc.green('✔')} cluster ${pc.bold(s.cluster)} deployed: gateway cluster id ${s.clusterId}, etcd members ${s.etcdMembers.join(', ')}`,
  );
  console.log(`  changes: ${s.changes}, uploaded ${(s.bytesUploaded / 2 ** 20).toFixed(1)} MiB`);
  console.log(
    `  proof: GET ${s.proof.route} through the data plane → HTTP ${s.proof.status} from the upstream (${s.proof.answer})`,
  );
  for (const w of s.warnings) console.log(pc.yellow(`  warning: ${w}`));
  console.log(`\n  Temporal UI:           ${workflowUrl}`);
  console.log(`  control-plane LB:      ${s.loadBalancers.controlPlane}`);
  console.log(`  data-plane LB:         ${s.loadBalancers.dataPlane}`);
  const host = s.proof.route.split('/')[0];
  const uri = s.proof.route.slice(host?.length ?? 0);
  console.log(
    `  try it:                curl -H 'Host: ${host}' ${new URL(uri, s.loadBalancers.dataPlane).toString()}`,
  );
}

export async function deployCommand(opts: {
  inventory: string;
  follow?: boolean;
  replaceEtcd?: boolean;
  /** commander's --no-backup: false. */
  backup?: boolean;
}): Promise<DeploySummary | undefined> {
  const loaded = await loadInventory(opts.inventory);
  for (const w of loaded.warnings) console.warn(pc.yellow(`warning: ${w}`));
  const input: DeployInput = {
    inventory: loaded.inventory,
    baseDir: loaded.baseDir,
    replaceEtcd: opts.replaceEtcd,
    ...(opts.backup === false ? { noBackup: true } : {}),
  };
  // The same checks the workflow starts with, here so bad input fails before anything starts.
  await validateDeploy(input);
  const client = await connectClient();
  const handle = await startDeploy(client, input);
  const url = uiUrl(client, handle.workflowId, handle.firstExecutionRunId);
  console.log(`deploy started: workflow ${handle.workflowId}\n  ${url}`);
  if (!opts.follow) return undefined;
  try {
    const summary = await followDeploy(client, handle.workflowId, handle.firstExecutionRunId);
    printDeploySummary(summary, url);
    return summary;
  } catch (e) {
    if (e instanceof WorkflowFailedError)
      throw new Error(`deploy of ${loaded.inventory.cluster} failed: ${rootMessage(e)}`);
    throw e;
  }
}

export async function statusCommand(cluster: string, json: boolean): Promise<void> {
  const client = await connectClient();
  const handle = client.workflow.getHandle(deployWorkflowId(cluster));
  const desc = await handle.describe().catch((e: unknown) => {
    if (e instanceof WorkflowNotFoundError)
      throw new NotFound(
        `no deploy of cluster "${cluster}" found (workflow ${deployWorkflowId(cluster)})`,
      );
    throw e;
  });
  let progress: DeployProgress | undefined;
  try {
    progress = await handle.query<DeployProgress>('progress');
  } catch {
    /* no worker running to answer */
  }
  let result: DeploySummary | undefined;
  let failure: string | undefined;
  if (desc.status.name === 'COMPLETED') result = await handle.result();
  else if (desc.status.name !== 'RUNNING')
    await handle.result().catch((e: unknown) => (failure = rootMessage(e)));
  if (json) {
    console.log(
      JSON.stringify(
        {
          workflowId: desc.workflowId,
          runId: desc.runId,
          status: desc.status.name,
          progress,
          result,
          failure,
        },
        null,
        2,
      ),
    );
    return;
  }
  console.log(
    `${desc.workflowId}: ${desc.status.name} (started ${desc.startTime.toISOString()})\n  ${uiUrl(client, desc.workflowId, desc.runId)}`,
  );
  if (progress) console.log(progressTable(progress));
  if (failure) console.log(pc.red(`failed: ${failure}`));
  if (result)
    console.log(
      `gateway cluster ${result.clusterId}; proof ${result.proof.route} → HTTP ${result.proof.status}`,
    );
}

export async function cancelCommand(cluster: string): Promise<void> {
  const client = await connectClient();
  await client.workflow
    .getHandle(deployWorkflowId(cluster))
    .cancel()
    .catch((e: unknown) => {
      throw e instanceof WorkflowNotFoundError
        ? new NotFound(`no running deploy of cluster "${cluster}" to cancel`)
        : e;
    });
  console.log(`cancellation requested for ${deployWorkflowId(cluster)}`);
}
