// `api7-ha inventory check`: validate an inventory without touching any host.
import { loadInventory } from '../config/load';

export async function checkInventory(file: string): Promise<void> {
  const { inventory, warnings } = await loadInventory(file);
  for (const w of warnings) console.warn(`warning: ${w}`);
  console.log(
    `${file}: valid inventory for cluster "${inventory.cluster}" with ${inventory.hosts.length} hosts`,
  );
}
