// deployHA's logic on a local Temporal server with fake activities: phase order, preflight
// problems gathered from every host, the restart bound, a failure in each phase, and the
// refusal while a verification runs. No SSH, no Docker.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { DeployActivities } from '../../src/activities';
import { PHASE } from '../../src/temporal/search-attributes';
import { deployHA, deployProgressQuery } from '../../src/workflows';
import { DEPLOY_PHASES, type DeployProgress } from '../../src/workflows/progress';
import {
  Calls,
  CLUSTER_ID,
  fakeDeployActivities,
  fatal,
  servingComponents,
  sleep,
  type Call,
} from '../support/fakes';
import type { StartOptions } from '../../src/activities/context';
import { deployInput, inventory, workflowEnvForFile, withWorker } from '../support/workflow-env';
import type { Inventory } from '../../src/config/inventory';

const t = workflowEnvForFile();

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

/** The most of `calls` that were running at the same time. */
function maxOverlap(calls: Call[]): number {
  return Math.max(
    0,
    ...calls.map((a) => calls.filter((b) => b.started <= a.started && a.started < b.ended!).length),
  );
}

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

  describe('per-host pipelines', () => {
    it('lets each host go on as soon as what it needs is there, not the slowest host', async () => {
      // ha5's images are slow; ha4's gateway does not wait for them.
      const run = await deploy({
        loadImages: async (_input, host) => {
          await sleep(host === 'ha5' ? 1500 : 10);
          return { host, changed: true, detail: 'images loaded' };
        },
      });
      assert.equal(run.error, undefined);
      const c = run.calls;
      const ha4Gateway = c.one('startGateway', 'ha4');
      assert.ok(
        ha4Gateway.started < c.one('loadImages', 'ha5').ended!,
        'ha4 started its gateway while ha5 was still loading images',
      );
      // Each link after what it needs.
      for (const h of ['ha4', 'ha5']) {
        const gw = c.one('startGateway', h);
        assert.ok(
          c.endedBefore(c.one('ensureGatewayCluster'), gw),
          `${h}: gateway after the cluster id`,
        );
        assert.ok(c.endedBefore(c.one('loadImages', h), gw), `${h}: gateway after its own images`);
      }
      for (const h of ['ha1', 'ha2']) {
        const db = c.one('startDashboard', h);
        assert.ok(c.endedBefore(c.one('waitForQuorum'), db), `${h}: dashboard after quorum`);
        assert.ok(c.endedBefore(c.one('loadImages', h), db), `${h}: dashboard after its images`);
      }
      for (const h of ['ha1', 'ha2', 'ha3'])
        assert.ok(c.endedBefore(c.one('startEtcdMember', h), c.one('waitForQuorum')));
      for (const h of ALL_HOSTS) {
        assert.ok(c.endedBefore(c.one('prepareHost', h), c.one('shipArtifacts', h)));
        assert.deepEqual(
          run.progress.hosts[h]?.done.slice(0, 3),
          ['preflight', 'prepare', 'ship'],
          `${h}: steps in the vendor's order`,
        );
      }
      assert.ok(c.endedBefore(c.one('startGateway', 'ha5'), c.one('proveTraffic')));
      assert.ok(c.endedBefore(c.one('startDashboard', 'ha2'), c.one('proveTraffic')));
    });

    it('starts the gateway cluster as soon as one dashboard is up', async () => {
      const run = await deploy({
        startDashboard: async (_input, host) => {
          await sleep(host === 'ha2' ? 1500 : 10);
          return { host, changed: true, detail: 'started' };
        },
      });
      assert.equal(run.error, undefined);
      const c = run.calls;
      assert.ok(c.one('ensureGatewayCluster').started < c.one('startDashboard', 'ha2').ended!);
    });

    it('bounds uploads and image loads apart from quick steps', async () => {
      const inv = inventory({ dataPlaneHosts: 6 });
      inv.deploy.transferParallelism = 2;
      const slow = async (_input: unknown, host: string) => {
        await sleep(200);
        return { host, changed: true, detail: 'done', bytesUploaded: 10, files: [] };
      };
      const run = await deploy({ shipArtifacts: slow, loadImages: slow, prepareHost: slow }, inv);
      assert.equal(run.error, undefined);
      assert.equal(run.calls.maxConcurrent('prepareHost'), 9, 'quick steps on every host at once');
      const inFlight = Math.max(
        run.calls.maxConcurrent('shipArtifacts'),
        run.calls.maxConcurrent('loadImages'),
      );
      assert.ok(inFlight <= 2, `at most 2 transfers at once, saw ${inFlight}`);
    });
  });

  describe('restarts only where something serves', () => {
    it('starts every dashboard and gateway at once on a fresh cluster', async () => {
      const run = await deploy(servingComponents([]), inventory({ dataPlaneHosts: 4 }));
      assert.equal(run.error, undefined);
      assert.equal(run.calls.maxConcurrent('startDashboard'), 2);
      assert.equal(run.calls.maxConcurrent('startGateway'), 4);
      assert.equal(run.calls.of('startGateway').length, 4, 'one call each: nothing was deferred');
    });

    it('restarts the two serving dashboards one at a time', async () => {
      const run = await deploy(servingComponents(['ha1', 'ha2']));
      assert.equal(run.error, undefined);
      const restarts = run.calls
        .of('startDashboard')
        .filter((c) => !(c.args[3] as StartOptions | undefined)?.deferRestart);
      assert.deepEqual(restarts.map((c) => c.host).sort(), ['ha1', 'ha2']);
      assert.ok(run.calls.endedBefore(restarts[0]!, restarts[1]!), 'one after the other');
      assert.deepEqual(run.progress.hosts.ha1?.detail, 'restarted');
    });

    it('restarts at most half of the serving gateways at a time', async () => {
      const run = await deploy(
        servingComponents(['ha4', 'ha5', 'ha6', 'ha7']),
        inventory({ dataPlaneHosts: 4 }),
      );
      assert.equal(run.error, undefined);
      const restarts = run.calls
        .of('startGateway')
        .filter((c) => !(c.args[4] as StartOptions | undefined)?.deferRestart);
      assert.equal(restarts.length, 4);
      assert.equal(maxOverlap(restarts), 2);
    });

    it('starts what does not serve at once and rolls only what does', async () => {
      // ha4 is down (a drill stopped it, say); ha5..ha7 serve with an older config.
      const run = await deploy(
        servingComponents(['ha5', 'ha6', 'ha7']),
        inventory({ dataPlaneHosts: 4 }),
      );
      assert.equal(run.error, undefined);
      const gw = run.calls.of('startGateway');
      const restarts = gw.filter((c) => !(c.args[4] as StartOptions | undefined)?.deferRestart);
      assert.deepEqual(restarts.map((c) => c.host).sort(), ['ha5', 'ha6', 'ha7']);
      const ha4 = gw.find((c) => c.host === 'ha4')!;
      for (const r of restarts)
        assert.ok(run.calls.endedBefore(ha4, r), 'the down gateway is back before any other goes');
      assert.equal(maxOverlap(restarts), 2, 'half of 4');
    });

    it('never goes past deploy.parallelism', async () => {
      const run = await deploy(
        servingComponents(['ha4', 'ha5', 'ha6', 'ha7', 'ha8', 'ha9']),
        inventory({ dataPlaneHosts: 6, parallelism: 2 }),
      );
      assert.equal(run.error, undefined);
      assert.equal(run.calls.maxConcurrent('startGateway'), 2, 'half of 6 is 3, parallelism is 2');
    });
  });

  describe('a failure in one step', () => {
    // Each case fails one step (on one host, for per-host steps): the deploy fails with that
    // message, nothing that needs the failed step runs, and the progress shows where.
    const cases: Array<{
      phase: (typeof DEPLOY_PHASES)[number];
      activity: keyof DeployActivities;
      host?: string;
      step?: string;
      /** Calls that need the failed one (name, or name@host). */
      never: string[];
    }> = [
      {
        phase: 'validate',
        activity: 'validateDeploy',
        never: ['preflightHost', 'prepareHost', 'shipArtifacts'],
      },
      {
        phase: 'prepare',
        activity: 'prepareHost',
        host: 'ha3',
        step: 'prepare',
        never: [
          'shipArtifacts@ha3',
          'startEtcdMember@ha3',
          'waitForQuorum',
          'startDashboard',
          'ensureGatewayCluster',
          'startGateway',
          'proveTraffic',
        ],
      },
      {
        phase: 'ship',
        activity: 'shipArtifacts',
        host: 'ha2',
        step: 'ship',
        never: [
          'startEtcdMember@ha2',
          'loadImages@ha2',
          'waitForQuorum',
          'startDashboard',
          'startGateway',
          'proveTraffic',
        ],
      },
      {
        phase: 'etcd',
        activity: 'startEtcdMember',
        host: 'ha3',
        step: 'etcd',
        never: [
          'waitForQuorum',
          'enableEtcdAuth',
          'startDashboard',
          'ensureGatewayCluster',
          'startGateway',
          'proveTraffic',
        ],
      },
      {
        phase: 'quorum',
        activity: 'waitForQuorum',
        never: [
          'enableEtcdAuth',
          'startDashboard',
          'ensureGatewayCluster',
          'startGateway',
          'proveTraffic',
        ],
      },
      {
        phase: 'images',
        activity: 'loadImages',
        host: 'ha4',
        step: 'images',
        never: ['startGateway@ha4', 'proveTraffic'],
      },
      {
        phase: 'dashboards',
        activity: 'startDashboard',
        host: 'ha1',
        step: 'dashboard',
        never: ['proveTraffic'],
      },
      {
        phase: 'cluster',
        activity: 'ensureGatewayCluster',
        never: ['startGateway', 'proveTraffic'],
      },
      {
        phase: 'gateways',
        activity: 'startGateway',
        host: 'ha5',
        step: 'gateway',
        never: ['proveTraffic'],
      },
      { phase: 'prove', activity: 'proveTraffic', never: [] },
    ];

    for (const c of cases) {
      it(`${c.phase}: fails with the activity's message and runs nothing that needs it`, async () => {
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
        for (const n of c.never) {
          const [name, host] = n.split('@') as [string, string | undefined];
          const ran = run.calls.of(name).filter((x) => !host || x.host === host);
          assert.deepEqual(ran, [], `${n} ran although ${c.activity} failed`);
        }
        assert.ok(!run.progress.phasesDone.includes(c.phase), `${c.phase} is not done`);
        assert.ok(!run.progress.phasesDone.includes('prove') || c.phase === 'prove');
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
