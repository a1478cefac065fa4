// The guide's faults and their undoing, as commands (pure): `docker compose down` in the
// bundle directory (gateway, dashboard) or `docker stop etcd`, and the reverse.
import type { Inventory } from '../config/inventory';
import { componentFacts, type ComponentName } from '../model/components';
import { composeArgv, type ComposeFlavor } from './compose';
import { composeOverrides } from './etcd-tls';
import { composeProject } from './layout';

/** The guide's fault: compose down in the bundle directory, or `docker stop etcd`. */
export const faultArgv = (inv: Inventory, flavor: ComposeFlavor, component: ComponentName) =>
  componentArgv(inv, flavor, component, 'stop');

/** Idempotent: restoring a running component changes nothing. */
export const restoreArgv = (inv: Inventory, flavor: ComposeFlavor, component: ComponentName) =>
  componentArgv(inv, flavor, component, 'start');

function componentArgv(
  inv: Inventory,
  flavor: ComposeFlavor,
  component: ComponentName,
  action: 'stop' | 'start',
): string[] {
  const b = componentFacts(inv, component).bundled;
  if (!b) return ['docker', action, inv.etcd.containerName];
  const args = action === 'stop' ? ['down'] : ['up', '-d', b.composeService];
  return composeArgv(flavor, b.dir, composeProject(b.dir), args, composeOverrides(inv, b.dir));
}
