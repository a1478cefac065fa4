// `api7-ha teardown -i <inventory> --yes`: start teardownCluster and follow it. Without
// --yes it prints its plan and refuses; --plan prints the plan only.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
} from '@temporalio/client';
import { referenceProblems } from '../activities/validate';
import { renderPlan } from '../commands/plan';
import { teardownPlan, type EtcdDataChoice } from '../commands/teardown';
import { InventoryError, loadInventory } from '../config/load';
import { connectClient } from '../temporal/connection';
import { CLUSTER, PHASE, TASK_QUEUE } from '../temporal/search-attributes';
import type { TeardownInput, TeardownResult, teardownCluster } from '../workflows/teardown';
import { rootMessage } from './deploy';
import { RefusedInput } from './exit';
import { followRun } from './follow';
import { pc } from './output';
import { uiUrl } from './ui';

export const teardownWorkflowId = (cluster: string) => `teardown-${cluster}`;

export async function loadTeardownInput(
  file: string,
  etcdData: EtcdDataChoice,
): Promise<TeardownInput> {
  const loaded = await loadInventory(file);
  // The worker needs the SSH keys (and known_hosts): refuse a bad reference here.
  const problems = referenceProblems(loaded.inventory, loaded.baseDir);
  if (problems.length) throw new InventoryError(file, problems);
  return { inventory: loaded.inventory, baseDir: loaded.baseDir, etcdData };
}

export async function startTeardown(client: Client, input: TeardownInput) {
  const inv = input.inventory;
  try {
    return await client.workflow.start<typeof teardownCluster>('teardownCluster', {
      taskQueue: TASK_QUEUE,
      workflowId: teardownWorkflowId(inv.cluster),
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: CLUSTER, value: inv.cluster },
        { key: PHASE, value: 'exclusion' },
      ],
      staticSummary: `Tear down API7 Enterprise cluster "${inv.cluster}" on ${inv.hosts.length} hosts (etcd data: ${input.etcdData})`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(
        `a teardown of cluster "${inv.cluster}" is already running (workflow ${teardownWorkflowId(inv.cluster)})`,
      );
    throw e;
  }
}

export function teardownSummary(r: TeardownResult): string {
  const lines = [
    `${pc.green('✔')} cluster ${pc.bold(r.cluster)} torn down (${r.changes} hosts changed)`,
  ];
  for (const [host, h] of Object.entries(r.hosts)) {
    lines.push(
      `  ${host}: ${h.removed.length ? `removed ${h.removed.join(', ')}` : 'nothing of api7-ha was there'}`,
    );
    for (const k of h.kept) lines.push(`    kept ${k}`);
    for (const l of h.left) lines.push(pc.yellow(`    left ${l}`));
  }
  if (r.etcdData === 'keep')
    lines.push(
      '  etcd data directories are kept: a later deploy of the same inventory starts the members on them again (--delete-etcd-data removes them)',
    );
  return lines.join('\n');
}

export async function teardownCommand(o: {
  inventory: string;
  yes?: boolean;
  plan?: boolean;
  deleteEtcdData?: boolean;
  json?: boolean;
}): Promise<TeardownResult | undefined> {
  const etcdData: EtcdDataChoice = o.deleteEtcdData ? 'delete' : 'keep';
  const input = await loadTeardownInput(o.inventory, etcdData);
  const plan = teardownPlan(input.inventory, etcdData);
  if (o.plan || !o.yes) {
    console.log(o.json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
    if (o.plan) return undefined;
    throw new RefusedInput(
      `teardown removes every api7-ha container, image and file above from the hosts of "${input.inventory.cluster}"; add --yes to run it`,
    );
  }
  const client = await connectClient();
  const handle = await startTeardown(client, input);
  const say = o.json ? console.error : console.log;
  say(
    `teardown started: workflow ${handle.workflowId}\n  ${uiUrl(client, handle.workflowId, handle.firstExecutionRunId)}`,
  );
  try {
    const r = await followRun<TeardownResult>(handle);
    console.log(o.json ? JSON.stringify(r, null, 2) : teardownSummary(r));
    return r;
  } catch (e) {
    if (e instanceof WorkflowFailedError)
      throw new Error(`teardown of ${input.inventory.cluster} failed: ${rootMessage(e)}`);
    throw e;
  }
}
