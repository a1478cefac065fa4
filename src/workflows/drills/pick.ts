// Which host each drill faults: the operator's choice, else the next host of the role on
// each run (the host drill: among the hosts with the most roles, as ha1 in the guide's
// layout, which carries an etcd member and a dashboard).
import type { Host, Inventory } from '../../config/inventory';
import { hostsWith } from '../../model/components';
import type { DrillName, VerifyOptions } from '../journal';
import { componentStopDrill } from './component-stop';
import { etcdMemberDrill } from './etcd-member';
import { etcdPartitionDrill } from './etcd-partition';
import type { Drill } from './fault';
import { gatewayRestartDegradedDrill } from './gateway-restart-degraded';
import { hostDrill } from './host';

const rotate = (hosts: Host[], previousRuns: number) => hosts[previousRuns % hosts.length]!.name;

/** The hosts with the most roles: a host drill there takes the most down at once. */
export function busiestHosts(inv: Inventory): Host[] {
  const most = Math.max(...inv.hosts.map((h) => h.roles.length));
  return inv.hosts.filter((h) => h.roles.length === most);
}

export function planDrill(
  name: DrillName,
  inv: Inventory,
  options: VerifyOptions,
  previousRuns: number,
): Drill {
  const chosen = options.hosts?.[name];
  switch (name) {
    case 'data-plane':
    case 'control-plane':
      return componentStopDrill(chosen ?? rotate(hostsWith(inv, name), previousRuns), name);
    case 'etcd':
      return etcdMemberDrill(chosen ?? rotate(hostsWith(inv, 'etcd'), previousRuns));
    case 'host':
      return hostDrill(inv, chosen ?? rotate(busiestHosts(inv), previousRuns));
    case 'etcd-partition':
      return etcdPartitionDrill(inv, chosen ?? rotate(hostsWith(inv, 'etcd'), previousRuns));
    case 'gateway-restart-degraded': {
      const gateway = chosen ?? rotate(hostsWith(inv, 'data-plane'), previousRuns);
      // A member on another host, so one host restart does not take both at once.
      const others = hostsWith(inv, 'etcd').filter((h) => h.name !== gateway);
      const etcd =
        options.hosts?.etcd ??
        rotate(others.length ? others : hostsWith(inv, 'etcd'), previousRuns);
      return gatewayRestartDegradedDrill(inv, gateway, etcd);
    }
  }
}
