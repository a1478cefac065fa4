// What a cluster must keep when a host is taken out (`api7-ha remove`), computed from the
// roles that would remain. Pure: the CLI checks it before anything starts, the workflow
// again before any host is touched.
import type { Inventory } from '../config/inventory';
import { COMPONENTS, componentFacts, hostsWith, type ComponentName } from './components';

/** The fewest of each component a cluster keeps without --force, and why. */
export const MINIMUMS: Record<ComponentName, { min: number; why: string }> = {
  etcd: { min: 3, why: 'etcd needs 3 members to survive one failure' },
  'control-plane': { min: 1, why: 'without a dashboard nobody can change routes' },
  'data-plane': { min: 2, why: 'the data plane needs 2 gateways to survive one failure' },
};

/** What taking `hostName` out would lose, one line per component below its minimum. */
export function removalLosses(inv: Inventory, hostName: string): string[] {
  const host = inv.hosts.find((h) => h.name === hostName);
  if (!host) return [];
  const losses: string[] = [];
  for (const c of COMPONENTS) {
    if (!host.roles.includes(c)) continue;
    const left = hostsWith(inv, c).filter((h) => h.name !== hostName);
    const { min, why } = MINIMUMS[c];
    if (left.length >= min) continue;
    const noun = componentFacts(inv, c).noun;
    losses.push(
      `removing ${hostName} would leave ${left.length} ${noun}${left.length === 1 ? '' : 's'}` +
        `${left.length ? ` (${left.map((h) => h.name).join(', ')})` : ''}; ${why}, so at least ${min} must stay (--force takes it out anyway)`,
    );
  }
  return losses;
}

/** Why `--host` cannot be taken out of this inventory, or undefined. */
export function removalTargetProblem(inv: Inventory, hostName: string): string | undefined {
  if (inv.hosts.some((h) => h.name === hostName)) return undefined;
  return (
    `--host ${hostName}: no host of that name in hosts[] (${inv.hosts.map((h) => h.name).join(', ')}). ` +
    'remove takes the inventory of the cluster as it is now, with the host still listed; delete it from the inventory afterwards'
  );
}
