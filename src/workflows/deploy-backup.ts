// A deploy that changes a bundle version takes an etcd backup first (backupEtcd as a
// child; its lock lets the parent deploy through), unless the deploy was told not to
// (`api7-ha deploy --no-backup`). Guarded by a patch, so deploys recorded before it replay.
import { executeChild, patched, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import type { DeployInput } from '../activities/context';
import { CLUSTER } from '../temporal/search-attributes';
import { backupEtcd } from './backup';
import { deployActs, deployOptions } from './deploy-checks';
import type { DeployTracker } from './deploy-tracker';

export async function backupBeforeUpgrade(input: DeployInput, t: DeployTracker): Promise<void> {
  if (!patched('backup-before-upgrade') || input.noBackup) return;
  const inv = input.inventory;
  const changes = await deployActs.bundleChanges.executeWithOptions(
    { ...deployOptions, summary: 'look for dashboards and gateways of another bundle version' },
    [input],
  );
  if (!changes.length) return;
  const r = await executeChild(backupEtcd, {
    workflowId: `${workflowInfo().workflowId}-backup`,
    args: [{ inventory: inv, baseDir: input.baseDir }],
    parentClosePolicy: ParentClosePolicy.TERMINATE,
    typedSearchAttributes: [{ key: CLUSTER, value: inv.cluster }],
    staticSummary: `etcd backup of "${inv.cluster}" before a bundle version change`,
  });
  t.progress.warnings.push(
    `the bundle version changes (${changes.join('; ')}): etcd was backed up first to ${r.path} (revision ${r.manifest.revision})`,
  );
}
