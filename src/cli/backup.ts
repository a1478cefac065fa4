// `api7-ha backup`: start backupEtcd and wait for its manifest; `api7-ha backup list`:
// the backups in a directory with their manifests (plain text in pipes, or --json).
import path from 'node:path';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
} from '@temporalio/client';
import { referenceProblems } from '../activities/validate';
import { backupDirFor, listBackups } from '../backup/local-store';
import { InventoryError, loadInventory } from '../config/load';
import { connectClient } from '../temporal/connection';
import { CLUSTER, TASK_QUEUE } from '../temporal/search-attributes';
import type { BackupInput, BackupResult, backupEtcd } from '../workflows/backup';
import { rootMessage } from './deploy';
import { RefusedInput } from './exit';
import { table } from './output';
import { uiUrl } from './ui';

export const backupWorkflowId = (cluster: string) => `backup-${cluster}`;

/** The inventory and where the backups go, checked before anything starts. */
export async function loadBackupInput(file: string, to?: string): Promise<BackupInput> {
  const loaded = await loadInventory(file);
  // The worker resolves the etcd password, the TLS files and the SSH keys: refuse a bad one here.
  const problems = referenceProblems(loaded.inventory, loaded.baseDir);
  if (problems.length) throw new InventoryError(file, problems);
  return {
    inventory: loaded.inventory,
    baseDir: loaded.baseDir,
    ...(to ? { to: path.resolve(to) } : {}),
  };
}

export async function startBackup(client: Client, input: BackupInput) {
  const cluster = input.inventory.cluster;
  try {
    return await client.workflow.start<typeof backupEtcd>('backupEtcd', {
      taskQueue: TASK_QUEUE,
      workflowId: backupWorkflowId(cluster),
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [{ key: CLUSTER, value: cluster }],
      staticSummary: `etcd backup of "${cluster}"`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError)
      throw new Error(
        `a backup of cluster "${cluster}" is already running (workflow ${backupWorkflowId(cluster)})`,
      );
    throw e;
  }
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export function backupSummary(r: BackupResult): string {
  const m = r.manifest;
  return [
    `backup of ${m.cluster}: ${r.path}`,
    `  taken ${m.createdAt} from ${m.member.name} (${m.member.host}), etcd ${m.etcdVersion}`,
    `  revision ${m.revision}, ${m.keys} keys, ${mib(m.size)}, sha256 ${m.sha256}`,
    `  snapshot status: hash ${m.snapshot.hash}, ${m.snapshot.totalKey} entries`,
    ...(r.unhealthy.length ? [`  members not healthy at the time: ${r.unhealthy.join(', ')}`] : []),
    `  kept ${r.kept}; removed ${r.pruned.length ? r.pruned.join(', ') : 'nothing'}`,
  ].join('\n');
}

export async function backupCommand(o: {
  inventory?: string;
  to?: string;
  json?: boolean;
}): Promise<BackupResult> {
  if (!o.inventory) throw new RefusedInput('-i <inventory> is required');
  const input = await loadBackupInput(o.inventory, o.to);
  const say = o.json ? console.error : console.log;
  const client = await connectClient();
  const handle = await startBackup(client, input);
  say(
    `backup started: workflow ${handle.workflowId}\n  ${uiUrl(client, handle.workflowId, handle.firstExecutionRunId)}`,
  );
  try {
    const r = await handle.result();
    console.log(o.json ? JSON.stringify(r, null, 2) : backupSummary(r));
    return r;
  } catch (e) {
    if (e instanceof WorkflowFailedError) throw new Error(`backup failed: ${rootMessage(e)}`);
    throw e;
  }
}

export async function backupListCommand(o: {
  inventory?: string;
  dir?: string;
  json?: boolean;
}): Promise<void> {
  if (!o.inventory === !o.dir) throw new RefusedInput('give -i <inventory> or --dir <dir>');
  let dir: string;
  let cluster: string | undefined;
  if (o.inventory) {
    const loaded = await loadInventory(o.inventory);
    dir = backupDirFor(loaded.inventory, loaded.baseDir);
    cluster = loaded.inventory.cluster;
  } else dir = path.resolve(o.dir!);
  const listing = listBackups(dir, cluster);
  if (o.json)
    return void console.log(
      JSON.stringify(
        {
          dir,
          backups: listing.backups.map((b) => ({
            path: b.snapshotFile,
            manifest: b.manifest,
            ...(b.problem ? { problem: b.problem } : {}),
          })),
          unusable: listing.unusable,
        },
        null,
        2,
      ),
    );
  console.log(`backups in ${dir}${cluster ? ` (cluster ${cluster})` : ''}`);
  if (!listing.backups.length) console.log('  none');
  else {
    const t = table({
      head: [
        'taken',
        'cluster',
        'revision',
        'keys',
        'size',
        'member',
        'etcd',
        'sha256',
        'file',
        'state',
      ],
    });
    for (const b of listing.backups) {
      const m = b.manifest;
      t.push([
        m.createdAt,
        m.cluster,
        m.revision,
        m.keys,
        mib(m.size),
        m.member.name,
        m.etcdVersion,
        m.sha256.slice(0, 12),
        m.file,
        b.problem ?? 'ok',
      ]);
    }
    console.log(t.toString());
  }
  for (const u of listing.unusable) console.log(`  not a backup: ${u.file} (${u.problem})`);
}
