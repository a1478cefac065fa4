// The exclusion between deploys and drills, with the REAL lookup: checkExclusion and
// runningRuns ask the local Temporal server which runs of a cluster are running, by the
// Api7Cluster search attribute the workflows upsert. Everything else is faked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkExclusion } from '../../src/temporal/lookup';
import { runningRuns } from '../../src/temporal/cluster-lock';
import { deployHA, verifyHA } from '../../src/workflows';
import { Calls, fakeDeployActivities, fakeVerifyActivities, gate, sleep } from '../support/fakes';
import {
  deployInput,
  inventory,
  workflowEnvForFile,
  verifyInput,
  withWorker,
} from '../support/workflow-env';

// Lookups of other runs connect as the worker does.
const t = workflowEnvForFile({ lookups: true });

/** Wait until visibility lists the run as running (it lags the upsert a little). */
async function visible(type: 'deployHA' | 'verifyHA', cluster: string, workflowId: string) {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100))
    if ((await runningRuns(t.env.client, type, cluster)).includes(workflowId)) return;
  assert.fail(`${workflowId} never showed as a running ${type} of ${cluster}`);
}

/** A worker with fakes, the real checkExclusion, and a deploy that waits in `prepare`. */
function fakes(calls: Calls, prepare: Promise<void>) {
  return {
    ...fakeDeployActivities(calls, {
      prepareHost: async (_input, host) => {
        await prepare;
        return { host, changed: false, detail: 'present' };
      },
    }),
    ...fakeVerifyActivities(calls, checkExclusionIsReal(calls)),
  };
}
const checkExclusionIsReal = (calls: Calls) => calls.record({ checkExclusion });

const verifyOf = (cluster: string) => verifyInput(inventory({ cluster }), { drills: ['etcd'] });

describe('exclusion between deployHA and verifyHA (real lookup)', { timeout: 120_000 }, () => {
  it('a verification is refused while a deploy of the cluster runs', async () => {
    const calls = new Calls();
    const prepare = gate();
    await withWorker(t, fakes(calls, prepare.promise), async (taskQueue) => {
      const deploy = await t.env.client.workflow.start(deployHA, {
        taskQueue,
        workflowId: 'deploy-excl-a',
        args: [deployInput(inventory({ cluster: 'excl-a' }))],
      });
      await visible('deployHA', 'excl-a', 'deploy-excl-a');
      const journal = await t.env.client.workflow.execute(verifyHA, {
        taskQueue,
        workflowId: 'verify-excl-a',
        args: [verifyOf('excl-a')],
      });
      assert.equal(journal.verdict, 'aborted');
      assert.equal(
        journal.summary,
        'aborted before any fault: a deploy of excl-a is running (deploy-excl-a); drills never run during a deploy',
      );
      assert.deepEqual(journal.drills, []);
      for (const name of ['steadyState', 'stopComponent', 'startComponent'])
        assert.deepEqual(calls.of(name), [], `${name} ran during a deploy`);
      prepare.open();
      assert.equal((await deploy.result()).cluster, 'excl-a');
    });
  });

  it('a verification is refused while another verification of the cluster runs', async () => {
    const calls = new Calls();
    const steady = gate();
    const activities = {
      ...fakeVerifyActivities(calls, {
        steadyState: async () => {
          await steady.promise;
          return { ok: false, problems: ['held by the test'] };
        },
      }),
      ...checkExclusionIsReal(calls),
    };
    await withWorker(t, activities, async (taskQueue) => {
      const first = await t.env.client.workflow.start(verifyHA, {
        taskQueue,
        workflowId: 'verify-excl-b-1',
        args: [verifyOf('excl-b')],
      });
      await visible('verifyHA', 'excl-b', 'verify-excl-b-1');
      const second = await t.env.client.workflow.execute(verifyHA, {
        taskQueue,
        workflowId: 'verify-excl-b-2',
        args: [verifyOf('excl-b')],
      });
      assert.equal(
        second.summary,
        'aborted before any fault: another verification of excl-b is running (verify-excl-b-1)',
      );
      steady.open();
      assert.equal(
        (await first.result()).drills[0]?.reasons[0],
        'cluster not steady: held by the test',
      );
    });
  });

  it('a deploy of another cluster does not block a verification', async () => {
    const calls = new Calls();
    const prepare = gate();
    await withWorker(t, fakes(calls, prepare.promise), async (taskQueue) => {
      const deploy = await t.env.client.workflow.start(deployHA, {
        taskQueue,
        workflowId: 'deploy-excl-c',
        args: [deployInput(inventory({ cluster: 'excl-c' }))],
      });
      await visible('deployHA', 'excl-c', 'deploy-excl-c');
      const journal = await t.env.client.workflow.execute(verifyHA, {
        taskQueue,
        workflowId: 'verify-excl-d',
        args: [verifyOf('excl-d')],
      });
      assert.equal(journal.verdict, 'passed');
      prepare.open();
      await deploy.result();
    });
  });

  it('a running verification is what the deploy’s lookup finds', async () => {
    // validateDeploy refuses when the cluster lock finds a running verification:
    // the verification must be findable that way while it runs.
    const steady = gate();
    const activities = fakeVerifyActivities(new Calls(), {
      steadyState: async () => {
        await steady.promise;
        return { ok: false, problems: ['held by the test'] };
      },
    });
    await withWorker(t, activities, async (taskQueue) => {
      const run = await t.env.client.workflow.start(verifyHA, {
        taskQueue,
        workflowId: 'verify-excl-e',
        args: [verifyOf('excl-e')],
      });
      await visible('verifyHA', 'excl-e', 'verify-excl-e');
      assert.deepEqual(await runningRuns(t.env.client, 'verifyHA', 'excl-f'), []);
      steady.open();
      await run.result();
      assert.deepEqual(await runningRuns(t.env.client, 'verifyHA', 'excl-e'), []);
    });
  });
});
