// `api7-ha plan`: print what a deploy would do, touching nothing.
import { loadInventory } from '../config/load';
import { localFile } from '../config/secrets';
import { deployPlan, renderPlan, type VendorFiles } from '../commands/plan';
import { bundleTopDir } from '../commands/layout';
import type { Inventory } from '../config/inventory';
import { readBundleIndex } from '../config/bundle-index';
import { LocalFileError } from '../config/local-files';
import { DASHBOARD_CONF, GATEWAY_CONFIG } from '../commands/files';

/** The vendor's config file out of a local bundle (undefined when it is not there yet). */
async function fromBundle(
  bundle: Inventory['dashboard']['bundle'],
  field: string,
  baseDir: string,
  inner: string,
): Promise<string | undefined> {
  const name = `${bundleTopDir(bundle)}/${inner}`;
  try {
    return (await readBundleIndex(localFile(bundle.path, baseDir), field, [name])).contents.get(
      name,
    );
  } catch (e) {
    // A bundle not downloaded yet still gets a plan; anything else that is no bundle is refused.
    if (!(e instanceof LocalFileError) || e.why !== 'does not exist') throw e;
    console.warn(
      `warning: ${e.message}; the plan shows the config files without the vendor's defaults`,
    );
    return undefined;
  }
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
      'dashboard.bundle.path',
      baseDir,
      DASHBOARD_CONF,
    ),
    gatewayConfig: await fromBundle(
      inventory.gateway.bundle,
      'gateway.bundle.path',
      baseDir,
      GATEWAY_CONFIG,
    ),
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
