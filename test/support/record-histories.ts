// Records workflow histories for the replay test (test/unit/replay.test.ts): the real
// workflow code run on a local TestWorkflowEnvironment with fake activities, saved as
// test/fixtures/histories/verify-<scenario>.json, deploy-pipelines-<scenario>.json and
// replace-<scenario>.json in
// the temporal CLI's JSON form (deploy-fresh.json and deploy-noop.json come from real lab
// runs of the older, phase-by-phase shape). Re-record only on purpose, when old runs no
// longer need to replay:
//   npm run build && node dist/test/support/record-histories.js
// or only some verify scenarios (old ones then keep their recordings, e.g. from before the
// safeguards, so their patched() branch stays covered):
//   node dist/test/support/record-histories.js --only all-drills,safeguard-tripped
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { DeployActivities, VerifyActivities } from '../../src/activities';
import { projectRoot } from '../../src/paths';
import { waitFor } from '../../src/util/exec';
import { deployHA, replaceHost, verifyHA, verifyProgressQuery } from '../../src/workflows';
import { approveUpdate, AWAITING_APPROVAL } from '../../src/workflows/approval';
import type { VerifyInput } from '../../src/workflows/verify';
import {
  Calls,
  fakeDeployActivities,
  fakeReplaceActivities,
  fakeVerifyActivities,
  fatal,
  gate,
  probeStats,
  servingComponents,
  untilCancelled,
} from './fakes';
import {
  deployInput,
  inventory,
  startWorkflowEnv,
  verifyInput,
  withWorker,
  type WorkflowTestEnv,
} from './workflow-env';

interface Scenario {
  name: string;
  fakes: () => { activities: Partial<VerifyActivities>; faulted?: Promise<void> };
  input: VerifyInput;
  /** Beside the run, e.g. an approval once it waits for one. */
  during?: (handle: WorkflowHandle<typeof verifyHA>) => Promise<void>;
}

/** Approve the run as soon as it waits at its approval gate. */
const approveWhenWaiting = async (handle: WorkflowHandle<typeof verifyHA>) => {
  await waitFor(
    'the run to wait for approval',
    async () => (await handle.query(verifyProgressQuery)).phase === AWAITING_APPROVAL,
    20_000,
    50,
  );
  await handle.executeUpdate(approveUpdate, {
    args: [{ cluster: 'prod-gw', approver: 'alice@ops' }],
  });
};

const scenarios: Scenario[] = [
  // Three drills, all within tolerance.
  { name: 'passed', fakes: () => ({ activities: {} }), input: verifyInput() },
  // The data plane loses requests, the etcd drill's checks fail, the control plane's restore fails.
  {
    name: 'deviated-then-aborted',
    fakes: () => ({
      activities: {
        probeLoadBalancer: async (_input, target) =>
          target === 'data-plane' ? probeStats(500, 25) : probeStats(500, 0),
        etcdDrillChecks: async () => ({
          routeWritten: true,
          routeReadBack: true,
          gatewaysRouted: false,
          healthyMembers: 2,
          leader: true,
          problems: [],
        }),
        startComponent: async (_input, host, component) => {
          if (component === 'control-plane') throw fatal(`${host} is unreachable`);
          return `start ${component} on ${host}`;
        },
      },
    }),
    input: verifyInput(inventory(), { drills: ['data-plane', 'etcd', 'control-plane'] }),
  },
  // Cancelled while the gateway is down: the restore runs in the non-cancellable scope.
  {
    name: 'cancelled-during-fault',
    fakes: () => {
      const stopped = gate();
      return {
        faulted: stopped.promise,
        activities: {
          probeLoadBalancer: untilCancelled,
          stopComponent: async (_input, host, component) => {
            stopped.open();
            return `stop ${component} on ${host}`;
          },
        },
      };
    },
    input: verifyInput(),
  },
  // Every drill, the harsher three too, with the safeguards watching; all within tolerance.
  {
    name: 'all-drills',
    fakes: () => ({ activities: {} }),
    input: verifyInput(inventory(), {
      drills: [
        'data-plane',
        'control-plane',
        'etcd',
        'host',
        'etcd-partition',
        'gateway-restart-degraded',
      ],
    }),
  },
  // A safeguard trips during the gateway fault: the hold ends early, the restore runs.
  {
    name: 'safeguard-tripped',
    fakes: () => {
      const stopped = gate();
      return {
        activities: {
          probeLoadBalancer: untilCancelled,
          stopComponent: async (_input, host, component) => {
            stopped.open();
            return `stop ${component} on ${host}`;
          },
          watchSafeguards: async () => {
            await stopped.promise;
            return {
              safeguard: 'second-component' as const,
              at: '2026-12-02T17:00:00.000Z',
              detail: 'etcd member on ha3: /health answered 503',
            };
          },
        },
      };
    },
    input: verifyInput(inventory(), { holdMs: 60_000 }),
  },
  // Approval required and given: the drill runs after the Update `approve`.
  {
    name: 'approved',
    fakes: () => ({ activities: {} }),
    input: verifyInput(inventory(), {
      drills: ['data-plane'],
      requireApproval: true,
      approvalTimeoutMs: 60_000,
    }),
    during: approveWhenWaiting,
  },
  // Approval required, none came: aborted before any fault.
  {
    name: 'approval-timed-out',
    fakes: () => ({ activities: {} }),
    input: verifyInput(inventory(), {
      drills: ['data-plane'],
      requireApproval: true,
      approvalTimeoutMs: 500,
    }),
  },
  // Refused: a deploy of the cluster is running.
  {
    name: 'refused',
    fakes: () => ({
      activities: {
        checkExclusion: async () => ({
          blockedBy:
            'a deploy of prod-gw is running (deploy-prod-gw); drills never run during a deploy',
          previousRuns: 0,
        }),
      },
    }),
    input: verifyInput(),
  },
];

/** deployHA in per-host pipelines: a fresh cluster, a rolling restart, a failed step. */
const deployScenarios: Array<{ name: string; activities: Partial<DeployActivities> }> = [
  { name: 'fresh', activities: servingComponents([], 10) },
  { name: 'rolling', activities: servingComponents(['ha1', 'ha2', 'ha4', 'ha5'], 10) },
  {
    name: 'failed',
    activities: {
      loadImages: async (_input, host) => {
        if (host === 'ha4') throw fatal('ha4: the bundle holds no images');
        return { host, changed: true, detail: 'images loaded' };
      },
    },
  },
];

async function recordDeploys(t: WorkflowTestEnv) {
  for (const s of deployScenarios) {
    const history = await withWorker(
      t,
      fakeDeployActivities(new Calls(), s.activities),
      async (taskQueue) => {
        const handle = await t.env.client.workflow.start(deployHA, {
          taskQueue,
          workflowId: `deploy-${s.name}`,
          args: [deployInput()],
        });
        await handle.result().catch(() => undefined);
        return handle.fetchHistory();
      },
    );
    const file = path.join(
      projectRoot,
      'test',
      'fixtures',
      'histories',
      `deploy-pipelines-${s.name}.json`,
    );
    writeFileSync(file, `${historyToJSON(history)}\n`);
    console.log(`${file}: ${history.events?.length} events`);
  }
}

/** replaceHost swapping ha3's dead member, and a deploy adding two etcd members (scale-out). */
async function recordMembershipChanges(t: WorkflowTestEnv) {
  const save = (name: string, history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>) => {
    const file = path.join(projectRoot, 'test', 'fixtures', 'histories', `${name}.json`);
    writeFileSync(file, `${historyToJSON(history)}\n`);
    console.log(`${file}: ${history.events?.length} events`);
  };
  const calls = new Calls();
  save(
    'replace-swap',
    await withWorker(
      t,
      { ...fakeDeployActivities(calls), ...fakeReplaceActivities(calls) },
      async (taskQueue) => {
        const handle = await t.env.client.workflow.start(replaceHost, {
          taskQueue,
          workflowId: 'replace-swap',
          args: [{ ...deployInput(), host: 'ha3' }],
        });
        await handle.result();
        return handle.fetchHistory();
      },
    ),
  );
  const inv = inventory({ dataPlaneHosts: 4 });
  for (const n of ['ha6', 'ha7']) inv.hosts.find((h) => h.name === n)!.roles = ['etcd'];
  save(
    'deploy-pipelines-scale-out',
    await withWorker(
      t,
      {
        ...fakeDeployActivities(calls, { etcdJoinPlan: async () => ({ joining: ['ha6', 'ha7'] }) }),
        ...fakeReplaceActivities(calls),
      },
      async (taskQueue) => {
        const handle = await t.env.client.workflow.start(deployHA, {
          taskQueue,
          workflowId: 'deploy-scale-out',
          args: [deployInput(inv)],
        });
        await handle.result();
        return handle.fetchHistory();
      },
    ),
  );
}

async function main() {
  const t = await startWorkflowEnv();
  try {
    if (process.argv.includes('--deploy-only')) return await recordDeploys(t);
    if (process.argv.includes('--membership-only')) return await recordMembershipChanges(t);
    const only = process.argv.indexOf('--only');
    const names = only > 0 ? process.argv[only + 1]?.split(',') : undefined;
    if (!names) {
      await recordDeploys(t);
      await recordMembershipChanges(t);
    }
    for (const s of scenarios.filter((x) => !names || names.includes(x.name))) {
      const { activities, faulted } = s.fakes();
      const history = await withWorker(
        t,
        fakeVerifyActivities(new Calls(), activities),
        async (taskQueue) => {
          const handle: WorkflowHandle<typeof verifyHA> = await t.env.client.workflow.start(
            verifyHA,
            { taskQueue, workflowId: `verify-${s.name}`, args: [s.input] },
          );
          await s.during?.(handle);
          if (faulted) {
            await faulted;
            await handle.cancel();
          }
          await handle.result().catch(() => undefined);
          return handle.fetchHistory();
        },
      );
      const file = path.join(projectRoot, 'test', 'fixtures', 'histories', `verify-${s.name}.json`);
      writeFileSync(file, `${historyToJSON(history)}\n`);
      console.log(`${file}: ${history.events?.length} events`);
    }
  } finally {
    await t.env.teardown();
  }
}

if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
