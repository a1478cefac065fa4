// From an inventory host to an SSH target: the effective settings (src/model/hosts.ts,
// per-host over the defaults), the jump hosts on the way, and private keys resolved from
// their references at the last moment (never passed around).
import type { Host, Inventory } from '../config/inventory';
import { localFile, resolveSecret } from '../config/secrets';
import { sshSettings, type FieldRef } from '../model/hosts';
import type { SshHop, SshTarget } from './session';

const privateKey = (key: FieldRef, baseDir: string) => resolveSecret(key.ref, key.field, baseDir);

const knownHostsFile = (file: string | undefined, baseDir: string) =>
  file ? localFile(file, baseDir) : undefined;

/** The jump hosts on the way to `host`, ready to log in to (keys resolved). */
export function jumpTargets(inv: Inventory, host: Host, baseDir: string): SshHop[] {
  const ssh = sshSettings(inv, host);
  return ssh.jump.map((hop) => ({
    name: hop.name,
    address: hop.address,
    port: hop.port,
    user: hop.user,
    privateKey: privateKey(hop.privateKey, baseDir),
    pinnedHostKey: hop.hostKey,
    knownHostsFile: knownHostsFile(ssh.knownHosts, baseDir),
    field: hop.field,
  }));
}

/** Where and as whom to reach `host` itself (its own key not resolved). */
export function hostEndpoint(
  inv: Inventory,
  host: Host,
  baseDir: string,
): Omit<SshTarget, 'privateKey' | 'jump'> {
  const ssh = sshSettings(inv, host);
  return {
    name: host.name,
    address: host.address,
    port: ssh.port,
    user: ssh.user,
    pinnedHostKey: ssh.hostKey,
    knownHostsFile: knownHostsFile(ssh.knownHosts, baseDir),
    sudo: ssh.sudo,
  };
}

export function sshTarget(inv: Inventory, host: Host, baseDir: string): SshTarget {
  return {
    ...hostEndpoint(inv, host, baseDir),
    privateKey: privateKey(sshSettings(inv, host).privateKey, baseDir),
    jump: jumpTargets(inv, host, baseDir),
  };
}
