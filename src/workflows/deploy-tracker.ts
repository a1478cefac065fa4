// What a deploy shows while it runs: the `progress` query, the UI's current details (a
// per-host table), the phase search attribute, and each host's step reports.
import {
  defineQuery,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Inventory } from '../config/inventory';
import { PHASE } from '../temporal/search-attributes';
import { HostStepsTracker } from './host-steps';
import {
  DEPLOY_PHASES,
  initialProgress,
  progressMarkdown,
  type DeployPhase,
  type DeployProgress,
} from './progress';

export const deployProgressQuery = defineQuery<DeployProgress>('progress');

export class DeployTracker extends HostStepsTracker<DeployProgress, DeployPhase> {
  constructor(inv: Inventory) {
    super(initialProgress(inv.cluster, inv.hosts), inv.hosts);
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
}
