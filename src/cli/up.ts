// `api7-ha up`: the main job on the embedded default — the local Temporal dev server,
// the lab, a worker, and deployHA on the lab's inventory — then where to look.
import { startServer } from './server';
import { workerCommand } from './worker';
import { deployCommand } from './deploy';

export async function upCommand(opts: { hosts?: number }): Promise<void> {
  console.log('1/4 embedded Temporal dev server');
  await startServer({ detach: true });
  console.log('2/4 lab hosts, load balancers and echo upstream');
  const inventory = await (await import('./lab.js')).labUpCommand(opts.hosts);
  console.log(`    inventory: ${inventory}`);
  console.log('3/4 worker');
  await workerCommand({ detach: true });
  console.log('4/4 deployHA on the lab inventory (watch it in the Temporal UI too)');
  await deployCommand({ inventory, follow: true });
  console.log(
    '\nStop everything with: api7-ha worker --stop; api7-ha lab down; api7-ha server --stop',
  );
}
