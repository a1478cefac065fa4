// `api7-ha inventory check`: everything the deploy checks on this machine before it
// touches a host — schema, secret references, artifacts and their sha256, bundle layout,
// etcd certificates — without touching any host.
import { checkInventoryLocally } from '../activities/validate';
import { loadInventory } from '../config/load';
import { EXIT } from './exit';

export async function checkInventory(file: string): Promise<void> {
  const { inventory, baseDir } = await loadInventory(file);
  try {
    const { warnings } = await checkInventoryLocally({ inventory, baseDir });
    for (const w of warnings) console.warn(`warning: ${w}`);
  } catch (e) {
    console.error(`${file}: ${(e as Error).message}`);
    process.exitCode = EXIT.refused;
    return;
  }
  console.log(
    `${file}: valid inventory for cluster "${inventory.cluster}" with ${inventory.hosts.length} hosts; secrets, artifacts and certificates check out`,
  );
}
