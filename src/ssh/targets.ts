// From an inventory host to an SSH target: per-host settings over the defaults, the jump
// hosts on the way, and private keys resolved from their references at the last moment
// (never passed around).
import type { Host, Inventory, JumpHost } from '../config/inventory';
import { localFile, resolveSecret } from '../config/secrets';
import type { SshHop, SshTarget } from './session';

/** A jump host as the inventory gives it, with the field that defines it. */
export interface JumpHopSpec {
  hop: JumpHost;
  field: string;
}

/**
 * The jump hosts on the way to `host`, nearest first: its own hosts[].ssh.jump (where `[]`
 * means a direct connection), else ssh.jump, else none. Pure.
 */
export function jumpHops(inv: Inventory, host: Host): JumpHopSpec[] {
  const own = host.ssh?.jump;
  const [route, field] =
    own !== undefined
      ? [own, `hosts[${inv.hosts.indexOf(host)}].ssh.jump`]
      : [inv.ssh.jump ?? [], 'ssh.jump'];
  return route.map((hop, i) => ({ hop, field: `${field}[${i}]` }));
}

/** The jump hosts on the way to `host`, ready to log in to (keys resolved). */
export function jumpTargets(inv: Inventory, host: Host, baseDir: string): SshHop[] {
  const knownHostsFile = knownHosts(inv, baseDir);
  return jumpHops(inv, host).map(({ hop, field }) => ({
    name: hop.name ?? hop.address,
    address: hop.address,
    port: hop.port,
    // The jump host's account is not the target's: it defaults to ssh's, not hosts[].ssh's.
    user: hop.user ?? inv.ssh.user,
    privateKey: hop.privateKey
      ? resolveSecret(hop.privateKey, `${field}.privateKey`, baseDir)
      : resolveSecret(inv.ssh.privateKey, 'ssh.privateKey', baseDir),
    pinnedHostKey: hop.hostKey,
    knownHostsFile,
    field,
  }));
}

const knownHosts = (inv: Inventory, baseDir: string) =>
  inv.ssh.knownHosts ? localFile(inv.ssh.knownHosts, baseDir) : undefined;

/** Where and as whom to reach `host` itself (its own key not resolved). */
export function hostEndpoint(
  inv: Inventory,
  host: Host,
  baseDir: string,
): Omit<SshTarget, 'privateKey' | 'jump'> {
  return {
    name: host.name,
    address: host.address,
    port: host.ssh?.port ?? inv.ssh.port,
    user: host.ssh?.user ?? inv.ssh.user,
    pinnedHostKey: host.ssh?.hostKey,
    knownHostsFile: knownHosts(inv, baseDir),
    sudo: host.ssh?.sudo ?? inv.ssh.sudo,
  };
}

export function sshTarget(inv: Inventory, host: Host, baseDir: string): SshTarget {
  const keyRef = host.ssh?.privateKey ?? inv.ssh.privateKey;
  const keyField = host.ssh?.privateKey
    ? `hosts[${inv.hosts.indexOf(host)}].ssh.privateKey`
    : 'ssh.privateKey';
  return {
    ...hostEndpoint(inv, host, baseDir),
    privateKey: resolveSecret(keyRef, keyField, baseDir),
    jump: jumpTargets(inv, host, baseDir),
  };
}
