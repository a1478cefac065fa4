// deployHA's logic on a local Temporal server with fake activities: phase order, preflight
// problems gathered from every host, the restart bound, a failure in each phase, and the
// refusal while a verification runs. No SSH, no Docker.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { DeployActivities } from '../../src/activities';
import { PHASE } from '../../src/temporal/search-attributes';
import { deployHA, deployProgressQuery } from '../../src/workflows';
import { DEPLOY_PHASES, type DeployProgress } from '../../src/workflows/progress';
import { Calls, CLUSTER_ID, fakeDeployActivities, fatal, sleep } from '../support/fakes';
import {
  deployInput,
  inventory,
  startWorkflowEnv,
  withWorker,
  type WorkflowTestEnv,
} from '../support/workflow-env';
import type { Inventory } from '../../src/config/inventory';

let t: WorkflowTestEnv;
before(async () => {
  t = await startWorkflowEnv();
});
after(async () => {
  await t?.env.teardown();
});

let runs = 0;

interface DeployRun {
  calls: Calls;
  /** The workflow's result, or undefined when it failed. */
  result?: Awaited<ReturnType<typeof deployHA>>;
  error?: unknown;
  progress: DeployProgress;
  phaseAttribute: unknown;
}

/** Run one deployHA to its end with the given fakes; collect what a test asserts on. */
async function deploy(
  overrides: Partial<DeployActivities> = {},
  inv: Inventory = inventory(),
): Promise<DeployRun> {
  const calls = new Calls();
  return withWorker(t, fakeDeployActivities(calls, overrides), async (taskQueue) => {
    const handle = await t.env.client.workflow.start(deployHA, {
      taskQueue,
      workflowId: `deploy-test-${++runs}`,
      args: [deployInput(inv)],
    });
    let result: DeployRun['result'];
    let error: unknown;
    try {
      result = await handle.result();
    } catch (e) {
      error = e;
    }
    const progress = await handle.query(deployProgressQuery);
    const phaseAttribute = (await handle.describe()).typedSearchAttributes.get(PHASE);
    return { calls, result, error, progress, phaseAttribute };
  });
}

/** The failure a person reads: through WorkflowFailedError and ActivityFailure to the cause. */
function failure(run: DeployRun): ApplicationFailure {
  assert.ok(
    run.error instanceof WorkflowFailedError,
    `expected the workflow to fail: ${run.error}`,
  );
  let cause = run.error.cause;
  while (cause instanceof ActivityFailure) cause = cause.cause;
  assert.ok(cause instanceof ApplicationFailure, `unexpected cause ${String(cause)}`);
  return cause;
}

const ALL_HOSTS = ['ha1', 'ha2', 'ha3', 'ha4', 'ha5'];

describe('deployHA with fake activities', { timeout: 120_000 }, () => {
  it('runs every phase in order and reports the cluster id and changes', async () => {
    const run = await deploy();
    assert.equal(run.error, undefined);
    assert.deepEqual(run.progress.phasesDone.slice().sort(), [...DEPLOY_PHASES].sort());
    assert.equal(run.progress.phase, 'done');
    assert.equal(run.phaseAttribute, 'done');
    assert.equal(run.result?.clusterId, CLUSTER_ID);
    assert.deepEqual(run.result?.etcdMembers, ['api7-etcd-1', 'api7-etcd-2', 'api7-etcd-3']);
    assert.equal(run.result?.bytesUploaded, 5 * 1000);
    const order = run.calls.names();
    const before = (a: string, b: string) =>
      assert.ok(order.indexOf(a) < order.indexOf(b), `${a} should run before ${b}: ${order}`);
    before('validateDeploy', 'preflightHost');
    before('preflightHost', 'prepareHost');
    before('prepareHost', 'shipArtifacts');
    before('shipArtifacts', 'startEtcdMember');
    before('startEtcdMember', 'waitForQuorum');
    before('waitForQuorum', 'startDashboard');
    before('loadImages', 'startDashboard');
    before('startDashboard', 'ensureGatewayCluster');
    before('ensureGatewayCluster', 'startGateway');
    before('startGateway', 'proveTraffic');
    assert.deepEqual(run.calls.hostsOf('startEtcdMember').slice().sort(), ['ha1', 'ha2', 'ha3']);
    assert.deepEqual(run.calls.hostsOf('loadImages').slice().sort(), ['ha1', 'ha2', 'ha4', 'ha5']);
    assert.deepEqual(
      run.calls.of('startGateway').map((c) => c.args[3]),
      [CLUSTER_ID, CLUSTER_ID],
      'gateways get the id of the cluster the dashboard made',
    );
  });

  describe('preflight', () => {
    it('gathers the problems of every host into one failure and stops there', async () => {
      const run = await deploy({
        preflightHost: async (_input, host) => ({
          host,
          kernel: '6.1.0',
          docker: host === 'ha2' ? '19.03.1' : '20.10.24',
          compose: 'plugin',
          problems:
            host === 'ha2'
              ? ['Docker 19.03.1 is older than 20.10.7']
              : host === 'ha4'
                ? ['port 80 is in use']
                : [],
        }),
      });
      const f = failure(run);
      assert.equal(f.type, 'PreflightFailed');
      assert.equal(
        f.message,
        'preflight found 2 problem(s):\n  - ha2: Docker 19.03.1 is older than 20.10.7\n  - ha4: port 80 is in use',
      );
      assert.deepEqual(run.calls.hostsOf('preflightHost').slice().sort(), ALL_HOSTS);
      assert.deepEqual(run.calls.names(), ['validateDeploy', 'preflightHost']);
      assert.equal(run.progress.hosts.ha2?.status, 'failed');
      assert.equal(run.progress.hosts.ha4?.detail, 'port 80 is in use');
      assert.equal(run.progress.hosts.ha1?.status, 'done');
    });

    it('reports a host whose check fails beside another host’s problem', async () => {
      const run = await deploy({
        preflightHost: async (_input, host) => {
          if (host === 'ha3') throw fatal('host key of ha3 changed');
          return {
            host,
            kernel: '6.1.0',
            docker: '20.10.24',
            compose: 'plugin',
            problems: host === 'ha5' ? ['docker compose is missing'] : [],
          };
        },
      });
      const f = failure(run);
      assert.match(f.message, /^preflight found 2 problem\(s\):/);
      assert.match(f.message, /\n {2}- ha3: host key of ha3 changed/);
      assert.match(f.message, /\n {2}- ha5: docker compose is missing/);
      assert.deepEqual(run.calls.names(), ['validateDeploy', 'preflightHost']);
    });
  });

  describe('restart bound', () => {
    const slow = (name: 'startDashboard' | 'startGateway') =>
      ({
        [name]: async (_input: unknown, host: string) => {
          await sleep(300);
          return { host, changed: true, detail: 'restarted' };
        },
      }) as Partial<DeployActivities>;

    it('restarts the two dashboards one at a time', async () => {
      const run = await deploy(slow('startDashboard'));
      assert.equal(run.error, undefined);
      assert.deepEqual(run.calls.hostsOf('startDashboard').slice().sort(), ['ha1', 'ha2']);
      assert.equal(run.calls.maxConcurrent('startDashboard'), 1);
    });

    it('restarts at most half of the gateways at a time', async () => {
      const run = await deploy(slow('startGateway'), inventory({ dataPlaneHosts: 4 }));
      assert.equal(run.error, undefined);
      assert.deepEqual(run.calls.hostsOf('startGateway').slice().sort(), [
        'ha4',
        'ha5',
        'ha6',
        'ha7',
      ]);
      assert.equal(run.calls.maxConcurrent('startGateway'), 2);
    });

    it('never goes past deploy.parallelism', async () => {
      const run = await deploy(
        slow('startGateway'),
        inventory({ dataPlaneHosts: 6, parallelism: 2 }),
      );
      assert.equal(run.error, undefined);
      assert.equal(run.calls.of('startGateway').length, 6);
      assert.equal(run.calls.maxConcurrent('startGateway'), 2, 'half of 6 is 3, parallelism is 2');
    });
  });

  describe('a failure in one phase', () => {
    // Each case fails the phase's activity (on one host, for per-host phases): the deploy
    // fails with that message, no later phase runs, and the progress shows where it stopped.
    const cases: Array<{
      phase: (typeof DEPLOY_PHASES)[number];
      activity: keyof DeployActivities;
      host?: string;
      step?: string;
    }> = [
      { phase: 'validate', activity: 'validateDeploy' },
      { phase: 'prepare', activity: 'prepareHost', host: 'ha3', step: 'prepare' },
      { phase: 'ship', activity: 'shipArtifacts', host: 'ha2', step: 'ship' },
      // ha3 has etcd only: a host's row shows its last step, and images run beside etcd.
      { phase: 'etcd', activity: 'startEtcdMember', host: 'ha3', step: 'etcd' },
      { phase: 'quorum', activity: 'waitForQuorum' },
      { phase: 'images', activity: 'loadImages', host: 'ha4', step: 'images' },
      { phase: 'dashboards', activity: 'startDashboard', host: 'ha1', step: 'dashboard' },
      { phase: 'cluster', activity: 'ensureGatewayCluster' },
      { phase: 'gateways', activity: 'startGateway', host: 'ha5', step: 'gateway' },
      { phase: 'prove', activity: 'proveTraffic' },
    ];
    // The activities of each phase, in phase order (etcd + quorum run beside images).
    const activitiesOf: Record<(typeof DEPLOY_PHASES)[number], Array<keyof DeployActivities>> = {
      validate: ['validateDeploy'],
      preflight: ['preflightHost'],
      prepare: ['prepareHost'],
      ship: ['shipArtifacts'],
      etcd: ['startEtcdMember'],
      quorum: ['waitForQuorum', 'enableEtcdAuth'],
      images: ['loadImages'],
      dashboards: ['startDashboard'],
      cluster: ['ensureGatewayCluster'],
      gateways: ['startGateway'],
      prove: ['proveTraffic'],
    };
    const concurrent = (p: string) =>
      p === 'images' ? ['etcd', 'quorum'] : p === 'etcd' || p === 'quorum' ? ['images'] : [];

    for (const c of cases) {
      it(`${c.phase}: fails with the activity's message and runs nothing after it`, async () => {
        const message = `${c.activity} broke${c.host ? ` on ${c.host}` : ''}`;
        const real = fakeDeployActivities(new Calls())[c.activity] as (
          ...a: unknown[]
        ) => Promise<unknown>;
        const run = await deploy({
          [c.activity]: async (...args: unknown[]) => {
            if (!c.host || args[1] === c.host) throw fatal(message);
            return real(...args);
          },
        });
        assert.equal(failure(run).message, message);

        const index = DEPLOY_PHASES.indexOf(c.phase);
        const sideBySide = concurrent(c.phase);
        const earlier = DEPLOY_PHASES.slice(0, index).filter((p) => !sideBySide.includes(p));
        const later = DEPLOY_PHASES.slice(index + 1).filter((p) => !sideBySide.includes(p));
        for (const p of later)
          for (const a of activitiesOf[p])
            assert.deepEqual(run.calls.of(a), [], `${a} (phase ${p}) ran after ${c.phase} failed`);
        // etcd + quorum and images finish in either order.
        assert.deepEqual(
          run.progress.phasesDone.filter((p) => !sideBySide.includes(p)).sort(),
          earlier.slice().sort(),
        );
        assert.equal(run.progress.phase, 'failed');
        assert.equal(run.progress.error, message);
        assert.equal(run.phaseAttribute, 'failed');
        if (c.host)
          assert.deepEqual(run.progress.hosts[c.host], {
            ...run.progress.hosts[c.host]!,
            step: c.step,
            status: 'failed',
            detail: message,
          });
      });
    }
  });

  it('is refused while a verification of the cluster runs, before touching any host', async () => {
    const refusal =
      'a verification of prod-gw is running (verify-prod-gw-1); deploys are refused during drills — wait for it to finish, or cancel it in the UI or with `temporal workflow cancel -w <id>`';
    const run = await deploy({
      validateDeploy: async () => {
        throw fatal(refusal, 'VerificationRunning');
      },
    });
    const f = failure(run);
    assert.equal(f.type, 'VerificationRunning');
    assert.equal(f.message, refusal);
    assert.deepEqual(run.calls.names(), ['validateDeploy']);
    assert.equal(run.calls.list.length, 1, 'a non-retryable refusal is not retried');
    assert.equal(run.progress.error, refusal);
    assert.deepEqual(run.progress.phasesDone, []);
  });
});
