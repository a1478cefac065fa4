// What every tracker of a per-host operation (deploy, restore, teardown, remove) does the
// same way: a host's row shows its latest step, a failed step stays shown over later news,
// each finished step is listed, and a failure is recorded before the `failed` phase.
import type { StepResult } from '../activities/context';
import { failureMessage } from './failures';
import type { ProgressView, StepStatus } from './progress';

export abstract class HostStepsTracker<
  P extends ProgressView & { changes: number },
  Phase extends string,
> {
  /** Each host's step reports, in the order they finished. */
  readonly steps: Record<string, string[]>;

  constructor(
    readonly progress: P,
    hosts: ReadonlyArray<{ name: string }>,
  ) {
    this.steps = Object.fromEntries(hosts.map((h) => [h.name, []]));
  }

  /** The UI's current details from `progress`. */
  abstract publish(): void;

  /** The operation is now in `phase` (the search attribute follows). */
  abstract enter(phase: Phase | 'failed'): void;

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
