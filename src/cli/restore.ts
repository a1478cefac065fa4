// `api7-ha restore -i <inventory> --snapshot <file|latest>`: check the snapshot here, show
// the plan and refuse without --yes; with it, start restoreEtcd and follow it.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
} from '@temporalio/client';
import { referenceProblems } from '../activities/validate';
import { checkSnapshot, resolveSnapshot, RestoreRefused } from '../backup/restore';
import { renderPlan } from '../commands/plan';
import { restorePlan } from '../commands/restore-plan';
import { InventoryError, loadInventory } from '../config/load';
import { connectClient } from '../temporal/connection';
import { CLUSTER, TASK_QUEUE } from '../temporal/search-attributes';
import type { RestoreInput, RestoreResult, restoreEtcd } from '../workflows/restore';
import { followDeploy, rootMessage } from './deploy';
import { RefusedInput } from './exit';
import { pc } from './output';
import { uiUrl } from './ui';

export const restoreWorkflowId = (cluster: string) => `restore-${cluster}`;

/** The inventory and the checked snapshot, before anything starts. */
export async function loadRestoreInput(
  file: string,
  snapshot: string,
  from?: string,
): Promise<{
  input: RestoreInput;
  warnings: string[];
  manifest: Awaited<ReturnType<typeof checkSnapshot>>['manifest'];
}> {
  const loaded = await loadInventory(file);
  const problems = referenceProblems(loaded.inventory, loaded.baseDir);
  if (problems.length) throw new InventoryError(file, problems);
  try {
    const path = resolveSnapshot(loaded.inventory, loaded.baseDir, snapshot, from);
    const checked = await checkSnapshot(loaded.inventory, path);
    return {
      input: { inventory: loaded.inventory, baseDir: loaded.baseDir, snapshot: path },
      warnings: checked.warnings,
      manifest: checked.manifest,
    };
  } catch (e) {
    if (e instanceof RestoreRefused) throw new RefusedInput(e.message);
    throw e;
  }
}

export async function startRestore(client: Client, input: RestoreInput) {
  const cluster = input.inventory.cluster;
  try {
    return await client.workflow.start<typeof restoreEtcd>('restoreEtcd', {
      taskQueue: TASK_QUEUE,
      workflowId: restoreWorkflowId(cluster),
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [{ key: CLUSTER, value: cluster }],
      staticSummary: `etcd restore of "${cluster}"`,
      staticDetails: `Snapshot: ${input.snapshot}`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(
        `a restore of cluster "${cluster}" is already running (workflow ${restoreWorkflowId(cluster)})`,
      );
    throw e;
  }
}

export function restoreSummary(r: RestoreResult): string {
  if (r.alreadyRestored)
    return [
      `${pc.green('✔')} ${r.cluster} already is ${r.snapshot} restored (etcd cluster ${r.etcdClusterId}); nothing changed`,
      `  members ${r.memberIds.join(', ')}`,
    ].join('\n');
  const lines = [
    `${pc.green('✔')} etcd of ${r.cluster} restored from ${r.snapshot}`,
    `  back at revision ${r.revision} (sha256 ${r.sha256.slice(0, 12)}…): writes made after the snapshot are gone`,
    `  new etcd cluster ${r.etcdClusterId}, members ${r.memberIds.join(', ')}`,
  ];
  if (r.auth)
    lines.push(
      `  auth ${r.auth.authEnabled ? 'on' : 'off'}; users ${r.auth.users.join(', ') || 'none'}; roles ${r.auth.roles.join(', ') || 'none'}`,
    );
  if (r.proof)
    lines.push(`  proof: GET ${r.proof.route} through the data plane → HTTP ${r.proof.status}`);
  const aside = Object.entries(r.movedAside);
  lines.push(
    aside.length
      ? '  moved aside (delete them when you are sure):'
      : '  no data dir was there to move aside',
  );
  for (const [host, dir] of aside) lines.push(`    ${host}: ${dir}`);
  for (const w of r.warnings) lines.push(pc.yellow(`  warning: ${w}`));
  return lines.join('\n');
}

export async function restoreCommand(o: {
  inventory?: string;
  snapshot?: string;
  from?: string;
  yes?: boolean;
  follow?: boolean;
  json?: boolean;
}): Promise<RestoreResult | undefined> {
  if (!o.inventory) throw new RefusedInput('-i <inventory> is required');
  if (!o.snapshot) throw new RefusedInput('--snapshot <file|latest> is required');
  const { input, warnings, manifest } = await loadRestoreInput(o.inventory, o.snapshot, o.from);
  const say = o.json ? console.error : console.log;
  for (const w of warnings) console.warn(pc.yellow(`warning: ${w}`));
  if (!o.yes) {
    const plan = restorePlan(input.inventory, input.snapshot, manifest);
    console.log(o.json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
    throw new RefusedInput(
      `a restore stops every dashboard and etcd member of ${input.inventory.cluster} and takes etcd back to revision ${manifest.revision} (${manifest.createdAt}); writes made since are lost. Run again with --yes to do it`,
    );
  }
  const client = await connectClient();
  const handle = await startRestore(client, input);
  say(
    `restore started: workflow ${handle.workflowId}\n  ${uiUrl(client, handle.workflowId, handle.firstExecutionRunId)}`,
  );
  try {
    const r = o.follow
      ? ((await followDeploy(
          client,
          handle.workflowId,
          handle.firstExecutionRunId,
        )) as unknown as RestoreResult)
      : await handle.result();
    console.log(o.json ? JSON.stringify(r, null, 2) : restoreSummary(r));
    return r;
  } catch (e) {
    if (e instanceof WorkflowFailedError) throw new Error(`restore failed: ${rootMessage(e)}`);
    throw e;
  }
}
