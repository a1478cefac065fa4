// The guide's faults and their undoing, as commands (pure): `docker compose down` in the
// bundle directory (gateway, dashboard) or `docker stop etcd`, and the reverse.
import type { Inventory } from '../config/inventory';
import { composeArgv, type ComposeFlavor } from './compose';
import { composeOverrides } from './etcd-tls';
import { composeProject, dashboardDir, gatewayDir } from './layout';

export type Component = 'gateway' | 'dashboard' | 'etcd';

export const COMPOSE_SERVICE: Record<Exclude<Component, 'etcd'>, string> = {
  gateway: 'api7-gateway',
  dashboard: 'api7-dashboard',
};

export function faultArgv(inv: Inventory, flavor: ComposeFlavor, component: Component): string[] {
  if (component === 'etcd') return ['docker', 'stop', inv.etcd.containerName];
  const dir = component === 'gateway' ? gatewayDir(inv) : dashboardDir(inv);
  return composeArgv(flavor, dir, composeProject(dir), ['down'], composeOverrides(inv, dir));
}

/** Idempotent: restoring a running component changes nothing. */
export function restoreArgv(inv: Inventory, flavor: ComposeFlavor, component: Component): string[] {
  if (component === 'etcd') return ['docker', 'start', inv.etcd.containerName];
  const dir = component === 'gateway' ? gatewayDir(inv) : dashboardDir(inv);
  return composeArgv(
    flavor,
    dir,
    composeProject(dir),
    ['up', '-d', COMPOSE_SERVICE[component]],
    composeOverrides(inv, dir),
  );
}
