// teardownCluster's logic with fake activities, and its place in the per-cluster lock with
// the REAL lookup (checkTeardownExclusion, and the deploy's refuseWhenClusterBusy) against
// the local Temporal server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { TeardownActivities } from '../../src/activities';
import { refuseWhenClusterBusy } from '../../src/activities/validate';
import { checkTeardownExclusion, type TeardownInput } from '../../src/activities/teardown';
import { runningRuns } from '../../src/temporal/cluster-lock';
import { deployHA, teardownCluster } from '../../src/workflows';
import type { OperationProgress } from '../../src/workflows/operation-tracker';
import { Calls, fakeDeployActivities, fatal, gate, sleep } from '../support/fakes';
import { deployInput, inventory, withWorker, workflowEnvForFile } from '../support/workflow-env';

const t = workflowEnvForFile({ lookups: true });

const input = (cluster: string): TeardownInput => ({
  ...deployInput(inventory({ cluster })),
  etcdData: 'keep',
});

function fakes(calls: Calls, overrides: Partial<TeardownActivities> = {}): TeardownActivities {
  return calls.record<TeardownActivities>({
    checkTeardownExclusion: async () => ({}),
    teardownHost: async (_input, host) => ({
      host,
      changed: true,
      detail: 'removed things',
      removed: [`container on ${host}`],
      kept: [],
      left: [],
    }),
    ...overrides,
  });
}

async function visible(type: 'deployHA' | 'teardownCluster', cluster: string, workflowId: string) {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100))
    if ((await runningRuns(t.env.client, type, cluster)).includes(workflowId)) return;
  assert.fail(`${workflowId} never showed as a running ${type} of ${cluster}`);
}

const rootCause = (e: unknown): string => {
  let c: unknown = e;
  while (c instanceof Error && c.cause instanceof Error) c = c.cause;
  return c instanceof Error ? c.message : String(c);
};

describe('teardownCluster', { timeout: 120_000 }, () => {
  it('tears every host down once and reports what each had', async () => {
    const calls = new Calls();
    const r = await withWorker(t, fakes(calls), (taskQueue) =>
      t.env.client.workflow.execute(teardownCluster, {
        taskQueue,
        workflowId: 'teardown-td-a',
        args: [input('td-a')],
      }),
    );
    assert.deepEqual(calls.hostsOf('teardownHost').sort(), ['ha1', 'ha2', 'ha3', 'ha4', 'ha5']);
    assert.deepEqual(r.hosts.ha4?.removed, ['container on ha4']);
    assert.equal(r.changes, 5);
    assert.ok(calls.endedBefore(calls.one('checkTeardownExclusion'), calls.list.at(-1)!));
  });

  it('a host that fails does not stop the others; the run fails naming it', async () => {
    const calls = new Calls();
    const activities = fakes(calls, {
      teardownHost: async (_input, host) => {
        if (host === 'ha3') throw fatal('ha3: ssh connection refused');
        return { host, changed: false, detail: 'nothing', removed: [], kept: [], left: [] };
      },
    });
    await withWorker(t, activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(teardownCluster, {
        taskQueue,
        workflowId: 'teardown-td-b',
        args: [input('td-b')],
      });
      const e = await handle.result().then(
        () => assert.fail('should fail'),
        (x: unknown) => x,
      );
      assert.ok(e instanceof WorkflowFailedError);
      assert.match(
        rootCause(e),
        /did not finish on 1 host\(s\)[\s\S]*ha3: ha3: ssh connection refused/,
      );
      const p = await handle.query<OperationProgress>('progress');
      assert.equal(p.phase, 'failed');
      assert.equal(p.hosts.ha3?.status, 'failed');
      assert.equal(p.hosts.ha4?.status, 'done');
    });
    assert.equal(calls.of('teardownHost').length, 5);
  });
});

describe('teardown and deploy exclude each other (real lookup)', { timeout: 120_000 }, () => {
  it('a teardown is refused while a deploy of the cluster runs', async () => {
    const calls = new Calls();
    const prepare = gate();
    const activities = {
      ...fakeDeployActivities(calls, {
        prepareHost: async (_input, host) => {
          await prepare.promise;
          return { host, changed: false, detail: 'present' };
        },
      }),
      ...fakes(calls, calls.record({ checkTeardownExclusion })),
    };
    await withWorker(t, activities, async (taskQueue) => {
      const deploy = await t.env.client.workflow.start(deployHA, {
        taskQueue,
        workflowId: 'deploy-td-c',
        args: [deployInput(inventory({ cluster: 'td-c' }))],
      });
      await visible('deployHA', 'td-c', 'deploy-td-c');
      const e = await t.env.client.workflow
        .execute(teardownCluster, { taskQueue, workflowId: 'teardown-td-c', args: [input('td-c')] })
        .then(
          () => assert.fail('should be refused'),
          (x: unknown) => x,
        );
      assert.equal(
        rootCause(e),
        'teardown refused: a deploy of td-c is running (deploy-td-c); try again when it has finished',
      );
      assert.deepEqual(calls.of('teardownHost'), []);
      prepare.open();
      await deploy.result();
    });
  });

  it('a deploy is refused while a teardown of the cluster runs', async () => {
    const calls = new Calls();
    const host = gate();
    const activities = {
      ...fakeDeployActivities(calls, {
        // The deploy's own lock check, as validateDeploy runs it.
        validateDeploy: async (i) => {
          await refuseWhenClusterBusy(
            i.inventory.cluster,
            Context.current().info.workflowExecution?.workflowId ?? '',
          );
          return { warnings: [] };
        },
      }),
      ...fakes(calls, {
        checkTeardownExclusion,
        teardownHost: async (_input, h) => {
          await host.promise;
          return { host: h, changed: false, detail: 'nothing', removed: [], kept: [], left: [] };
        },
      }),
    };
    await withWorker(t, activities, async (taskQueue) => {
      const teardown = await t.env.client.workflow.start(teardownCluster, {
        taskQueue,
        workflowId: 'teardown-td-d',
        args: [input('td-d')],
      });
      await visible('teardownCluster', 'td-d', 'teardown-td-d');
      const e = await t.env.client.workflow
        .execute(deployHA, {
          taskQueue,
          workflowId: 'deploy-td-d',
          args: [deployInput(inventory({ cluster: 'td-d' }))],
        })
        .then(
          () => assert.fail('should be refused'),
          (x: unknown) => x,
        );
      assert.equal(
        rootCause(e),
        'a teardown of td-d is running (teardown-td-d); deploys are refused while the cluster is torn down — deploy again when it has finished',
      );
      assert.deepEqual(calls.of('prepareHost'), []);
      host.open();
      await teardown.result();
    });
  });
});
