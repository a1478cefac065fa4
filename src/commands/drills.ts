// The drills' faults and their undoing, as commands (pure): the guide's `docker compose
// down` in the bundle directory (gateway, dashboard) or `docker stop etcd`, the reverse,
// and the packet filters that cut a host or its etcd member off (and heal it).
import { quote } from 'shell-quote';
import type { Host, Inventory } from '../config/inventory';
import { componentFacts, type ComponentName } from '../model/components';
import { sshSettings } from '../model/hosts';
import { runEtcdctl } from './backup';
import { composeArgv, type ComposeFlavor } from './compose';
import { composeOverrides } from './etcd-tls';
import { composeProject, findHost } from './layout';

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

/**
 * The harsher drills cut a host off by packet filtering on that host (its own iptables),
 * never by stopping sshd or its network: api7-ha must still reach it over SSH to heal it,
 * as an operator would. Everything goes into chains of api7-ha's own, named here, hooked
 * first into the built-in chains; healing unhooks and deletes exactly those chains.
 *  - `host`: everything but SSH (to and from the host's SSH port) and loopback is dropped,
 *    in INPUT, OUTPUT and FORWARD (containers on Docker bridges pass FORWARD). To its
 *    peers, its clients and both load balancers the host is gone; packets vanish (no
 *    reset), as when a machine dies.
 *  - `etcd`: only etcd's client and peer ports, in INPUT and OUTPUT (etcd runs with the
 *    host network), except on loopback, so the member keeps running but reaches no peer
 *    and no client reaches it (its own host's containers come over a bridge: cut too).
 */
export type CutOff = 'host' | 'etcd';

export const CUT_CHAIN_PREFIX = 'API7HA-CUT';

interface CutChain {
  name: string;
  hook: 'INPUT' | 'OUTPUT' | 'FORWARD';
  rules: string[][];
}

function cutChains(inv: Inventory, host: Host, what: CutOff): CutChain[] {
  const chain = (hook: CutChain['hook']) => `${CUT_CHAIN_PREFIX}-${what.toUpperCase()}-${hook}`;
  if (what === 'host') {
    const ssh = String(sshSettings(inv, host).port);
    const keep = [
      ['-p', 'tcp', '--dport', ssh, '-j', 'RETURN'],
      ['-p', 'tcp', '--sport', ssh, '-j', 'RETURN'],
      ['-j', 'DROP'],
    ];
    return [
      { name: chain('INPUT'), hook: 'INPUT', rules: [['-i', 'lo', '-j', 'RETURN'], ...keep] },
      { name: chain('OUTPUT'), hook: 'OUTPUT', rules: [['-o', 'lo', '-j', 'RETURN'], ...keep] },
      { name: chain('FORWARD'), hook: 'FORWARD', rules: keep },
    ];
  }
  const ports = `${inv.etcd.clientPort},${inv.etcd.peerPort}`;
  const drop = [
    ['-p', 'tcp', '-m', 'multiport', '--dports', ports, '-j', 'DROP'],
    ['-p', 'tcp', '-m', 'multiport', '--sports', ports, '-j', 'DROP'],
  ];
  return [
    { name: chain('INPUT'), hook: 'INPUT', rules: [['-i', 'lo', '-j', 'RETURN'], ...drop] },
    { name: chain('OUTPUT'), hook: 'OUTPUT', rules: [['-o', 'lo', '-j', 'RETURN'], ...drop] },
  ];
}

const ipt = (...args: string[]) => quote(['iptables', '-w', ...args]);

/**
 * Privileged, idempotent: fill api7-ha's chains (made, or emptied when there), then hook
 * each first into its built-in chain once. One fixed `sh -c` line: every value is
 * quoted, so a sudoers rule allows exactly this command line.
 */
export function cutOffArgv(inv: Inventory, hostName: string, what: CutOff): string[] {
  const steps = ['set -e'];
  for (const c of cutChains(inv, findHost(inv, hostName), what)) {
    steps.push(`${ipt('-N', c.name)} 2>/dev/null || ${ipt('-F', c.name)}`);
    for (const r of c.rules) steps.push(ipt('-A', c.name, ...r));
    steps.push(
      `${ipt('-C', c.hook, '-j', c.name)} 2>/dev/null || ${ipt('-I', c.hook, '1', '-j', c.name)}`,
    );
  }
  return ['sh', '-c', steps.join('; ')];
}

/**
 * Privileged, idempotent: unhook api7-ha's chains (every copy of the jump), empty and
 * delete them, whether or not they exist; fails only if one is still there afterwards.
 * Safe after a worker crash and on a host never cut off.
 */
export function reconnectArgv(inv: Inventory, hostName: string, what: CutOff): string[] {
  const steps: string[] = [];
  const chains = cutChains(inv, findHost(inv, hostName), what);
  for (const c of chains) {
    steps.push(`while ${ipt('-D', c.hook, '-j', c.name)} 2>/dev/null; do :; done`);
    steps.push(`${ipt('-F', c.name)} 2>/dev/null || true`);
    steps.push(`${ipt('-X', c.name)} 2>/dev/null || true`);
  }
  for (const c of chains)
    steps.push(
      `if ${ipt('-n', '-L', c.name)} >/dev/null 2>&1; then echo ${quote([`api7-ha: ${c.name} is still there`])} >&2; exit 1; fi`,
    );
  return ['sh', '-c', steps.join('; ')];
}

/** The throw-away etcdctl container of the partition drill's reads. */
export const DRILL_ETCDCTL_CONTAINER = 'api7-ha-drill-etcdctl';
/** A key the partition drill reads; whether it exists does not matter, the read's answer does. */
export const PARTITION_PROBE_KEY = '/api7-ha/partition-probe';

/**
 * Privileged: a linearizable read (it needs the leader's read index) against the member on
 * this host, from the host itself (over loopback, which the etcd cut leaves open). An
 * isolated member cannot answer it; a member with quorum answers at once.
 */
export const linearizableReadArgv = (inv: Inventory, hostName: string, withAuth: boolean) =>
  runEtcdctl(
    inv,
    hostName,
    [],
    ['get', PARTITION_PROBE_KEY, '--consistency=l', '--command-timeout=5s'],
    withAuth,
    DRILL_ETCDCTL_CONTAINER,
  );
