// Where things live on a host, derived from the inventory alone (pure), so the deploy,
// `plan` and the drills all agree. Each component's own facts are in src/model.
import path from 'node:path';
import { API7HA_DIR, type FileArtifact, type Host, type Inventory } from '../config/inventory';
import { bundledOn, componentPorts, hasRole, type ComponentPort } from '../model/components';

export const STAGING_DIR = `${API7HA_DIR}/artifacts`;
/** Uploads of a non-root SSH user (ssh.sudo) travel through <INCOMING_DIR>/<user>; see staging.ts. */
export const INCOMING_DIR = `${API7HA_DIR}/incoming`;

export const stagedPath = (artifact: FileArtifact) =>
  `${STAGING_DIR}/${path.basename(artifact.path)}`;

/** The name compose v2 gives a project in that directory (the guide's `api7-21322091-cp`). */
export function composeProject(dir: string): string {
  return path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '');
}

export function findHost(inv: Inventory, name: string): Host {
  const host = inv.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no host named ${name} in the inventory`);
  return host;
}

/** The directories the guide creates by hand on a host (and our staging directory), by its roles. */
export function directoriesFor(inv: Inventory, host: Host): string[] {
  const dirs = [STAGING_DIR];
  if (hasRole(host, 'etcd')) dirs.push(inv.etcd.dataDir);
  for (const b of bundledOn(inv, host)) dirs.push(b.installDir);
  return [...new Set(dirs)];
}

/** Artifacts a host needs, by its roles. */
export function artifactsFor(inv: Inventory, host: Host): FileArtifact[] {
  const out: FileArtifact[] = [];
  if (hasRole(host, 'etcd') && inv.etcd.imageTarball) out.push(inv.etcd.imageTarball);
  for (const b of bundledOn(inv, host)) out.push(b.bundle);
  return out;
}

/** Ports a host must have free (or held by our own containers), by its roles. */
export const portsFor = (inv: Inventory, host: Host): ComponentPort[] => componentPorts(inv, host);
