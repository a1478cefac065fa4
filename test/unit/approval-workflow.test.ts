// verifyHA's approval gate on a local Temporal server with fake activities: a run that must
// be approved waits before any fault (phase, search attribute and UI details say so), goes on
// when approved and records the approver, ends `aborted` with nothing injected when rejected
// or when the wait times out, and its validator refuses bad or misdirected approvals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { PHASE } from '../../src/temporal/search-attributes';
import {
  approveUpdate,
  AWAITING_APPROVAL,
  type ApprovalRequest,
} from '../../src/workflows/approval';
import { verifyHA, verifyProgressQuery } from '../../src/workflows';
import type { Journal } from '../../src/workflows/journal';
import type { VerifyInput } from '../../src/workflows/verify';
import { waitFor } from '../../src/util/exec';
import { Calls, fakeVerifyActivities } from '../support/fakes';
import { inventory, verifyInput, withWorker, workflowEnvForFile } from '../support/workflow-env';

const t = workflowEnvForFile();
let runs = 0;

/** Start a run; `during` gets its handle once it waits for approval (when it does). */
async function verify(
  input: VerifyInput,
  during: (h: WorkflowHandle<typeof verifyHA>) => Promise<void> = async () => {},
): Promise<{ calls: Calls; journal: Journal }> {
  const calls = new Calls();
  return withWorker(t, fakeVerifyActivities(calls), async (taskQueue) => {
    const handle = await t.env.client.workflow.start(verifyHA, {
      taskQueue,
      workflowId: `approval-test-${++runs}`,
      args: [input],
    });
    await during(handle);
    const journal = await handle.result();
    return { calls, journal };
  });
}

const waiting = (h: WorkflowHandle) =>
  waitFor(
    'the run to wait for approval',
    async () => (await h.query(verifyProgressQuery)).phase === AWAITING_APPROVAL,
    20_000,
    50,
  );

const approval = (over: Partial<ApprovalRequest> = {}): ApprovalRequest => ({
  cluster: 'prod-gw',
  approver: 'alice@ops',
  ...over,
});

const gated = (opts: VerifyInput['options'] = {}) =>
  verifyInput(inventory(), {
    drills: ['data-plane'],
    requireApproval: true,
    approvalTimeoutMs: 60_000,
    ...opts,
  });

describe('the approval gate of verifyHA', { timeout: 120_000 }, () => {
  it('waits before any fault, says so, and goes on when approved, recording the approver', async () => {
    const run = await verify(gated(), async (h) => {
      await waiting(h);
      const d = await h.describe();
      assert.equal(d.typedSearchAttributes.get(PHASE), AWAITING_APPROVAL);
      const details = (await h.query(verifyProgressQuery)).approval;
      assert.ok(details && !details.decision && details.timeoutMs === 60_000);
      // What the UI shows as the run's current details (the SDK's metadata query).
      const meta = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(
        meta.currentDetails ?? '',
        /\*\*Waiting for approval\*\* until .*api7-ha verify approve prod-gw/,
      );
      const result = await h.executeUpdate(approveUpdate, { args: [approval()] });
      assert.equal(result.decision, 'approved');
      assert.equal(result.by, 'alice@ops');
    });
    assert.equal(run.journal.verdict, 'passed');
    assert.equal(run.journal.approval?.decision, 'approved');
    assert.equal(run.journal.approval?.by, 'alice@ops');
    assert.ok(run.journal.approval?.at);
    const names = run.calls.names();
    assert.deepEqual(names.slice(0, 2), ['checkExclusion', 'steadyState']);
    assert.ok(names.includes('stopComponent'), `the drill ran: ${names.join(', ')}`);
  });

  it('ends aborted with nothing injected when rejected, with the reason', async () => {
    const run = await verify(gated(), async (h) => {
      await waiting(h);
      await h.executeUpdate(approveUpdate, {
        args: [approval({ approver: 'bob@ops', reject: true, reason: 'change freeze' })],
      });
    });
    assert.equal(run.journal.verdict, 'aborted');
    assert.deepEqual(run.calls.names(), ['checkExclusion'], 'no steady-state check, no fault');
    assert.deepEqual(run.journal.drills, []);
    assert.equal(run.journal.approval?.decision, 'rejected');
    assert.equal(
      run.journal.summary,
      'aborted before any fault: rejected by bob@ops (change freeze)',
    );
  });

  it('ends aborted with nothing injected when nobody approves in time', async () => {
    const run = await verify(gated({ approvalTimeoutMs: 1500 }));
    assert.equal(run.journal.verdict, 'aborted');
    assert.deepEqual(run.calls.names(), ['checkExclusion']);
    assert.equal(run.journal.approval?.decision, 'timed out');
    assert.equal(run.journal.summary, 'aborted before any fault: no approval within 2 s');
  });

  it('is required by the inventory (verify.requireApproval) without the option, with its timeout', async () => {
    const inv = inventory();
    inv.verify = { requireApproval: true, approvalTimeoutSeconds: 1 };
    const run = await verify(verifyInput(inv, { drills: ['data-plane'] }));
    assert.equal(run.journal.approval?.decision, 'timed out');
    assert.equal(run.journal.approval?.timeoutMs, 1000);
    assert.deepEqual(run.calls.names(), ['checkExclusion']);
  });

  it('refuses bad, misdirected and repeated approvals without recording them', async () => {
    const refused = async (h: WorkflowHandle, r: Partial<ApprovalRequest>, why: RegExp) =>
      assert.rejects(
        h.executeUpdate(approveUpdate, { args: [{ ...approval(), ...r } as ApprovalRequest] }),
        (e: unknown) => {
          assert.ok(e instanceof WorkflowUpdateFailedError, String(e));
          assert.match(String((e.cause as Error)?.message), why);
          return true;
        },
      );
    const run = await verify(gated(), async (h) => {
      await waiting(h);
      await refused(h, { approver: '' }, /must not be empty/);
      await refused(h, { approver: '   ' }, /must not be empty/);
      await refused(h, { approver: 'x'.repeat(129) }, /at most 128 characters/);
      await refused(h, { approver: 'alice\nroot' }, /control characters/);
      await refused(h, { approver: 'alice\u202eevil' }, /control characters/);
      await refused(h, { cluster: 'staging' }, /verifies cluster "prod-gw", not "staging"/);
      await refused(h, { reject: true }, /a rejection needs a reason/);
      await refused(h, { reason: 'y'.repeat(501) }, /at most 500 characters/);
      assert.equal((await h.query(verifyProgressQuery)).approval?.decision, undefined);
      await h.executeUpdate(approveUpdate, { args: [approval()] });
      await refused(
        h,
        { approver: 'mallory@ops', reject: true, reason: 'no' },
        /already approved by alice@ops/,
      );
    });
    assert.equal(run.journal.approval?.by, 'alice@ops');
    assert.equal(run.journal.verdict, 'passed');
  });

  it('refuses an approval of a run that does not wait for one', async () => {
    await verify(verifyInput(inventory(), { drills: ['data-plane'] }), async (h) => {
      await assert.rejects(
        h.executeUpdate(approveUpdate, { args: [approval()] }),
        (e: unknown) =>
          e instanceof WorkflowUpdateFailedError &&
          /not waiting for approval/.test(String((e.cause as Error)?.message)),
      );
    });
  });
});
