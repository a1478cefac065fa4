// verifyHA's logic on a local Temporal server with fake activities: drill order, the
// faulted host's rotation, the verdict rules, cancellation during a fault (the restore
// still runs), and the refusal while a deploy or another verification runs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { VerifyActivities } from '../../src/activities';
import { PHASE, VERDICT } from '../../src/temporal/search-attributes';
import { verifyHA, verifyProgressQuery } from '../../src/workflows';
import type { Journal } from '../../src/workflows/journal';
import type { VerifyInput } from '../../src/workflows/verify';
import {
  Calls,
  fakeVerifyActivities,
  fatal,
  gate,
  probeStats,
  sleep,
  untilCancelled,
} from '../support/fakes';
import { inventory, workflowEnvForFile, verifyInput, withWorker } from '../support/workflow-env';

const t = workflowEnvForFile();

let runs = 0;

interface VerifyRun {
  calls: Calls;
  journal: Journal;
  /** Set when the workflow did not complete (cancelled or failed). */
  error?: unknown;
  verdictAttribute: unknown;
  phaseAttribute: unknown;
}

/**
 * Run one verifyHA with the given fakes. `during` runs beside the workflow (to cancel it
 * at the right moment); the run is then awaited to its end.
 */
async function verify(
  overrides: Partial<VerifyActivities> = {},
  input: VerifyInput = verifyInput(),
  during?: (handle: WorkflowHandle<typeof verifyHA>) => Promise<void>,
): Promise<VerifyRun> {
  const calls = new Calls();
  return withWorker(t, fakeVerifyActivities(calls, overrides), async (taskQueue) => {
    const handle = await t.env.client.workflow.start(verifyHA, {
      taskQueue,
      workflowId: `verify-test-${++runs}`,
      args: [input],
    });
    await during?.(handle);
    let error: unknown;
    try {
      await handle.result();
    } catch (e) {
      error = e;
    }
    const journal = await handle.query(verifyProgressQuery);
    const attrs = (await handle.describe()).typedSearchAttributes;
    return {
      calls,
      journal,
      error,
      verdictAttribute: attrs.get(VERDICT),
      phaseAttribute: attrs.get(PHASE),
    };
  });
}

const only = (...drills: Array<'data-plane' | 'control-plane' | 'etcd'>) =>
  verifyInput(inventory(), { drills });

describe('verifyHA with fake activities', { timeout: 120_000 }, () => {
  it('runs the three drills: fault, measure, restore, recover, and passes', async () => {
    const run = await verify();
    assert.equal(run.error, undefined);
    assert.equal(run.journal.verdict, 'passed');
    assert.equal(run.verdictAttribute, 'passed');
    assert.equal(run.phaseAttribute, 'done');
    assert.deepEqual(
      run.journal.drills.map((d) => [d.drill, d.host, d.component, d.verdict, d.restored]),
      [
        ['data-plane', 'ha4', 'data-plane', 'passed', true],
        ['control-plane', 'ha1', 'control-plane', 'passed', true],
        ['etcd', 'ha1', 'etcd', 'passed', true],
      ],
    );
    // Per drill: steady state, then (for the load balancers) the probe starts before the stop;
    // the safeguards watch beside each (drills-workflow.test.ts).
    assert.equal(run.calls.of('watchSafeguards').length, 3);
    assert.deepEqual(
      run.calls.list
        .filter((c) => c.name !== 'watchSafeguards')
        .map((c) => `${c.name}${c.host ? `@${c.host}` : ''}`),
      [
        'checkExclusion',
        'steadyState',
        'probeLoadBalancer',
        'stopComponent@ha4',
        'startComponent@ha4',
        'waitRecovered@ha4',
        'steadyState',
        'probeLoadBalancer',
        'stopComponent@ha1',
        'startComponent@ha1',
        'waitRecovered@ha1',
        'steadyState',
        'stopComponent@ha1',
        'etcdDrillChecks',
        'startComponent@ha1',
        'waitRecovered@ha1',
      ],
    );
    assert.deepEqual(
      run.calls.of('probeLoadBalancer').map((c) => c.args[1]),
      ['data-plane', 'control-plane'],
    );
  });

  it('faults the next host of each role on the next run', async () => {
    const run = await verify({ checkExclusion: async () => ({ previousRuns: 1 }) });
    assert.deepEqual(
      run.journal.drills.map((d) => `${d.drill}@${d.host}`),
      ['data-plane@ha5', 'control-plane@ha2', 'etcd@ha2'],
    );
  });

  describe('verdicts', () => {
    it('deviates when more requests fail than tolerated, and goes on with the next drill', async () => {
      const run = await verify(
        {
          probeLoadBalancer: async (_input, target) =>
            target === 'data-plane' ? probeStats(1000, 3) : probeStats(1000, 0),
        },
        only('data-plane', 'control-plane'),
      );
      const [dp, cp] = run.journal.drills;
      assert.equal(dp?.verdict, 'deviated');
      assert.deepEqual(dp?.reasons, ['3 of 1000 requests failed (more than 0.1 %)']);
      assert.equal(dp?.restored, true);
      assert.equal(cp?.verdict, 'passed');
      assert.equal(run.journal.verdict, 'deviated');
      assert.equal(run.verdictAttribute, 'deviated');
    });

    it('passes with failures exactly at the tolerance', async () => {
      const run = await verify(
        { probeLoadBalancer: async () => probeStats(1000, 1) },
        only('data-plane'),
      );
      assert.equal(run.journal.drills[0]?.verdict, 'passed');
      assert.equal(run.journal.verdict, 'passed');
    });

    it('takes the tolerances from the options', async () => {
      const input = verifyInput(inventory(), {
        drills: ['data-plane'],
        tolerances: { maxFailedRatio: 0.01, maxRecoveryMs: 60_000 },
      });
      const run = await verify({ probeLoadBalancer: async () => probeStats(1000, 9) }, input);
      assert.equal(run.journal.drills[0]?.verdict, 'passed');
    });

    it('deviates when recovery takes longer than tolerated', async () => {
      const input = verifyInput(inventory(), {
        drills: ['etcd'],
        tolerances: { maxFailedRatio: 0.001, maxRecoveryMs: 200 },
      });
      const run = await verify(
        {
          waitRecovered: async () => {
            await sleep(700);
            return 700;
          },
        },
        input,
      );
      const [drill] = run.journal.drills;
      assert.equal(drill?.verdict, 'deviated');
      assert.ok((drill?.recoveryMs ?? 0) >= 700, `recoveryMs ${drill?.recoveryMs}`);
      assert.match(drill?.reasons.join('\n') ?? '', /^recovery took \d+ s \(tolerance 0\.2 s\)$/);
    });

    it('deviates when the control plane does not work with one etcd member down', async () => {
      const run = await verify(
        {
          etcdDrillChecks: async () => ({
            routeWritten: true,
            routeReadBack: true,
            gatewaysRouted: false,
            healthyMembers: 1,
            leader: false,
            problems: ['ha2: no leader'],
          }),
        },
        only('etcd'),
      );
      const [drill] = run.journal.drills;
      assert.equal(drill?.verdict, 'deviated');
      assert.deepEqual(drill?.reasons, [
        'the gateways did not pick up the new route',
        'expected 2 healthy members with a leader, saw 1 and no leader',
        'ha2: no leader',
      ]);
      assert.equal(run.journal.verdict, 'deviated');
    });

    it('aborts without a fault when the cluster is not steady', async () => {
      const run = await verify({
        steadyState: async () => ({ ok: false, problems: ['gateway on ha5 is not serving'] }),
      });
      assert.deepEqual(run.calls.names(), ['checkExclusion', 'steadyState']);
      assert.equal(run.journal.drills.length, 1, 'no second drill after an aborted one');
      assert.equal(run.journal.drills[0]?.verdict, 'aborted');
      assert.deepEqual(run.journal.drills[0]?.reasons, [
        'cluster not steady: gateway on ha5 is not serving',
      ]);
      assert.equal(run.journal.verdict, 'aborted');
      assert.equal(run.verdictAttribute, 'aborted');
    });

    it('aborts, restores and stops when the fault cannot be injected', async () => {
      const run = await verify({
        stopComponent: async () => {
          throw fatal('docker compose down failed on ha4');
        },
      });
      const [drill] = run.journal.drills;
      assert.equal(drill?.verdict, 'aborted');
      assert.deepEqual(drill?.reasons, ['docker compose down failed on ha4']);
      assert.deepEqual(run.calls.hostsOf('startComponent'), ['ha4'], 'a half-done stop is undone');
      assert.equal(run.journal.drills.length, 1);
      assert.equal(run.journal.verdict, 'aborted');
    });

    it('aborts and says so when the restore fails', async () => {
      const run = await verify({
        startComponent: async () => {
          throw fatal('ha4 is unreachable');
        },
      });
      const [drill] = run.journal.drills;
      assert.equal(drill?.restored, false);
      assert.equal(drill?.verdict, 'aborted');
      assert.deepEqual(drill?.reasons, ['restore failed: ha4 is unreachable']);
      assert.deepEqual(run.calls.of('waitRecovered'), []);
      assert.equal(run.journal.drills.length, 1, 'no next drill with a host left down');
      assert.equal(run.journal.verdict, 'aborted');
    });
  });

  describe('cancellation', () => {
    /** Cancel the run as soon as the fake's stop of the component was called. */
    const cancelAfterStop = (stopped: Promise<void>) => async (h: WorkflowHandle) => {
      await stopped;
      await h.cancel();
    };

    it('during a gateway fault still restores the gateway, then ends cancelled', async () => {
      const stop = gate();
      const run = await verify(
        {
          probeLoadBalancer: untilCancelled,
          stopComponent: async (_input, host, component) => {
            stop.open();
            return `stop ${component} on ${host}`;
          },
        },
        verifyInput(),
        cancelAfterStop(stop.promise),
      );
      assert.ok(run.error instanceof WorkflowFailedError, `expected cancelled, got ${run.error}`);
      assert.ok(run.error.cause instanceof CancelledFailure);
      const names = run.calls.list.map((c) => c.name);
      assert.deepEqual(names.slice(names.indexOf('stopComponent')), [
        'stopComponent',
        'startComponent',
        'waitRecovered',
      ]);
      assert.deepEqual(run.calls.of('startComponent')[0]?.args.slice(1), ['ha4', 'data-plane']);
      const [drill] = run.journal.drills;
      assert.equal(drill?.restored, true);
      assert.equal(drill?.verdict, 'aborted');
      assert.deepEqual(drill?.reasons, ['cancelled']);
      assert.equal(run.journal.drills.length, 1);
      assert.equal(run.journal.summary, 'cancelled during the data-plane drill; ha4 was restored');
      assert.equal(run.verdictAttribute, 'aborted');
    });

    it('restores an etcd member whose stop was sent but never answered', async () => {
      const stop = gate();
      const run = await verify(
        {
          stopComponent: async () => {
            stop.open();
            return untilCancelled();
          },
        },
        only('etcd'),
        cancelAfterStop(stop.promise),
      );
      assert.ok(run.error instanceof WorkflowFailedError);
      assert.deepEqual(run.calls.of('startComponent')[0]?.args.slice(1), ['ha1', 'etcd']);
      assert.deepEqual(run.calls.of('etcdDrillChecks'), []);
      assert.equal(run.journal.drills[0]?.restored, true);
    });

    it('before any fault restores nothing', async () => {
      const steady = gate();
      const run = await verify(
        {
          steadyState: async () => {
            steady.open();
            return untilCancelled();
          },
        },
        verifyInput(),
        async (h) => {
          await steady.promise;
          await h.cancel();
        },
      );
      assert.ok(run.error instanceof WorkflowFailedError);
      assert.ok(run.error.cause instanceof CancelledFailure);
      assert.deepEqual(run.calls.names(), ['checkExclusion', 'steadyState']);
    });
  });

  it('refuses to start a drill while a deploy runs', async () => {
    const blockedBy =
      'a deploy of prod-gw is running (deploy-prod-gw); drills never run during a deploy';
    const run = await verify({ checkExclusion: async () => ({ blockedBy, previousRuns: 0 }) });
    assert.equal(run.error, undefined);
    assert.deepEqual(run.calls.names(), ['checkExclusion']);
    assert.deepEqual(run.journal.drills, []);
    assert.equal(run.journal.verdict, 'aborted');
    assert.equal(run.journal.summary, `aborted before any fault: ${blockedBy}`);
    assert.equal(run.verdictAttribute, 'aborted');
  });
});
