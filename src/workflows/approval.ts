// The approval gate of verifyHA: with `verify --require-approval`, or `verify.requireApproval`
// in the inventory, no fault is injected until a person approves the run (the Temporal
// Update `approve`, sent by `api7-ha verify approve <cluster>`). A rejection or the timeout
// ends the run `aborted` before any fault.
import { condition, defineUpdate, setHandler } from '@temporalio/workflow';
import type { Inventory } from '../config/inventory';
import {
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  type ApprovalRecord,
  type Journal,
  type VerifyOptions,
} from './journal';

/** What `api7-ha verify approve` sends. */
export interface ApprovalRequest {
  /** The cluster the approver means: a run of another cluster refuses the approval. */
  cluster: string;
  /** Who decides, e.g. alice@ops-laptop. */
  approver: string;
  /** Reject instead of approve; a rejection needs a reason. */
  reject?: boolean;
  reason?: string;
}

export const approveUpdate = defineUpdate<ApprovalRecord, [ApprovalRequest]>('approve');

/** The phase (and Api7Phase search attribute) of a run that waits for approval. */
export const AWAITING_APPROVAL = 'waiting for approval';

export const MAX_APPROVER_LENGTH = 128;
export const MAX_REASON_LENGTH = 500;

/** Control, format (bidi overrides, zero-width) and line/paragraph separator characters. */
const invisible = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Why an approval request is not acceptable as such (its text), or undefined. */
export function approvalRequestProblem(r: Partial<ApprovalRequest>): string | undefined {
  if (typeof r.approver !== 'string' || !r.approver.trim())
    return 'the approver identity must not be empty';
  if (r.approver.length > MAX_APPROVER_LENGTH)
    return `the approver identity must be at most ${MAX_APPROVER_LENGTH} characters`;
  if (invisible.test(r.approver) || r.approver !== r.approver.trim())
    return 'the approver identity must not contain control characters or surrounding spaces';
  if (r.reason !== undefined && typeof r.reason !== 'string') return 'the reason must be text';
  if ((r.reason?.length ?? 0) > MAX_REASON_LENGTH)
    return `the reason must be at most ${MAX_REASON_LENGTH} characters`;
  if (r.reason && invisible.test(r.reason))
    return 'the reason must be one line without control characters';
  if (r.reject && !r.reason?.trim()) return 'a rejection needs a reason';
  return undefined;
}

/** Whether this run waits for approval, and how long: the options, else the inventory. */
export function approvalSettings(
  inv: Inventory,
  options: Partial<VerifyOptions>,
): { required: boolean; timeoutMs: number } {
  // Inventories of runs started before the setting existed have no `verify` section.
  const fromInventory = (inv as Partial<Inventory>).verify;
  return {
    required: options.requireApproval === true || fromInventory?.requireApproval === true,
    timeoutMs:
      options.approvalTimeoutMs ??
      (fromInventory?.approvalTimeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS) * 1000,
  };
}

/**
 * Register the `approve` update for the run (refused, with a reason, unless the run waits).
 * The returned `wait` holds the run until a decision or the timeout; true means approved.
 */
export function approvalGate(
  journal: Journal,
  hooks: { now: () => string; enter: (phase: string) => void; note: (what: string) => void },
) {
  let waiting = false;
  setHandler(
    approveUpdate,
    (r) => {
      const a = journal.approval!;
      a.decision = r.reject ? 'rejected' : 'approved';
      a.by = r.approver;
      a.at = hooks.now();
      if (r.reason) a.reason = r.reason;
      waiting = false;
      hooks.note(`${a.decision} by ${a.by}${a.reason ? `: ${a.reason}` : ''}`);
      return a;
    },
    {
      validator: (r) => {
        const problem = approvalRequestProblem(r ?? {});
        if (problem) throw new Error(problem);
        if (r.cluster !== journal.cluster)
          throw new Error(
            `this run verifies cluster "${journal.cluster}", not "${String(r.cluster)}"`,
          );
        if (!waiting)
          throw new Error(
            journal.approval?.decision
              ? `the run was already ${journal.approval.decision}${journal.approval.by ? ` by ${journal.approval.by}` : ''}`
              : `the run is not waiting for approval (phase: ${journal.phase})`,
          );
      },
    },
  );

  return {
    async wait(timeoutMs: number): Promise<boolean> {
      const since = hooks.now();
      journal.approval = {
        waitingSince: since,
        until: new Date(Date.parse(since) + timeoutMs).toISOString(),
        timeoutMs,
      };
      waiting = true;
      hooks.enter(AWAITING_APPROVAL);
      const decided = await condition(() => !waiting, timeoutMs);
      const a = journal.approval;
      if (!decided) {
        waiting = false;
        a.decision = 'timed out';
        a.at = hooks.now();
        hooks.note(`no approval within ${Math.round(timeoutMs / 1000)} s`);
      }
      return a.decision === 'approved';
    },
  };
}

/** The summary of a run that ended at the gate. */
export function notApprovedSummary(a: ApprovalRecord): string {
  return a.decision === 'rejected'
    ? `aborted before any fault: rejected by ${a.by}${a.reason ? ` (${a.reason})` : ''}`
    : `aborted before any fault: no approval within ${Math.round(a.timeoutMs / 1000)} s`;
}
