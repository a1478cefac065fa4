// What a day-2 operation (teardown, remove) shows while it runs, like a deploy does: the
// `progress` query (which `api7-ha ... --follow` draws with the deploy's table), the UI's
// current details (a per-host table), the phase search attribute, and each host's steps.
import {
  defineQuery,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { PHASE } from '../temporal/search-attributes';
import { HostStepsTracker } from './host-steps';
import { hostsMarkdown, type HostProgress, type ProgressView } from './progress';

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

export class OperationTracker extends HostStepsTracker<OperationProgress, string> {
  constructor(
    operation: string,
    cluster: string,
    hosts: Array<{ name: string; roles: string[] }>,
    phases: readonly string[],
  ) {
    super(
      {
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
      },
      hosts,
    );
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
}
