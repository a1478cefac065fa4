// Records verifyHA histories for the replay test (test/unit/replay.test.ts): the real
// workflow code run on a local TestWorkflowEnvironment with fake activities, saved as
// test/fixtures/histories/verify-<scenario>.json in the temporal CLI's JSON form (as the
// deploy ones are). Re-record only on purpose, when old runs no longer need to replay:
//   npm run build && node dist/test/support/record-verify-histories.js
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { VerifyActivities } from '../../src/activities';
import { projectRoot } from '../../src/paths';
import { verifyHA } from '../../src/workflows';
import type { VerifyInput } from '../../src/workflows/verify';
import { Calls, fakeVerifyActivities, fatal, gate, probeStats, untilCancelled } from './fakes';
import { inventory, startWorkflowEnv, verifyInput, withWorker } from './workflow-env';

interface Scenario {
  name: string;
  fakes: () => { activities: Partial<VerifyActivities>; faulted?: Promise<void> };
  input: VerifyInput;
}

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

async function main() {
  const t = await startWorkflowEnv();
  try {
    for (const s of scenarios) {
      const { activities, faulted } = s.fakes();
      const history = await withWorker(
        t,
        fakeVerifyActivities(new Calls(), activities),
        async (taskQueue) => {
          const handle: WorkflowHandle<typeof verifyHA> = await t.env.client.workflow.start(
            verifyHA,
            { taskQueue, workflowId: `verify-${s.name}`, args: [s.input] },
          );
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
