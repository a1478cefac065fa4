// The guide's faults and their undoing, as commands (pure): `docker compose down` in the
// bundle directory (gateway, dashboard) or `docker stop etcd`, and the reverse.
import type { Inventory } from '../config/inventory';
import { componentFacts, type ComponentName } from '../model/components';
import { composeArgv, type ComposeFlavor } from './compose';
import { composeOverrides } from './etcd-tls';
import { composeProject } from './layout';

export function faultArgv(
  inv: Inventory,
  flavor: ComposeFlavor,
  component: ComponentName,
): string[] {
  const b = componentFacts(inv, component).bundled;
  if (!b) return ['docker', 'stop', inv.etcd.containerName];
  return composeArgv(flavor, b.dir, composeProject(b.dir), ['down'], composeOverrides(inv, b.dir));
}

/** Idempotent: restoring a running component changes nothing. */
export function restoreArgv(
  inv: Inventory,
  flavor: ComposeFlavor,
  component: ComponentName,
): string[] {
  const b = componentFacts(inv, component).bundled;
  if (!b) return ['docker', 'start', inv.etcd.containerName];
  return composeArgv(
    flavor,
    b.dir,
    composeProject(b.dir),
    ['up', '-d', b.composeService],
    composeOverrides(inv, b.dir),
  );
}
