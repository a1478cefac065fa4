// What a deploy shows while it runs: the `progress` query, the UI's current details (a
// per-host table), the phase search attribute, and each host's step reports.
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
import {
  DEPLOY_PHASES,
  initialProgress,
  progressMarkdown,
  type DeployPhase,
  type DeployProgress,
  type StepStatus,
} from './progress';

export const deployProgressQuery = defineQuery<DeployProgress>('progress');

export class DeployTracker {
  readonly progress: DeployProgress;
  /** Each host's step reports, in the order they finished. */
  readonly steps: Record<string, string[]>;

  constructor(inv: Inventory) {
    this.progress = initialProgress(inv.cluster, inv.hosts);
    this.steps = Object.fromEntries(inv.hosts.map((h) => [h.name, []]));
    setHandler(deployProgressQuery, () => this.progress);
  }

  publish(): void {
    setCurrentDetails(progressMarkdown(this.progress));
  }

  /** The deploy is now in `phase` (the search attribute follows). */
  enter(phase: DeployPhase): void {
    this.progress.phase = phase;
    upsertSearchAttributes([{ key: PHASE, value: phase }]);
    this.publish();
  }

  finish(phase: DeployPhase): void {
    this.progress.phasesDone.push(phase);
    this.publish();
  }

  /**
   * With hosts in different phases at once, the deploy's phase is the earliest one not
   * yet done on every host: the slowest host's place in the vendor's order.
   */
  finishAndAdvance(phase: (typeof DEPLOY_PHASES)[number]): void {
    this.progress.phasesDone.push(phase);
    this.advance();
  }

  advance(): void {
    const next = DEPLOY_PHASES.find((p) => !this.progress.phasesDone.includes(p)) ?? 'done';
    if (next !== this.progress.phase) this.enter(next);
    else this.publish();
  }

  /** A host's row shows its latest step; a failed step stays shown over later news. */
  mark(host: string, step: string, status: StepStatus, detail = ''): void {
    const h = this.progress.hosts[host];
    if (h && (h.status !== 'failed' || status === 'failed'))
      Object.assign(h, { step, status, detail });
    if (h && status === 'done' && !h.done.includes(step)) h.done.push(step);
    this.publish();
  }

  /** Run one host's step, recording its status and report. */
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
