// From an inventory host to an SSH target: per-host settings over the defaults, and the
// private key resolved from its reference at the last moment (never passed around).
import type { Host, Inventory } from '../config/inventory';
import { localFile, resolveSecret } from '../config/secrets';
import type { SshTarget } from './session';

export function sshTarget(inv: Inventory, host: Host, baseDir: string): SshTarget {
  const keyRef = host.ssh?.privateKey ?? inv.ssh.privateKey;
  const keyField = host.ssh?.privateKey
    ? `hosts[${inv.hosts.indexOf(host)}].ssh.privateKey`
    : 'ssh.privateKey';
  return {
    name: host.name,
    address: host.address,
    port: host.ssh?.port ?? inv.ssh.port,
    user: host.ssh?.user ?? inv.ssh.user,
    privateKey: resolveSecret(keyRef, keyField, baseDir),
    pinnedHostKey: host.ssh?.hostKey,
    knownHostsFile: inv.ssh.knownHosts ? localFile(inv.ssh.knownHosts, baseDir) : undefined,
    sudo: host.ssh?.sudo ?? inv.ssh.sudo,
  };
}
