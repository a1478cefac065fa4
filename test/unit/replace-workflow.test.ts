// replaceHost and the deploy's etcd scale-out on a local Temporal server with fake
// activities: the lock first, the runbook's order (quorum check, remove, data dir aside,
// learner add, start joining, promote, caught up, then a deploy), refusal without
// quorum before any change, a member in place left alone, new members joined one at a time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { DeployActivities, ReplaceActivities } from '../../src/activities';
import { CLUSTER } from '../../src/temporal/search-attributes';
import { deployHA, replaceHost } from '../../src/workflows';
import { deployProgressQuery } from '../../src/workflows/deploy';
import { Calls, fakeDeployActivities, fakeReplaceActivities, fatal } from '../support/fakes';
import { deployInput, inventory, workflowEnvForFile, withWorker } from '../support/workflow-env';
import type { Inventory } from '../../src/config/inventory';

const t = workflowEnvForFile();
let runs = 0;

async function run<T>(
  calls: Calls,
  start: (taskQueue: string) => Promise<T>,
  deploy: Partial<DeployActivities> = {},
  replace: Partial<ReplaceActivities> = {},
) {
  return withWorker(
    t,
    { ...fakeDeployActivities(calls, deploy), ...fakeReplaceActivities(calls, replace) },
    start,
  );
}

function cause(e: unknown): ApplicationFailure {
  assert.ok(e instanceof WorkflowFailedError, `expected the workflow to fail: ${String(e)}`);
  let c = e.cause;
  while (c instanceof ActivityFailure) c = c.cause;
  assert.ok(c instanceof ApplicationFailure, `unexpected cause ${String(c)}`);
  return c;
}

const replaceInput = (host: string, inv: Inventory = inventory()) => ({
  ...deployInput(inv),
  host,
});

describe('replaceHost', () => {
  it('swaps a dead etcd member in the runbook order, then deploys', async () => {
    const calls = new Calls();
    const { result, progress, cluster } = await run(calls, async (taskQueue) => {
      const h = await t.env.client.workflow.start(replaceHost, {
        taskQueue,
        workflowId: `replace-test-${++runs}`,
        args: [replaceInput('ha3')],
      });
      const result = await h.result();
      return {
        result,
        progress: await h.query(deployProgressQuery),
        cluster: (await h.describe()).typedSearchAttributes.get(CLUSTER),
      };
    });
    assert.equal(calls.list[0]!.name, 'checkReplace', 'the lock is the first step');
    assert.equal(cluster, 'prod-gw');
    const order = [
      calls.one('planEtcdReplace'),
      calls.one('prepareHost', 'ha3'),
      calls.one('removeMember'),
      calls.one('retireEtcdMember', 'ha3'),
      calls.one('addMember', 'ha3'),
      calls.one('startEtcdMember', 'ha3'),
      calls.one('promoteMember', 'ha3'),
      calls.one('waitEtcdCaughtUp', 'ha3'),
      calls.one('validateDeploy'),
    ];
    for (let i = 1; i < order.length; i++)
      assert.ok(
        calls.endedBefore(order[i - 1]!, order[i]!),
        `${order[i - 1]!.name} before ${order[i]!.name}`,
      );
    assert.deepEqual(calls.one('removeMember').args.slice(1), [
      'api7-etcd-3',
      'http://10.0.0.13:2380',
    ]);
    // The member joins with the cluster's members plus itself; the deploy's own etcd
    // step afterwards passes no join settings (it finds the container as it is).
    const starts = calls.of('startEtcdMember').filter((c) => c.host === 'ha3');
    assert.equal(starts.length, 2);
    assert.match(
      (starts[0]!.args[2] as { initialCluster: string }).initialCluster,
      /api7-etcd-1=.*joiner=ha3/,
    );
    assert.equal(starts[1]!.args[2], undefined);
    assert.equal(calls.of('addMember').length, 1);
    assert.equal(result.etcd?.swapped, true);
    assert.equal(progress.phase, 'done');
    assert.deepEqual(progress.hosts.ha3!.done.slice(0, 8), [
      'etcd quorum check',
      'preflight',
      'prepare',
      'ship',
      'etcd member remove',
      'etcd retire',
      'etcd member add',
      'etcd start',
    ]);
  });

  it('refuses without quorum before changing anything', async () => {
    const calls = new Calls();
    const error = await run(
      calls,
      async (taskQueue) =>
        t.env.client.workflow
          .execute(replaceHost, {
            taskQueue,
            workflowId: `replace-test-${++runs}`,
            args: [replaceInput('ha3')],
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          ),
      {},
      {
        planEtcdReplace: async () => {
          throw fatal(
            'replacing the etcd member on ha3 refused: only 1 of the 2 voting etcd members that would remain answer',
            'EtcdQuorumAtRisk',
          );
        },
      },
    );
    const c = cause(error);
    assert.equal(c.type, 'EtcdQuorumAtRisk');
    assert.match(c.message, /only 1 of the 2/);
    for (const n of [
      'prepareHost',
      'shipArtifacts',
      'removeMember',
      'retireEtcdMember',
      'addMember',
      'startEtcdMember',
    ])
      assert.equal(calls.of(n).length, 0, `${n} must not run`);
  });

  it('a member in place is left alone: only the deploy runs', async () => {
    const calls = new Calls();
    const result = await run(
      calls,
      async (taskQueue) =>
        t.env.client.workflow.execute(replaceHost, {
          taskQueue,
          workflowId: `replace-test-${++runs}`,
          args: [replaceInput('ha3')],
        }),
      {},
      { planEtcdReplace: async () => ({ inPlace: true, voters: 3, answering: 3 }) },
    );
    assert.equal(result.etcd?.swapped, false);
    for (const n of ['removeMember', 'retireEtcdMember', 'addMember', 'promoteMember'])
      assert.equal(calls.of(n).length, 0, `${n} must not run`);
    assert.equal(calls.of('validateDeploy').length, 1);
  });

  it('a gateway host is deployed as a deploy would, without membership steps', async () => {
    const calls = new Calls();
    await run(calls, async (taskQueue) =>
      t.env.client.workflow.execute(replaceHost, {
        taskQueue,
        workflowId: `replace-test-${++runs}`,
        args: [replaceInput('ha4')],
      }),
    );
    assert.equal(calls.of('planEtcdReplace').length, 0);
    assert.equal(calls.of('addMember').length, 0);
    assert.ok(calls.hostsOf('startGateway').includes('ha4'));
  });

  it('an unknown host is refused by the first step', async () => {
    const calls = new Calls();
    const error = await run(
      calls,
      async (taskQueue) =>
        t.env.client.workflow
          .execute(replaceHost, {
            taskQueue,
            workflowId: `replace-test-${++runs}`,
            args: [replaceInput('ha9')],
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          ),
      {},
      {
        checkReplace: async () => {
          throw fatal('--host ha9: the inventory has no host of that name', 'InventoryError');
        },
      },
    );
    assert.match(cause(error).message, /--host ha9/);
    assert.equal(calls.list.length, 1);
  });
});

describe('deploy: etcd scale-out', () => {
  it('joins new members after the others, one at a time, each once shipped', async () => {
    const inv = inventory({ dataPlaneHosts: 4 }); // ha6, ha7 extra
    for (const n of ['ha6', 'ha7']) inv.hosts.find((h) => h.name === n)!.roles = ['etcd'];
    const calls = new Calls();
    await run(
      calls,
      async (taskQueue) =>
        t.env.client.workflow.execute(deployHA, {
          taskQueue,
          workflowId: `scale-test-${++runs}`,
          args: [deployInput(inv)],
        }),
      { etcdJoinPlan: async () => ({ joining: ['ha6', 'ha7'] }) },
    );
    const founding = calls.of('startEtcdMember').filter((c) => c.args[2] === undefined);
    assert.deepEqual(founding.map((c) => c.host).sort(), ['ha1', 'ha2', 'ha3']);
    assert.deepEqual(calls.hostsOf('addMember'), ['ha6', 'ha7']);
    for (const f of founding) assert.ok(calls.endedBefore(f, calls.one('addMember', 'ha6')));
    assert.ok(
      calls.endedBefore(calls.one('waitEtcdCaughtUp', 'ha6'), calls.one('addMember', 'ha7')),
    );
    assert.ok(calls.endedBefore(calls.one('waitEtcdCaughtUp', 'ha7'), calls.one('waitForQuorum')));
    assert.equal(calls.maxConcurrent('addMember'), 1);
  });

  it('a new cluster starts every member as before', async () => {
    const calls = new Calls();
    await run(calls, async (taskQueue) =>
      t.env.client.workflow.execute(deployHA, {
        taskQueue,
        workflowId: `scale-test-${++runs}`,
        args: [deployInput()],
      }),
    );
    assert.equal(calls.of('addMember').length, 0);
    assert.deepEqual(calls.hostsOf('startEtcdMember').sort(), ['ha1', 'ha2', 'ha3']);
  });
});
