// The one pattern every drill follows: inject the fault (cancellable), hold it while the
// safeguards watch, measure, and always restore — also after a failure, a tripped
// safeguard or a cancellation (non-cancellable scope) — then time the recovery.
import {
  CancellationScope,
  isCancellation,
  patched,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { DrillTarget } from '../../activities/safeguards';
import type { ComponentName } from '../../model/components';
import { failureMessage } from '../failures';
import type { DrillRecord, SafeguardTrip, VerifyOptions } from '../journal';
import type { VerifyInput } from '../verify';
import { act, base, recovery } from './activities';

/** What a drill is handed: the run's input and options, its journal record, and helpers. */
export interface DrillContext {
  input: VerifyInput;
  options: VerifyOptions;
  record: DrillRecord;
  clusterId: string;
  now(): string;
  enter(phase: string): void;
  note(what: string): void;
  /** Say so just before the fault's command: a fault that lands unreported still gets restored. */
  injected(): void;
  /** Options for one step, with the summary the UI shows. */
  step(summary: string, over?: Partial<ActivityOptions>): ActivityOptions;
}

/** One drill, planned before its steady-state gate. */
export interface Drill {
  /** The faulted host (the gateway's, for gateway-restart-degraded). */
  host: string;
  /** What is faulted, for the journal. */
  component: string;
  /** What the safeguards leave alone: everything the drill faults on purpose. */
  targets: DrillTarget[];
  /** Inject, hold and measure; reasons go into ctx.record. */
  fault(ctx: DrillContext): Promise<void>;
  /** Undo the fault and wait until healthy; set ctx.record.restoredAt after the undo. */
  restore(ctx: DrillContext): Promise<void>;
}

/** The safeguards of a held fault are new: runs recorded before them replay without. */
export const SAFEGUARDS_PATCH = 'drill-safeguards';

class SafeguardTripped extends Error {
  constructor(readonly trip: SafeguardTrip) {
    super(`safeguard ${trip.safeguard} tripped at ${trip.at}: ${trip.detail}`);
  }
}

/**
 * Run `body` (the fault and its measurements) while watchSafeguards checks both load
 * balancers and every component that is not a target; when one trips, the body is
 * cancelled at once and SafeguardTripped thrown, so the restore follows immediately.
 */
async function guarded(ctx: DrillContext, drill: Drill, body: () => Promise<void>) {
  if (!patched(SAFEGUARDS_PATCH)) return body();
  const watchScope = new CancellationScope();
  const bodyScope = new CancellationScope();
  // Watches until the body ends; its own limit is only a backstop.
  const limitMs = ctx.options.holdMs + ctx.options.tolerances.maxRecoveryMs + 600_000;
  const watcher = watchScope.run(() =>
    act.watchSafeguards.executeWithOptions(
      ctx.step(`safeguards: both load balancers and every component but the drill's targets`, {
        startToCloseTimeout: limitMs + 60_000,
      }),
      [ctx.input, drill.targets, ctx.options.safeguards, limitMs],
    ),
  );
  const held = bodyScope.run(body);
  watcher.catch(() => undefined);
  held.catch(() => undefined);
  try {
    const trip = await Promise.race([
      held.then(() => undefined),
      // A watcher that ends without a trip (or fails) leaves the body to finish.
      watcher.then(
        (t) => t ?? held.then(() => undefined),
        () => held.then(() => undefined),
      ),
    ]);
    if (trip) {
      bodyScope.cancel();
      await held.catch(() => undefined);
      throw new SafeguardTripped(trip);
    }
  } finally {
    watchScope.cancel();
  }
}

/**
 * Fault, hold, restore. Returns the cancellation when the operator cancelled (after the
 * restore), for the caller to end the run with; otherwise the record holds the outcome.
 */
export async function runDrill(ctx: DrillContext, drill: Drill): Promise<unknown> {
  const { record, options } = ctx;
  let stopped = false;
  const drillCtx: DrillContext = { ...ctx, injected: () => void (stopped = true) };
  let cancelled: unknown;
  try {
    await CancellationScope.cancellable(() =>
      guarded(drillCtx, drill, () => drill.fault(drillCtx)),
    );
  } catch (e) {
    record.verdict = 'aborted';
    if (e instanceof SafeguardTripped) {
      record.safeguard = e.trip;
      record.reasons.push(e.message);
      ctx.note(`${record.drill}: ${e.message}`);
    } else if (isCancellation(e)) {
      record.reasons.push('cancelled');
      record.safeguard = {
        safeguard: 'cancelled',
        at: ctx.now(),
        detail: 'the operator cancelled',
      };
      cancelled = e;
    } else record.reasons.push(failureMessage(e));
  }
  if (stopped)
    await CancellationScope.nonCancellable(async () => {
      ctx.enter(`${record.drill}: restore ${drill.host}`);
      try {
        // Time to recover: from the restore command to healthy (workflow time, replay-safe).
        const restoreStarted = Date.now();
        await drill.restore(drillCtx);
        record.recoveryMs = Date.now() - restoreStarted;
        if (record.recoveryMs > options.tolerances.maxRecoveryMs)
          record.reasons.push(
            `recovery took ${Math.round(record.recoveryMs / 1000)} s (tolerance ${options.tolerances.maxRecoveryMs / 1000} s)`,
          );
        record.restored = true;
      } catch (e) {
        record.restored = false;
        record.verdict = 'aborted';
        record.reasons.push(`restore failed: ${failureMessage(e)}`);
      }
      record.endedAt = ctx.now();
      ctx.note(`${record.drill}: restored ${drill.host}: ${record.restored ? 'yes' : 'NO'}`);
    });
  return cancelled;
}

/** Wait until a restored component is healthy again (polls for minutes in one attempt). */
export function waitRecovered(ctx: DrillContext, host: string, component: ComponentName) {
  const maxMs = ctx.options.tolerances.maxRecoveryMs;
  return recovery.waitRecovered.executeWithOptions(
    {
      ...base,
      startToCloseTimeout: maxMs + 300_000,
      summary: `${host}: wait until ${component} is healthy again`,
    },
    [ctx.input, host, component, maxMs + 240_000],
  );
}

/** A failed share above the tolerance, as a reason. */
export function probeReason(
  options: VerifyOptions,
  probe: { requests: number; failures: number; failedRatio: number },
  via = '',
): string | undefined {
  if (probe.failedRatio <= options.tolerances.maxFailedRatio) return undefined;
  return `${probe.failures} of ${probe.requests} requests failed${via} (more than ${options.tolerances.maxFailedRatio * 100} %)`;
}
