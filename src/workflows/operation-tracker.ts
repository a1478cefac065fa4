// What a day-2 operation (teardown, remove) shows while it runs, like a deploy does: the
// `progress` query (which `api7-ha ... --follow` draws with the deploy's table), the UI's
// current details (a per-host table), the phase search attribute, and each host's steps.
import {
  defineQuery,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { StepResult } from '../activities/context';
import { PHASE } from '../temporal/search-attributes';
import { failureMessage } from './failures';
import { hostsMarkdown, type HostProgress, type ProgressView, type StepStatus } from './progress';

export interface OperationProgress extends ProgressView {
  /** "Teardown", "Remove ha4": the table's heading. */
  operation: string;
  cluster: string;
  /** The operation's phases, in order. */
  phases: string[];
  changes: number;
  warnings: string[];
}

export const operationProgressQuery = defineQuery<OperationProgress>('progress');

export class OperationTracker {
  readonly progress: OperationProgress;
  /** Each host's step reports, in the order they finished. */
  readonly steps: Record<string, string[]>;

  constructor(
    operation: string,
    cluster: string,
    hosts: Array<{ name: string; roles: string[] }>,
    phases: readonly string[],
  ) {
    this.progress = {
      operation,
      cluster,
      phase: phases[0] ?? 'done',
      phases: [...phases],
      phasesDone: [],
      hosts: Object.fromEntries(
        hosts.map((h): [string, HostProgress] => [
          h.name,
          { roles: h.roles, step: '-', status: 'pending', detail: '', done: [] },
        ]),
      ),
      changes: 0,
      warnings: [],
    };
    this.steps = Object.fromEntries(hosts.map((h) => [h.name, []]));
    setHandler(operationProgressQuery, () => this.progress);
  }

  publish(): void {
    const p = this.progress;
    setCurrentDetails(
      hostsMarkdown(
        p,
        `**${p.operation} ${p.cluster}** — phase **${p.phase}** (${p.phasesDone.length}/${p.phases.length} done)`,
      ),
    );
  }

  /** The operation is now in `phase` (the search attribute follows). */
  enter(phase: string): void {
    this.progress.phase = phase;
    upsertSearchAttributes([{ key: PHASE, value: phase }]);
    this.publish();
  }

  finish(phase: string): void {
    this.progress.phasesDone.push(phase);
    this.publish();
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
      this.steps[host]?.push(`${step}: ${r.detail}`);
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
