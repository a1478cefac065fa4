// `api7-ha remove -i <inventory> --host <name>`: take one host's components out of the
// cluster (workflow remove-<cluster>). The inventory is the cluster as it is now, with the
// host still listed; delete the host from it afterwards. Refusals (minimums, a host not
// in the inventory) come before anything starts.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
} from '@temporalio/client';
import { referenceProblems } from '../activities/validate';
import { renderPlan } from '../commands/plan';
import { removePlan } from '../commands/remove';
import { InventoryError, loadInventory } from '../config/load';
import { hasRole } from '../model/components';
import { removalLosses, removalTargetProblem } from '../model/minimums';
import { connectClient } from '../temporal/connection';
import { CLUSTER, PHASE, TASK_QUEUE } from '../temporal/search-attributes';
import type { RemoveInput, RemoveResult, removeHost } from '../workflows/remove';
import { rootMessage } from './deploy';
import { RefusedInput } from './exit';
import { followRun } from './follow';
import { pc } from './output';
import { uiUrl } from './ui';

export const removeWorkflowId = (cluster: string) => `remove-${cluster}`;

/** The refusals a remove gives before anything starts (the workflow checks them again). */
export function removeRefusal(input: RemoveInput): string | undefined {
  const inv = input.inventory;
  const target = removalTargetProblem(inv, input.host);
  if (target) return target;
  const losses = removalLosses(inv, input.host);
  if (losses.length && !input.force) return `remove refused: ${losses.join('; ')}`;
  if (
    hasRole(
      inv.hosts.find((h) => h.name === input.host)!,
      'etcd',
    )
  )
    return `remove refused: ${input.host} is an etcd member; taking an etcd member out is not supported yet (it must leave the membership first)`;
  return undefined;
}

export async function loadRemoveInput(
  file: string,
  host: string,
  force?: boolean,
): Promise<RemoveInput> {
  const loaded = await loadInventory(file);
  const problems = referenceProblems(loaded.inventory, loaded.baseDir);
  if (problems.length) throw new InventoryError(file, problems);
  const input: RemoveInput = { inventory: loaded.inventory, baseDir: loaded.baseDir, host, force };
  const refused = removeRefusal(input);
  if (refused) throw new RefusedInput(refused);
  return input;
}

export async function startRemove(client: Client, input: RemoveInput) {
  const inv = input.inventory;
  try {
    return await client.workflow.start<typeof removeHost>('removeHost', {
      taskQueue: TASK_QUEUE,
      workflowId: removeWorkflowId(inv.cluster),
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: CLUSTER, value: inv.cluster },
        { key: PHASE, value: 'exclusion' },
      ],
      staticSummary: `Remove ${input.host} from API7 Enterprise cluster "${inv.cluster}"${input.force ? ' (forced)' : ''}`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(
        `a remove of cluster "${inv.cluster}" is already running (workflow ${removeWorkflowId(inv.cluster)})`,
      );
    throw e;
  }
}

export function removeSummary(r: RemoveResult): string {
  const lines = [
    r.notReached
      ? pc.yellow(
          `! ${r.host} was taken out of ${r.cluster}, but not reached (${r.notReached.why})`,
        )
      : `${pc.green('✔')} ${r.host} taken out of ${pc.bold(r.cluster)}`,
    ...r.steps.map((s) => `  ${s}`),
  ];
  if (r.notReached)
    lines.push(
      `  may still be on ${r.host}: ${r.notReached.mayBeLeft.join('; ')}`,
      `  when ${r.host} is back, run the same remove again: it stops and removes them`,
    );
  if (r.proof)
    lines.push(`  proof: GET ${r.proof.route} through the data plane → HTTP ${r.proof.status}`);
  lines.push(`  now delete ${r.host} from the inventory (and from your load balancers' backends)`);
  return lines.join('\n');
}

export async function removeCommand(o: {
  inventory: string;
  host: string;
  force?: boolean;
  plan?: boolean;
  json?: boolean;
}): Promise<RemoveResult | undefined> {
  const input = await loadRemoveInput(o.inventory, o.host, o.force);
  if (o.plan) {
    const plan = removePlan(input.inventory, o.host);
    console.log(o.json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
    return undefined;
  }
  const client = await connectClient();
  const handle = await startRemove(client, input);
  const say = o.json ? console.error : console.log;
  say(
    `remove started: workflow ${handle.workflowId}\n  ${uiUrl(client, handle.workflowId, handle.firstExecutionRunId)}`,
  );
  try {
    const r = await followRun<RemoveResult>(handle);
    console.log(o.json ? JSON.stringify(r, null, 2) : removeSummary(r));
    if (r.notReached) process.exitCode = 1;
    return r;
  } catch (e) {
    if (e instanceof WorkflowFailedError)
      throw new Error(
        `remove of ${o.host} from ${input.inventory.cluster} failed: ${rootMessage(e)}`,
      );
    throw e;
  }
}
