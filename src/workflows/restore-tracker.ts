// What a restore shows while it runs, the way a deploy does (deploy-tracker.ts): the
// `progress` query with one row per host (so `api7-ha restore --follow` prints the same
// table as a deploy), the UI's current details, and the phase search attribute.
import {
  defineQuery,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Inventory } from '../config/inventory';
import { PHASE } from '../temporal/search-attributes';
import { HostStepsTracker } from './host-steps';
import { initialProgress, type DeployProgress } from './progress';

export const RESTORE_PHASES = [
  'exclusion',
  'check',
  'upload',
  'dashboards-stop',
  'etcd-stop',
  'restore',
  'etcd-start',
  'quorum',
  'dashboards-start',
  'gateways',
  'prove',
] as const;
export type RestorePhase = (typeof RESTORE_PHASES)[number] | 'done' | 'failed';

export type RestoreProgress = Omit<DeployProgress, 'phase'> & {
  phase: RestorePhase;
  snapshot?: string;
};

export const restoreProgressQuery = defineQuery<RestoreProgress>('progress');

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 120);

export function restoreMarkdown(p: RestoreProgress): string {
  const lines = [
    `**etcd restore of ${p.cluster}**${p.snapshot ? ` from \`${p.snapshot}\`` : ''} — phase **${p.phase}** (${p.phasesDone.length}/${RESTORE_PHASES.length} done)`,
    '',
    '| host | roles | step | status | done | detail |',
    '|---|---|---|---|---|---|',
    ...Object.entries(p.hosts).map(
      ([name, h]) =>
        `| ${name} | ${h.roles.join(', ')} | ${h.step} | ${h.status} | ${h.done.join(' → ')} | ${cell(h.detail)} |`,
    ),
  ];
  if (p.error) lines.push('', `**Failed:** ${cell(p.error)}`);
  return lines.join('\n');
}

export class RestoreTracker extends HostStepsTracker<RestoreProgress, RestorePhase> {
  constructor(inv: Inventory) {
    super({ ...initialProgress(inv.cluster, inv.hosts), phase: 'exclusion' }, inv.hosts);
    setHandler(restoreProgressQuery, () => this.progress);
  }

  publish(): void {
    setCurrentDetails(restoreMarkdown(this.progress));
  }

  /** The previous phase is done; the restore is now in `phase`. */
  enter(phase: RestorePhase): void {
    const prev = this.progress.phase;
    if (prev !== phase && prev !== 'failed' && prev !== 'done') this.progress.phasesDone.push(prev);
    this.progress.phase = phase;
    upsertSearchAttributes([{ key: PHASE, value: phase }]);
    this.publish();
  }
}
