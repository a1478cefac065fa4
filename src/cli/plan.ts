// `api7-ha plan`: print what a deploy would do, touching nothing.
import { loadInventory } from '../config/load';
import { deployPlan, renderPlan } from '../commands/plan';

export async function planCommand(opts: { inventory: string; json?: boolean; compose?: 'plugin' | 'standalone' }): Promise<void> {
  const { inventory, baseDir, warnings } = await loadInventory(opts.inventory);
  for (const w of warnings) console.warn(`warning: ${w}`);
  const plan = deployPlan(inventory, baseDir, opts.compose);
  console.log(opts.json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
  if (!opts.json)
    console.log(
      'Also, from the worker: wait for etcd quorum (etcd3), find or create the gateway cluster ' +
        `"${inventory.dashboard.gatewayClusterName}" through ${inventory.loadBalancers.controlPlane}, and prove ` +
        `GET ${inventory.smokeTest.host}${inventory.smokeTest.uri} through ${inventory.loadBalancers.dataPlane}.`,
    );
}
