// `api7-ha up`: the main job on the embedded default — the local Temporal dev server,
// the lab, a worker, deployHA on the lab's inventory, then verifyHA — and where to look.
import { startServer } from './server';
import { workerCommand } from './worker';
import { deployCommand } from './deploy';
import { verifyCommand } from './verify';

export async function upCommand(opts: { hosts?: number; verify?: boolean }): Promise<void> {
  console.log('1/5 embedded Temporal dev server');
  await startServer({ detach: true });
  console.log('2/5 lab hosts, load balancers and echo upstream');
  const inventory = await (await import('./lab.js')).labUpCommand(opts.hosts);
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
