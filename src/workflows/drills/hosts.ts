// A host of the inventory by name, in workflow code (commands/layout.ts's is for activities).
import type { Host, Inventory } from '../../config/inventory';

export function findHostIn(inv: Inventory, name: string): Host {
  const h = inv.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host named ${name} in the inventory`);
  return h;
}
