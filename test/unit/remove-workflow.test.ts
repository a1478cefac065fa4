// removeHost's logic with fake activities: the order (lock, check, drain, cleanup, proof),
// a dead host that does not stop the remove, a refusal before any host is touched, and a
// remove refused during a deploy and a deploy during a remove (REAL lookup).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import type { RemoveActivities, ReplaceActivities, TeardownActivities } from '../../src/activities';
import { refuseWhenClusterBusy } from '../../src/activities/validate';
import { checkRemoveExclusion, type RemoveInput } from '../../src/activities/remove';
import { runningRuns } from '../../src/temporal/cluster-lock';
import { deployHA, removeHost } from '../../src/workflows';
import { Calls, fakeDeployActivities, fatal, gate, sleep } from '../support/fakes';
import { deployInput, inventory, withWorker, workflowEnvForFile } from '../support/workflow-env';

const t = workflowEnvForFile({ lookups: true });

const input = (cluster: string, host = 'ha6', force = false): RemoveInput => ({
  ...deployInput(inventory({ cluster, dataPlaneHosts: 3 })),
  host,
  force,
});

function fakes(
  calls: Calls,
  overrides: Partial<
    RemoveActivities & TeardownActivities & Pick<ReplaceActivities, 'retireEtcdMember'>
  > = {},
) {
  return {
    ...fakeDeployActivities(calls),
    ...calls.record<
      RemoveActivities & TeardownActivities & Pick<ReplaceActivities, 'retireEtcdMember'>
    >({
      checkRemoveExclusion: async () => ({}),
      checkTeardownExclusion: async () => ({}),
      leaveEtcdMembership: async (_i, host) => ({ host, changed: true, detail: 'removed' }),
      retireEtcdMember: async (_i, host) => ({ host, changed: true, detail: 'moved aside' }),
      drainComponent: async (_i, host) => ({ host, changed: true, detail: 'stopped' }),
      teardownHost: async (_i, host) => ({
        host,
        changed: true,
        detail: 'removed',
        removed: ['x'],
        kept: [],
        left: [],
      }),
      ...overrides,
    }),
  };
}

const rootCause = (e: unknown): string => {
  let c: unknown = e;
  while (c instanceof Error && c.cause instanceof Error) c = c.cause;
  return c instanceof Error ? c.message : String(c);
};
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail('should fail'),
    (e: unknown) => rootCause(e),
  );

async function visible(type: 'deployHA' | 'removeHost', cluster: string, workflowId: string) {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100))
    if ((await runningRuns(t.env.client, type, cluster)).includes(workflowId)) return;
  assert.fail(`${workflowId} never showed as a running ${type} of ${cluster}`);
}

describe('removeHost', { timeout: 120_000 }, () => {
  it('drains the gateway, then cleans the host, then proves the rest serves', async () => {
    const calls = new Calls();
    const r = await withWorker(t, fakes(calls), (taskQueue) =>
      t.env.client.workflow.execute(removeHost, {
        taskQueue,
        workflowId: 'remove-rm-a',
        args: [input('rm-a')],
      }),
    );
    const drain = calls.one('drainComponent', 'ha6');
    const cleanup = calls.one('teardownHost', 'ha6');
    const proof = calls.of('proveTraffic')[0]!;
    assert.ok(calls.endedBefore(calls.one('checkRemoveExclusion'), drain));
    assert.ok(calls.endedBefore(drain, cleanup));
    assert.ok(calls.endedBefore(cleanup, proof));
    // The proof runs with the cluster as it is after the removal.
    const rest = (proof.args[0] as RemoveInput).inventory.hosts.map((h) => h.name);
    assert.deepEqual(rest, ['ha1', 'ha2', 'ha3', 'ha4', 'ha5']);
    assert.equal(r.notReached, undefined);
    assert.equal(r.proof?.status, 200);
  });

  it('a dead host: the remove finishes, says it was not reached and what may be left', async () => {
    const calls = new Calls();
    const dead = async (): Promise<never> => {
      throw fatal('ha6: connect ECONNREFUSED 10.0.0.16:22');
    };
    const r = await withWorker(
      t,
      fakes(calls, { drainComponent: dead, teardownHost: dead }),
      (taskQueue) =>
        t.env.client.workflow.execute(removeHost, {
          taskQueue,
          workflowId: 'remove-rm-b',
          args: [input('rm-b')],
        }),
    );
    assert.match(r.notReached!.why, /ECONNREFUSED/);
    assert.match(r.notReached!.mayBeLeft.join(), /gateway's container/);
    assert.deepEqual(calls.of('teardownHost'), [], 'nothing more is tried on a host that is away');
    assert.equal(r.proof?.status, 200, 'the rest of the cluster is proven');
  });

  it('below the minimum without --force: refused naming the loss, no host touched', async () => {
    const calls = new Calls();
    const message = await withWorker(t, fakes(calls), (taskQueue) =>
      failureOf(
        t.env.client.workflow.execute(removeHost, {
          taskQueue,
          workflowId: 'remove-rm-c',
          args: [{ ...input('rm-c'), inventory: inventory({ cluster: 'rm-c' }), host: 'ha4' }],
        }),
      ),
    );
    assert.match(message, /^remove refused: removing ha4 would leave 1 gateway \(ha5\)/);
    assert.deepEqual(calls.of('drainComponent'), []);
  });

  it('an etcd host (forced below 3): its member leaves the membership first, then the host is cleaned', async () => {
    const calls = new Calls();
    await withWorker(t, fakes(calls), (taskQueue) =>
      t.env.client.workflow.execute(removeHost, {
        taskQueue,
        workflowId: 'remove-rm-e',
        args: [{ ...input('rm-e', 'ha3', true) }],
      }),
    );
    const leave = calls.one('leaveEtcdMembership', 'ha3');
    const retire = calls.one('retireEtcdMember', 'ha3');
    assert.ok(calls.endedBefore(leave, retire));
    assert.ok(calls.endedBefore(retire, calls.one('teardownHost', 'ha3')));
    assert.deepEqual(calls.of('drainComponent'), [], 'ha3 has no dashboard or gateway');
  });

  it('an etcd member that cannot leave without losing quorum: nothing on the host is touched', async () => {
    const calls = new Calls();
    const message = await withWorker(
      t,
      fakes(calls, {
        leaveEtcdMembership: async () => {
          throw fatal(
            'removing etcd member etcd-1 would leave 1 of 2 voters answering',
            'EtcdQuorumAtRisk',
          );
        },
      }),
      (taskQueue) =>
        failureOf(
          t.env.client.workflow.execute(removeHost, {
            taskQueue,
            workflowId: 'remove-rm-f',
            args: [{ ...input('rm-f', 'ha1', true) }],
          }),
        ),
    );
    assert.match(message, /quorum|voters/);
    assert.deepEqual(calls.of('drainComponent'), []);
    assert.deepEqual(calls.of('teardownHost'), []);
    assert.deepEqual(calls.of('retireEtcdMember'), []);
  });

  it('a remove is refused during a deploy, and a deploy during a remove (real lookup)', async () => {
    const calls = new Calls();
    const held = gate();
    const activities = {
      ...fakes(calls, {
        checkRemoveExclusion,
        drainComponent: async (_i, host) => {
          await held.promise;
          return { host, changed: true, detail: 'stopped' };
        },
      }),
      ...fakeDeployActivities(calls, {
        validateDeploy: async (i) => {
          await refuseWhenClusterBusy(
            i.inventory.cluster,
            Context.current().info.workflowExecution?.workflowId ?? '',
          );
          return { warnings: [] };
        },
        prepareHost: async (_i, host) => {
          await held.promise;
          return { host, changed: false, detail: 'present' };
        },
      }),
    };
    await withWorker(t, activities, async (taskQueue) => {
      const remove = await t.env.client.workflow.start(removeHost, {
        taskQueue,
        workflowId: 'remove-rm-d',
        args: [input('rm-d')],
      });
      await visible('removeHost', 'rm-d', 'remove-rm-d');
      assert.equal(
        await failureOf(
          t.env.client.workflow.execute(deployHA, {
            taskQueue,
            workflowId: 'deploy-rm-d',
            args: [deployInput(inventory({ cluster: 'rm-d', dataPlaneHosts: 3 }))],
          }),
        ),
        'a remove of rm-d is running (remove-rm-d); deploys are refused while a host is taken out — try again when it has finished',
      );
      const deploy = await t.env.client.workflow.start(deployHA, {
        taskQueue,
        workflowId: 'deploy-rm-e',
        args: [deployInput(inventory({ cluster: 'rm-e', dataPlaneHosts: 3 }))],
      });
      await visible('deployHA', 'rm-e', 'deploy-rm-e');
      assert.equal(
        await failureOf(
          t.env.client.workflow.execute(removeHost, {
            taskQueue,
            workflowId: 'remove-rm-e',
            args: [input('rm-e')],
          }),
        ),
        'remove refused: a deploy of rm-e is running (deploy-rm-e); try again when it has finished',
      );
      held.open();
      await Promise.all([remove.result(), deploy.result()]);
    });
  });
});
