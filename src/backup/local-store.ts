// Backups on the operator's side: one directory per cluster holding `<base>.db` (the
// snapshot, 0600) and `<base>.json` (its manifest). Files are written as `.part` and
// renamed when complete; the manifest is renamed last, so whatever a crash leaves
// behind is never listed or counted as a backup. Used by the worker's activities and
// by `api7-ha backup list`.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Inventory } from '../config/inventory';
import { LocalFileError, openLocalFile, readLocalText } from '../config/local-files';
import { localFile } from '../config/secrets';
import { dataDir } from '../paths';
import {
  belongsTo,
  manifestFileName,
  parseManifest,
  partName,
  planRetention,
  type BackupManifest,
} from './manifest';

/**
 * Where a cluster's backups go: `--to` (absolute, as the CLI resolved it), else
 * `backup.dir` relative to the inventory, else `<data dir>/backups/<cluster>`.
 */
export function backupDirFor(inv: Inventory, baseDir: string, to?: string): string {
  if (to) return path.resolve(to);
  if (inv.backup.dir) return localFile(inv.backup.dir, baseDir);
  return path.join(dataDir, 'backups', inv.cluster);
}

/** Made (and its parents) closed to other users: snapshots hold every secret in etcd. */
export function ensureBackupDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
}

export interface StoredBackup {
  manifest: BackupManifest;
  manifestFile: string;
  snapshotFile: string;
  /** Why the pair is not usable as it stands (snapshot missing or of another size). */
  problem?: string;
}

export interface DirectoryListing {
  backups: StoredBackup[];
  /** Manifests that do not parse, and leftovers (.part files, snapshots without a manifest). */
  unusable: Array<{ file: string; problem: string }>;
}

/** Every backup of `cluster` (or of any cluster) in `dir`, newest first. */
export function listBackups(dir: string, cluster?: string): DirectoryListing {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { backups: [], unusable: [] };
    throw e;
  }
  const backups: StoredBackup[] = [];
  const unusable: DirectoryListing['unusable'] = [];
  const claimed = new Set<string>();
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const manifestFile = path.join(dir, name);
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(JSON.parse(readLocalText(manifestFile, 'manifest', 'backupManifest')));
    } catch (e) {
      const why = e instanceof LocalFileError ? e.why : 'is not JSON';
      if (!cluster || belongsTo(cluster, name)) unusable.push({ file: name, problem: why });
      continue;
    }
    if (!parsed.ok) {
      if (!cluster || belongsTo(cluster, name))
        unusable.push({ file: name, problem: parsed.problem });
      continue;
    }
    const m = parsed.manifest;
    if (cluster && m.cluster !== cluster) continue;
    claimed.add(m.file);
    const snapshotFile = path.join(dir, m.file);
    let problem: string | undefined;
    try {
      const st = statSync(snapshotFile);
      if (!st.isFile()) problem = `${m.file} is not a regular file`;
      else if (st.size !== m.size)
        problem = `${m.file} has ${st.size} bytes, the manifest says ${m.size}`;
    } catch {
      problem = `${m.file} is missing`;
    }
    backups.push({ manifest: m, manifestFile, snapshotFile, problem });
  }
  for (const name of names) {
    if (cluster && !belongsTo(cluster, name)) continue;
    if (name.endsWith('.part')) unusable.push({ file: name, problem: 'an unfinished write' });
    else if (name.endsWith('.db') && !claimed.has(name) && (!cluster || belongsTo(cluster, name)))
      unusable.push({ file: name, problem: 'a snapshot without a manifest (not a backup)' });
  }
  backups.sort(
    (a, b) =>
      b.manifest.createdAt.localeCompare(a.manifest.createdAt) ||
      b.manifest.revision - a.manifest.revision,
  );
  return { backups, unusable };
}

/** sha256 and size of a local file, read as every local file is (a regular file only). */
export async function sha256OfFile(file: string): Promise<{ sha256: string; size: number }> {
  const opened = await openLocalFile(file, 'snapshot', 'artifact');
  try {
    const hash = createHash('sha256');
    for await (const chunk of opened.handle.createReadStream({ autoClose: false }))
      hash.update(chunk as Buffer);
    return { sha256: hash.digest('hex'), size: opened.size };
  } finally {
    await opened.handle.close();
  }
}

/** The manifest as `<base>.json`, through a .part file and a rename (the commit point). */
export function writeManifest(dir: string, base: string, manifest: BackupManifest): string {
  const file = path.join(dir, manifestFileName(base));
  const part = partName(file);
  writeFileSync(part, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  renameSync(part, file);
  return file;
}

export interface PruneResult {
  removed: string[];
  kept: number;
}

/**
 * Keep the `keep` newest complete backups of the cluster; remove older ones (the
 * manifest first, so an interrupted prune never leaves a manifest without its file),
 * and the leftovers of interrupted runs. Only this cluster's files are touched.
 */
export function pruneBackups(dir: string, cluster: string, keep: number): PruneResult {
  const listing = listBackups(dir, cluster);
  const complete = listing.backups.filter((b) => !b.problem);
  const plan = planRetention(
    complete.map((b) => b.manifest),
    keep,
  );
  const removed: string[] = [];
  for (const m of plan.remove) {
    const b = complete.find((x) => x.manifest === m)!;
    rmSync(b.manifestFile, { force: true });
    rmSync(b.snapshotFile, { force: true });
    removed.push(path.basename(b.snapshotFile));
  }
  for (const u of listing.unusable) {
    // Only what our own writes leave: parts and snapshots whose manifest never came.
    if (!u.file.endsWith('.part') && !u.file.endsWith('.db')) continue;
    rmSync(path.join(dir, u.file), { force: true });
    removed.push(u.file);
  }
  return { removed, kept: plan.keep.length };
}
