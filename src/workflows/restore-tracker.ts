// What a restore shows while it runs, the way a deploy does (deploy-tracker.ts): the
// `progress` query with one row per host (so `api7-ha restore --follow` prints the same
// table as a deploy), the UI's current details, and the phase search attribute.
import {
  defineQuery,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { StepResult } from '../activities/context';
import type { Inventory } from '../config/inventory';
import { PHASE } from '../temporal/search-attributes';
import { failureMessage } from './failures';
import { initialProgress, type DeployProgress, type StepStatus } from './progress';

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

export class RestoreTracker {
  readonly progress: RestoreProgress;
  readonly steps: Record<string, string[]>;

  constructor(inv: Inventory) {
    this.progress = { ...initialProgress(inv.cluster, inv.hosts), phase: 'exclusion' };
    this.steps = Object.fromEntries(inv.hosts.map((h) => [h.name, []]));
    setHandler(restoreProgressQuery, () => this.progress);
  }

  private publish(): void {
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

  mark(host: string, step: string, status: StepStatus, detail = ''): void {
    const h = this.progress.hosts[host];
    if (h && (h.status !== 'failed' || status === 'failed'))
      Object.assign(h, { step, status, detail });
    if (h && status === 'done' && !h.done.includes(step)) h.done.push(step);
    this.publish();
  }

  async step<R extends StepResult>(host: string, step: string, run: () => Promise<R>): Promise<R> {
    this.mark(host, step, 'running');
    try {
      const r = await run();
      if (r.changed) this.progress.changes++;
      this.steps[host]!.push(`${step}: ${r.detail}`);
      this.mark(host, step, 'done', r.detail);
      return r;
    } catch (e) {
      this.mark(host, step, 'failed', failureMessage(e));
      throw e;
    }
  }

  failed(e: unknown): void {
    this.progress.error = failureMessage(e);
    this.enter('failed');
  }
}
