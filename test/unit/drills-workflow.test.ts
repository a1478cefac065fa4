// The harsher drills (host, etcd-partition, gateway-restart-degraded) and the safeguards of
// a held fault, on a local Temporal server with fake activities: what each drill faults
// and heals, its verdicts, and a tripped safeguard ending the fault at once with the
// restore. The CLI's --drills selection too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { VerifyActivities } from '../../src/activities';
import { checkVerifyOptions, verifyOptionsFrom } from '../../src/cli/verify';
import { verifyHA, verifyProgressQuery } from '../../src/workflows';
import { ALL_DRILLS, type Journal } from '../../src/workflows/journal';
import type { VerifyInput } from '../../src/workflows/verify';
import {
  Calls,
  fakeVerifyActivities,
  gate,
  probeStats,
  sleep,
  untilCancelled,
} from '../support/fakes';
import { inventory, verifyInput, withWorker, workflowEnvForFile } from '../support/workflow-env';

const t = workflowEnvForFile();
let runs = 0;

async function verify(
  overrides: Partial<VerifyActivities>,
  input: VerifyInput,
): Promise<{ calls: Calls; journal: Journal; error?: unknown }> {
  const calls = new Calls();
  return withWorker(t, fakeVerifyActivities(calls, overrides), async (taskQueue) => {
    const handle = await t.env.client.workflow.start(verifyHA, {
      taskQueue,
      workflowId: `drills-test-${++runs}`,
      args: [input],
    });
    let error: unknown;
    await handle.result().catch((e: unknown) => (error = e));
    return { calls, journal: await handle.query(verifyProgressQuery), error };
  });
}

const steps = (calls: Calls) =>
  calls.list
    .filter((c) => !['checkExclusion', 'steadyState', 'watchSafeguards'].includes(c.name))
    .map(
      (c) =>
        `${c.name}${c.host ? `@${c.host}` : ''}${typeof c.args[2] === 'string' ? `:${c.args[2]}` : ''}`,
    );

describe('the harsher drills with fake activities', { timeout: 120_000 }, () => {
  it('host: cuts off the host with the most roles, probes both load balancers, writes through the control plane, heals and waits for each component', async () => {
    const run = await verify({}, verifyInput(inventory(), { drills: ['host'] }));
    const [d] = run.journal.drills;
    assert.equal(d?.verdict, 'passed', d?.reasons.join('; '));
    assert.equal(d?.host, 'ha1');
    assert.equal(d?.component, 'etcd+control-plane');
    assert.deepEqual(
      run.calls
        .of('probeLoadBalancer')
        .map((c) => c.args[1])
        .sort(),
      ['control-plane', 'data-plane'],
    );
    assert.ok(d?.probe && d.controlPlaneProbe, 'both load balancers measured');
    assert.deepEqual(steps(run.calls), [
      'probeLoadBalancer',
      'probeLoadBalancer',
      'cutOffHost@ha1:host',
      'etcdDrillChecks:ha1',
      'reconnectHost@ha1:host',
      'waitRecovered@ha1:etcd',
      'waitRecovered@ha1:control-plane',
    ]);
    assert.deepEqual(
      run.calls.of('etcdDrillChecks')[0]?.args[4],
      ['ha1'],
      "the cut host's gateways are not asked",
    );
    // The safeguards leave alone exactly what the drill takes down.
    assert.deepEqual(run.calls.of('watchSafeguards')[0]?.args[1], [
      { host: 'ha1', component: 'etcd' },
      { host: 'ha1', component: 'control-plane' },
    ]);
  });

  it('host: deviates when the control-plane load balancer loses requests', async () => {
    const run = await verify(
      {
        probeLoadBalancer: async (_i, target) =>
          target === 'control-plane' ? probeStats(200, 20) : probeStats(200, 0),
      },
      verifyInput(inventory(), { drills: ['host'], hosts: { host: 'ha2' } }),
    );
    const [d] = run.journal.drills;
    assert.equal(d?.host, 'ha2');
    assert.equal(d?.verdict, 'deviated');
    assert.deepEqual(d?.reasons, [
      '20 of 200 requests failed through the control-plane load balancer (more than 0.1 %)',
    ]);
    assert.equal(d?.restored, true);
  });

  it('etcd-partition: cuts the member off, reads on both sides, heals and records the equal HashKV', async () => {
    const run = await verify({}, verifyInput(inventory(), { drills: ['etcd-partition'] }));
    const [d] = run.journal.drills;
    assert.equal(d?.verdict, 'passed', d?.reasons.join('; '));
    assert.deepEqual(steps(run.calls), [
      'cutOffHost@ha1:etcd',
      'etcdDrillChecks:ha1',
      'partitionReads@ha1',
      'reconnectHost@ha1:etcd',
      'waitRecovered@ha1:etcd',
    ]);
    assert.equal(d?.checks?.isolatedAnsweredLinearizableRead, false);
    assert.equal(d?.checks?.majorityAnsweredLinearizableRead, true);
    assert.equal(d?.checks?.hashKvEqualAfterHeal, true);
  });

  it('etcd-partition: deviates when the cut-off member still answers a linearizable read', async () => {
    const run = await verify(
      {
        partitionReads: async () => ({
          isolatedAnswered: true,
          majorityAnswered: true,
          problems: ['the cut-off member on ha1 answered a linearizable read'],
        }),
      },
      verifyInput(inventory(), { drills: ['etcd-partition'] }),
    );
    assert.equal(run.journal.drills[0]?.verdict, 'deviated');
    assert.deepEqual(run.journal.drills[0]?.reasons, [
      'the cut-off member on ha1 answered a linearizable read',
    ]);
    assert.deepEqual(run.calls.hostsOf('reconnectHost'), ['ha1'], 'healed all the same');
  });

  it('gateway-restart-degraded: stops a member, restarts a gateway, checks it is back and routes, restores the member first', async () => {
    const run = await verify(
      {},
      verifyInput(inventory(), { drills: ['gateway-restart-degraded'] }),
    );
    const [d] = run.journal.drills;
    assert.equal(d?.verdict, 'passed', d?.reasons.join('; '));
    assert.deepEqual(steps(run.calls), [
      'probeLoadBalancer',
      'stopComponent@ha1:etcd',
      'stopComponent@ha4:data-plane',
      'startComponent@ha4:data-plane',
      'gatewayRestartChecks@ha4',
      'etcdDrillChecks:ha1',
      'startComponent@ha1:etcd',
      'waitRecovered@ha1:etcd',
      'startComponent@ha4:data-plane',
      'waitRecovered@ha4:data-plane',
    ]);
    assert.equal(d?.checks?.gatewayBack, true);
    assert.equal(d?.checks?.takesLbTraffic, true);
  });

  it('gateway-restart-degraded: a gateway that does not come back gives "deviated" with its cause', async () => {
    const run = await verify(
      {
        gatewayRestartChecks: async () => ({
          back: false,
          cause:
            'container restarting (exit code 1, 4 restarts); it logged: failed to fetch data from etcd',
          takesLbTraffic: false,
          problems: [],
        }),
      },
      verifyInput(inventory(), { drills: ['gateway-restart-degraded'] }),
    );
    const [d] = run.journal.drills;
    assert.equal(d?.verdict, 'deviated');
    assert.match(
      d?.reasons[0] ?? '',
      /^the gateway on ha4 did not come back within 60 s of its restart while the etcd member on ha1 was down: container restarting .*failed to fetch data from etcd .*apache\/apisix #5115/,
    );
    assert.deepEqual(run.calls.of('etcdDrillChecks'), [], 'no route check without the gateway');
    assert.equal(d?.restored, true);
  });

  it('a tripped safeguard ends the fault at once, restores the target and reports which safeguard and when', async () => {
    const trip = {
      safeguard: 'second-component' as const,
      at: '2026-12-02T17:00:00.000Z',
      detail:
        "etcd member on ha3: connect ECONNREFUSED (not the drill's target; unhealthy for 6 s)",
    };
    const started = Date.now();
    const stopped = gate();
    const run = await verify(
      {
        probeLoadBalancer: untilCancelled,
        stopComponent: async (_i, host, component) => {
          stopped.open();
          return `stop ${component} on ${host}`;
        },
        // Trips once the fault is in place (a second component fails meanwhile).
        watchSafeguards: async () => {
          await stopped.promise;
          await sleep(300);
          return trip;
        },
      },
      verifyInput(inventory(), { holdMs: 60_000 }),
    );
    assert.ok(Date.now() - started < 30_000, 'did not hold the 60 s fault');
    assert.equal(run.error, undefined);
    assert.equal(run.journal.verdict, 'aborted');
    assert.equal(run.journal.drills.length, 1, 'no further drill');
    const [d] = run.journal.drills;
    assert.equal(d?.verdict, 'aborted');
    assert.deepEqual(d?.safeguard, trip);
    assert.deepEqual(d?.reasons, [
      `safeguard second-component tripped at ${trip.at}: ${trip.detail}`,
    ]);
    assert.equal(d?.restored, true);
    assert.deepEqual(run.calls.hostsOf('startComponent'), ['ha4']);
    assert.ok(
      run.journal.events.some((e) => e.what.includes('safeguard second-component tripped')),
      'the journal records it',
    );
  });
});

describe('--drills', () => {
  it('all runs every drill; the guide three stay the default', () => {
    assert.deepEqual(verifyOptionsFrom({ drills: 'all' }).drills, [...ALL_DRILLS]);
    assert.equal(verifyOptionsFrom({}).drills, undefined);
    assert.deepEqual(verifyOptionsFrom({ drills: 'host,etcd-partition' }).drills, [
      'host',
      'etcd-partition',
    ]);
    assert.throws(() => verifyOptionsFrom({ drills: 'host,partition' }), /unknown drill partition/);
  });

  it('refuses a drill host without the role, naming the flag', () => {
    const check = (o: Parameters<typeof verifyOptionsFrom>[0]) =>
      checkVerifyOptions({ ...verifyInput(), options: verifyOptionsFrom(o) });
    assert.throws(() => check({ partitionHost: 'ha4' }), /--partition-host: ha4 has no etcd role/);
    assert.throws(
      () => check({ gatewayRestartHost: 'ha1' }),
      /--gateway-restart-host: ha1 has no data-plane role/,
    );
    assert.throws(() => check({ hostDrillHost: 'ha9' }), /--host-drill-host: no host named ha9/);
    assert.throws(() => check({ abortFailedShare: 0 }), /--abort-failed-share/);
    check({ hostDrillHost: 'ha4', partitionHost: 'ha3' });
  });
});
