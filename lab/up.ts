// `api7-ha up`: the main job on the embedded default — the local Temporal dev server,
// the lab, a worker, deployHA on the lab's inventory, then verifyHA — and where to look.
// An entry point of the lab's (the product's CLI runs it as a separate process): it is
// the product driven against the lab, so it lives on the lab's side.
import { Option } from 'commander';
import { deployCommand } from '../src/cli/deploy';
import { int, newProgram, runProgram } from '../src/cli/program';
import { startServer } from '../src/cli/server';
import { verifyCommand } from '../src/cli/verify';
import { workerCommand } from '../src/cli/worker';
import { labUpCommand } from './cli';

export async function upCommand(opts: { hosts?: number; verify?: boolean }): Promise<void> {
  console.log('1/5 embedded Temporal dev server');
  await startServer({ detach: true });
  console.log('2/5 lab hosts, load balancers and echo upstream');
  const inventory = await labUpCommand(opts.hosts);
  console.log(`    inventory: ${inventory}`);
  console.log('3/5 worker');
  await workerCommand({ detach: true });
  console.log('4/5 deployHA on the lab inventory (watch it in the Temporal UI too)');
  await deployCommand({ inventory, follow: true });
  if (opts.verify !== false) {
    console.log(
      "\n5/5 verifyHA: the guide's three failure drills, measured through the load balancers",
    );
    await verifyCommand({ inventory, follow: true, hold: 10 });
  }
  console.log(
    '\nStop everything with: api7-ha worker --stop; api7-ha lab down; api7-ha server --stop',
  );
}

export function buildUpProgram() {
  return newProgram(
    'api7-ha up',
    'the main job on the embedded default: dev server, lab, worker, then deploy the lab (needs root)',
  )
    .addOption(new Option('--hosts <n>', 'number of lab hosts').argParser(int('--hosts')))
    .option('--no-verify', 'skip the failure drills after the deploy')
    .action(async (o) => upCommand(o));
}

if (require.main === module) runProgram(buildUpProgram());
