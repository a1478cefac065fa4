// The resolved cluster, host by host: each host's effective SSH settings (its own
// hosts[].ssh over the inventory's ssh defaults, resolved here and nowhere else) and every
// port it listens on for api7-ha. Hosts by role are hostsWith() in components.ts. Pure and
// free of Node built-ins: secrets stay references (ssh/targets.ts resolves keys at the last
// moment), and workflows may import it.
import type { Host, Inventory, JumpHost } from '../config/inventory';
import { componentPorts, type ComponentPort } from './components';

/** A secret reference with the inventory field that sets it (messages name the field). */
export interface FieldRef {
  ref: string;
  field: string;
}

/** A jump host as the inventory gives it, with the field that defines it. */
export interface JumpHopSpec {
  hop: JumpHost;
  field: string;
}

/** A jump host's effective login: its own fields over ssh's (never over hosts[].ssh's). */
export interface JumpSettings {
  name: string;
  address: string;
  port: number;
  user: string;
  privateKey: FieldRef;
  hostKey?: string;
  /** The inventory field of the hop (`ssh.jump[0]`), for the hint in a host key error. */
  field: string;
}

export interface SshSettings {
  port: number;
  user: string;
  /** Privileged commands go through `sudo -n`. */
  sudo: boolean;
  privateKey: FieldRef;
  /** The host key pinned in hosts[].ssh.hostKey. */
  hostKey?: string;
  /** ssh.knownHosts as the inventory gives it (relative to the inventory's directory). */
  knownHosts?: string;
  /** Jump hosts passed through in order, nearest first; empty for a direct connection. */
  jump: JumpSettings[];
}

const hostField = (inv: Inventory, host: Host) => `hosts[${inv.hosts.indexOf(host)}]`;

/**
 * The jump hosts on the way to `host`, nearest first: its own hosts[].ssh.jump (where `[]`
 * means a direct connection), else ssh.jump, else none.
 */
export function jumpHops(inv: Inventory, host: Host): JumpHopSpec[] {
  const own = host.ssh?.jump;
  const [route, field] =
    own !== undefined
      ? [own, `${hostField(inv, host)}.ssh.jump`]
      : [inv.ssh.jump ?? [], 'ssh.jump'];
  return route.map((hop, i) => ({ hop, field: `${field}[${i}]` }));
}

/** How api7-ha logs in to `host`: every SSH default merged here, once. */
export function sshSettings(inv: Inventory, host: Host): SshSettings {
  const own = host.ssh;
  return {
    port: own?.port ?? inv.ssh.port,
    user: own?.user ?? inv.ssh.user,
    sudo: own?.sudo ?? inv.ssh.sudo,
    privateKey: own?.privateKey
      ? { ref: own.privateKey, field: `${hostField(inv, host)}.ssh.privateKey` }
      : { ref: inv.ssh.privateKey, field: 'ssh.privateKey' },
    hostKey: own?.hostKey,
    knownHosts: inv.ssh.knownHosts,
    jump: jumpHops(inv, host).map(({ hop, field }) => ({
      name: hop.name ?? hop.address,
      address: hop.address,
      port: hop.port,
      // The jump host's account is not the target's: it defaults to ssh's, not hosts[].ssh's.
      user: hop.user ?? inv.ssh.user,
      privateKey: hop.privateKey
        ? { ref: hop.privateKey, field: `${field}.privateKey` }
        : { ref: inv.ssh.privateKey, field: 'ssh.privateKey' },
      hostKey: hop.hostKey,
      field,
    })),
  };
}

/** Every port api7-ha uses on a host: its SSH port first, then its components'. */
export function hostPorts(inv: Inventory, host: Host): ComponentPort[] {
  const port = sshSettings(inv, host).port;
  const field = host.ssh?.port === undefined ? 'ssh.port' : `${hostField(inv, host)}.ssh.port`;
  return [{ port, field, what: 'SSH' }, ...componentPorts(inv, host)];
}
