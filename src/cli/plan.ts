// `api7-ha plan`: print what a deploy would do, touching nothing.
import { loadInventory } from '../config/load';
import { localFile } from '../config/secrets';
import { deployPlan, renderPlan, type VendorFiles } from '../commands/plan';
import { bundleTopDir } from '../commands/layout';
import type { Inventory } from '../config/inventory';
import { run } from '../util/exec';

/** Read a config file out of a local bundle (empty when the bundle is not there yet). */
async function fromBundle(
  bundle: Inventory['dashboard']['bundle'],
  baseDir: string,
  inner: string,
): Promise<string | undefined> {
  const r = await run(
    ['tar', '-xzOf', localFile(bundle.path, baseDir), `${bundleTopDir(bundle)}/${inner}`],
    { allowFailure: true },
  );
  return r.code === 0 ? r.stdout : undefined;
}

export async function planCommand(opts: {
  inventory: string;
  json?: boolean;
  compose?: 'plugin' | 'standalone';
}): Promise<void> {
  const { inventory, baseDir, warnings } = await loadInventory(opts.inventory);
  for (const w of warnings) console.warn(`warning: ${w}`);
  const vendor: VendorFiles = {
    dashboardConf: await fromBundle(
      inventory.dashboard.bundle,
      baseDir,
      'dashboard_conf/conf.yaml',
    ),
    gatewayConfig: await fromBundle(inventory.gateway.bundle, baseDir, 'gateway_conf/config.yaml'),
  };
  const plan = deployPlan(inventory, baseDir, opts.compose, vendor);
  console.log(opts.json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
  if (!opts.json)
    console.log(
      'Also, from the worker: wait for etcd quorum (etcd3), find or create the gateway cluster ' +
        `"${inventory.dashboard.gatewayClusterName}" through ${inventory.loadBalancers.controlPlane}, and prove ` +
        `GET ${inventory.smokeTest.host}${inventory.smokeTest.uri} through ${inventory.loadBalancers.dataPlane}.`,
    );
}
