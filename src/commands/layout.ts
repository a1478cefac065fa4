// Where things live on a host, derived from the inventory alone (pure), so the deploy,
// `plan` and the drills all agree.
import path from 'node:path';
import { API7HA_DIR, type FileArtifact, type Host, type Inventory } from '../config/inventory';

export const STAGING_DIR = `${API7HA_DIR}/artifacts`;
/** Uploads of a non-root SSH user (ssh.sudo) travel through <INCOMING_DIR>/<user>; see staging.ts. */
export const INCOMING_DIR = `${API7HA_DIR}/incoming`;

/** api7-2.13.2209.1-cp.tar.gz unpacks to api7-2.13.2209.1-cp/ (checked at validation). */
export function bundleTopDir(bundle: FileArtifact): string {
  return path.basename(bundle.path).replace(/\.(tar\.gz|tgz)$/, '');
}

export const stagedPath = (artifact: FileArtifact) =>
  `${STAGING_DIR}/${path.basename(artifact.path)}`;

/** Where a bundle is unpacked: api7-ha reads and writes files only inside it. */
export const bundleDir = (bundle: FileArtifact, installDir: string) =>
  `${installDir}/${bundleTopDir(bundle)}`;
export const dashboardDir = (inv: Inventory) =>
  bundleDir(inv.dashboard.bundle, inv.dashboard.installDir);
export const gatewayDir = (inv: Inventory) => bundleDir(inv.gateway.bundle, inv.gateway.installDir);

/** The name compose v2 gives a project in that directory (the guide's `api7-21322091-cp`). */
export function composeProject(dir: string): string {
  return path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '');
}

export const hasRole = (host: Host, role: Host['roles'][number]) => host.roles.includes(role);
export const hostsWithRole = (inv: Inventory, role: Host['roles'][number]) =>
  inv.hosts.filter((h) => hasRole(h, role));

export function findHost(inv: Inventory, name: string): Host {
  const host = inv.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no host named ${name} in the inventory`);
  return host;
}

/** The directories the guide creates by hand on a host (and our staging directory), by its roles. */
export function directoriesFor(inv: Inventory, host: Host): string[] {
  const dirs = [STAGING_DIR];
  if (hasRole(host, 'etcd')) dirs.push(inv.etcd.dataDir);
  if (hasRole(host, 'control-plane')) dirs.push(inv.dashboard.installDir);
  if (hasRole(host, 'data-plane')) dirs.push(inv.gateway.installDir);
  return [...new Set(dirs)];
}

/** Artifacts a host needs, by its roles. */
export function artifactsFor(inv: Inventory, host: Host): FileArtifact[] {
  const out: FileArtifact[] = [];
  if (hasRole(host, 'etcd') && inv.etcd.imageTarball) out.push(inv.etcd.imageTarball);
  if (hasRole(host, 'control-plane')) out.push(inv.dashboard.bundle);
  if (hasRole(host, 'data-plane')) out.push(inv.gateway.bundle);
  return out;
}

/** Ports a host must have free (or held by our own containers), by its roles. */
export function portsFor(inv: Inventory, host: Host): Array<{ port: number; what: string }> {
  const out: Array<{ port: number; what: string }> = [];
  if (hasRole(host, 'etcd'))
    out.push(
      { port: inv.etcd.clientPort, what: 'etcd client' },
      { port: inv.etcd.peerPort, what: 'etcd peer' },
    );
  if (hasRole(host, 'control-plane')) out.push({ port: inv.dashboard.port, what: 'dashboard' });
  if (hasRole(host, 'data-plane'))
    out.push(
      { port: inv.gateway.httpPort, what: 'gateway HTTP' },
      { port: inv.gateway.httpsPort, what: 'gateway HTTPS' },
      { port: inv.gateway.metricsPort, what: 'gateway metrics' },
    );
  return out;
}
