// `api7-ha schedule ...`: run verifyHA (or, with --backup, backupEtcd) on a Temporal
// Schedule (overlap policy: skip).
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleHandle,
  type ScheduleSpec,
} from '@temporalio/client';
import { connectClient } from '../temporal/connection';
import { CLUSTER, TASK_QUEUE } from '../temporal/search-attributes';
import type { verifyHA } from '../workflows/verify';
import type { backupEtcd } from '../workflows/backup';
import { loadBackupInput } from './backup';
import { NotFound, RefusedInput } from './exit';
import { table } from './output';
import { loadVerifyInput, type VerifyCliOptions } from './verify';

/** What a schedule runs: the drills (verify-<cluster>) or an etcd backup (backup-<cluster>). */
export type ScheduleKind = 'verify' | 'backup';
export const scheduleId = (cluster: string, kind: ScheduleKind = 'verify') => `${kind}-${cluster}`;

export async function scheduleCreate(
  o: VerifyCliOptions & {
    cron?: string;
    every?: string;
    paused?: boolean;
    backup?: boolean;
    to?: string;
  },
): Promise<void> {
  if (!o.inventory) throw new RefusedInput('-i <inventory> is required');
  if (!o.cron === !o.every)
    throw new RefusedInput('give exactly one of --cron "<expr>" or --every <duration>');
  if (o.to && !o.backup) throw new RefusedInput('--to goes with --backup');
  const kind: ScheduleKind = o.backup ? 'backup' : 'verify';
  const input = o.backup
    ? await loadBackupInput(o.inventory, o.to)
    : await loadVerifyInput(o.inventory, o);
  const spec: ScheduleSpec = o.cron
    ? { cronExpressions: [o.cron] }
    : { intervals: [{ every: o.every as `${number}${'s' | 'm' | 'h' | 'd'}` }] };
  const client = await connectClient();
  const cluster = input.inventory.cluster;
  const handle = await client.schedule.create({
    scheduleId: scheduleId(cluster, kind),
    spec,
    action: {
      type: 'startWorkflow',
      workflowType: (o.backup ? 'backupEtcd' : 'verifyHA') as unknown as
        typeof verifyHA | typeof backupEtcd,
      workflowId: `${kind}-${cluster}-scheduled`,
      taskQueue: TASK_QUEUE,
      args: [input],
      typedSearchAttributes: [{ key: CLUSTER, value: cluster }],
      staticSummary: o.backup
        ? `Scheduled etcd backup of "${cluster}"`
        : `Scheduled HA verification of "${cluster}"`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    state: { paused: Boolean(o.paused), note: `created by api7-ha for ${cluster}` },
  });
  console.log(
    `schedule ${handle.scheduleId} created (${o.cron ? `cron ${o.cron}` : `every ${o.every}`}, overlap: skip)`,
  );
}

export async function scheduleList(json: boolean): Promise<void> {
  const client = await connectClient();
  const rows: Array<{ id: string; paused: boolean; next?: string; recent?: string }> = [];
  for await (const s of client.schedule.list())
    rows.push({
      id: s.scheduleId,
      paused: s.state.paused,
      next: s.info.nextActionTimes[0]?.toISOString(),
      recent: s.info.recentActions.at(-1)?.takenAt.toISOString(),
    });
  if (json) return void console.log(JSON.stringify(rows, null, 2));
  const t = table({ head: ['schedule', 'paused', 'next run', 'last run'] });
  for (const r of rows) t.push([r.id, r.paused ? 'yes' : 'no', r.next ?? '-', r.recent ?? '-']);
  console.log(t.toString());
}

/** A schedule action, with "no such schedule" said in the cluster's terms. */
async function onSchedule<T>(
  cluster: string,
  fn: (handle: ScheduleHandle) => Promise<T>,
  kind: ScheduleKind = 'verify',
): Promise<T> {
  const client = await connectClient();
  try {
    return await fn(client.schedule.getHandle(scheduleId(cluster, kind)));
  } catch (e) {
    if (e instanceof ScheduleNotFoundError)
      throw new NotFound(`no schedule ${scheduleId(cluster, kind)} (cluster "${cluster}")`);
    throw e;
  }
}

export async function scheduleDescribe(
  cluster: string,
  json = false,
  kind: ScheduleKind = 'verify',
): Promise<void> {
  const d = await onSchedule(cluster, (h) => h.describe(), kind);
  if (json) {
    const action = d.action.type === 'startWorkflow' ? d.action : undefined;
    return void console.log(
      JSON.stringify(
        {
          scheduleId: d.scheduleId,
          paused: d.state.paused,
          note: d.state.note,
          overlap: d.policies.overlap,
          spec: { calendars: d.spec.calendars ?? [], intervals: d.spec.intervals ?? [] },
          workflowId: action?.workflowId,
          next: d.info.nextActionTimes.map((t) => t.toISOString()),
          recent: d.info.recentActions.map((a) => ({
            takenAt: a.takenAt.toISOString(),
            workflowId:
              a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : undefined,
          })),
        },
        null,
        2,
      ),
    );
  }
  const spec =
    d.spec.calendars?.length || d.spec.intervals?.length
      ? JSON.stringify({ calendars: d.spec.calendars, intervals: d.spec.intervals })
      : '-';
  console.log(
    `${d.scheduleId}: ${d.state.paused ? 'paused' : 'active'}; overlap ${d.policies.overlap}`,
  );
  console.log(`  spec: ${spec}`);
  console.log(`  next: ${d.info.nextActionTimes.map((t) => t.toISOString()).join(', ') || '-'}`);
  for (const a of d.info.recentActions)
    console.log(
      `  ran ${a.takenAt.toISOString()}: ${a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : ''}`,
    );
  console.log(
    kind === 'backup'
      ? `  backups: api7-ha backup list -i <inventory>, or the UI with Api7Cluster = "${cluster}" AND WorkflowType = "backupEtcd"`
      : `  verdicts: api7-ha verify --last ${cluster}, or the UI with Api7Cluster = "${cluster}" AND WorkflowType = "verifyHA"`,
  );
}

export async function scheduleAction(
  cluster: string,
  action: 'pause' | 'unpause' | 'trigger' | 'delete',
  kind: ScheduleKind = 'verify',
): Promise<void> {
  await onSchedule(
    cluster,
    async (handle) => {
      if (action === 'pause') await handle.pause('paused with api7-ha');
      else if (action === 'unpause') await handle.unpause('unpaused with api7-ha');
      else if (action === 'trigger') await handle.trigger(ScheduleOverlapPolicy.SKIP);
      else await handle.delete();
    },
    kind,
  );
  console.log(
    `schedule ${scheduleId(cluster, kind)}: ${action}${action.endsWith('e') ? 'd' : 'ed'}`,
  );
}
