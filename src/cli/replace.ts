// `api7-ha replace -i <inventory> --host <name>`: start replaceHost, follow it like a
// deploy (per-host table), or print its plan.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
} from '@temporalio/client';
import { checkInventoryLocally } from '../activities/validate';
import { loadInventory } from '../config/load';
import { renderReplacePlan, replacePlan } from '../commands/replace-plan';
import { connectClient } from '../temporal/connection';
import { CLUSTER, PHASE, TASK_QUEUE } from '../temporal/search-attributes';
import type { replaceHost, ReplaceInput, ReplaceSummary } from '../workflows/replace';
import { followDeploy, printDeploySummary, rootMessage } from './deploy';
import { RefusedInput } from './exit';
import { pc } from './output';
import { uiUrl } from './ui';

export const replaceWorkflowId = (cluster: string) => `replace-${cluster}`;

export async function startReplace(client: Client, input: ReplaceInput) {
  const inv = input.inventory;
  const workflowId = replaceWorkflowId(inv.cluster);
  try {
    return await client.workflow.start<typeof replaceHost>('replaceHost', {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      // The cluster lock finds it by this attribute from its first moment.
      typedSearchAttributes: [
        { key: CLUSTER, value: inv.cluster },
        { key: PHASE, value: 'validate' },
      ],
      staticSummary: `Replace host ${input.host} of API7 Enterprise HA cluster "${inv.cluster}"`,
      staticDetails: `Host ${input.host}: ${inv.hosts.find((h) => h.name === input.host)?.roles.join(', ') ?? '?'}`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(
        `a replace of cluster "${inv.cluster}" is already running (workflow ${workflowId})`,
      );
    throw e;
  }
}

export async function replaceCommand(opts: {
  inventory: string;
  host: string;
  follow?: boolean;
  plan?: boolean;
  json?: boolean;
}): Promise<ReplaceSummary | undefined> {
  const loaded = await loadInventory(opts.inventory);
  for (const w of loaded.warnings) console.warn(pc.yellow(`warning: ${w}`));
  const inv = loaded.inventory;
  if (!inv.hosts.some((h) => h.name === opts.host))
    throw new RefusedInput(
      `--host ${opts.host}: the inventory has no host of that name (it has ${inv.hosts.map((h) => h.name).join(', ')})`,
    );
  if (opts.plan) {
    const steps = replacePlan(inv, opts.host);
    console.log(opts.json ? JSON.stringify(steps, null, 2) : renderReplacePlan(steps));
    return undefined;
  }
  const input: ReplaceInput = { inventory: inv, baseDir: loaded.baseDir, host: opts.host };
  await checkInventoryLocally(input);
  const client = await connectClient();
  const handle = await startReplace(client, input);
  const url = uiUrl(client, handle.workflowId, handle.firstExecutionRunId);
  console.log(`replace of ${opts.host} started: workflow ${handle.workflowId}\n  ${url}`);
  if (!opts.follow) return undefined;
  try {
    // The same progress query and per-host table as a deploy; the result is replaceHost's.
    const summary = (await followDeploy(
      client,
      handle.workflowId,
      handle.firstExecutionRunId,
    )) as unknown as ReplaceSummary;
    const e = summary.etcd;
    console.log(
      `\n${pc.green('✔')} ${opts.host} replaced${
        e
          ? e.swapped
            ? `: etcd member swapped (${e.oldMember ? `old ${e.oldMember.id} removed, ` : ''}new one joined and caught up)`
            : ': etcd member was in place, left alone'
          : ''
      }`,
    );
    printDeploySummary(summary.deploy, url);
    return summary;
  } catch (e) {
    if (e instanceof WorkflowFailedError)
      throw new Error(`replace of ${opts.host} in ${inv.cluster} failed: ${rootMessage(e)}`);
    throw e;
  }
}
