// What a restore checks on the operator's side before anything on a host changes: which
// snapshot (`latest` or a file), its manifest beside it, the file's sha256 and size
// against the manifest, and the manifest against the inventory. Also the schema of the
// marker each restore leaves on the member hosts (commands/restore.ts, RESTORE_MARKER).
import path from 'node:path';
import { z } from 'zod';
import type { Inventory } from '../config/inventory';
import { LocalFileError, readLocalText } from '../config/local-files';
import { etcdMembers } from '../commands/etcd';
import { backupDirFor, listBackups, sha256OfFile } from './local-store';
import { manifestFileName, parseManifest, type BackupManifest } from './manifest';

/** The snapshot a restore uses: absolute, with its manifest's facts. */
export interface CheckedSnapshot {
  path: string;
  manifest: BackupManifest;
  /** Differences a restore goes on with (said in its plan and result). */
  warnings: string[];
}

/** A restore that must not start, and why (said before any host is touched). */
export class RestoreRefused extends Error {
  override name = 'RestoreRefused';
}

/**
 * `latest`: the newest complete backup of the cluster in its backup directory (or
 * `from`); anything else: a snapshot file (relative to the current directory).
 */
export function resolveSnapshot(
  inv: Inventory,
  baseDir: string,
  snapshot: string,
  from?: string,
): string {
  if (snapshot !== 'latest') return path.resolve(snapshot);
  const dir = backupDirFor(inv, baseDir, from);
  const newest = listBackups(dir, inv.cluster).backups.find((b) => !b.problem);
  if (!newest)
    throw new RestoreRefused(`--snapshot latest: no complete backup of ${inv.cluster} in ${dir}`);
  return newest.snapshotFile;
}

/** `<base>.db` → `<base>.json` beside it. */
export const manifestPathFor = (snapshot: string) =>
  path.join(path.dirname(snapshot), manifestFileName(path.basename(snapshot, '.db')));

/**
 * The snapshot's manifest, the file's sha256 and size against it, and the manifest
 * against the inventory: of this cluster, and (a warning) of the same members.
 */
export async function checkSnapshot(inv: Inventory, file: string): Promise<CheckedSnapshot> {
  if (!file.endsWith('.db'))
    throw new RestoreRefused(`--snapshot: ${file} is not a backup's snapshot (<name>.db)`);
  const manifestFile = manifestPathFor(file);
  let text: string;
  try {
    text = readLocalText(manifestFile, 'manifest', 'backupManifest');
  } catch (e) {
    throw new RestoreRefused(
      `--snapshot: its manifest ${manifestFile} ${e instanceof LocalFileError ? e.why : 'cannot be read'}; only a backup made by api7-ha can be restored`,
    );
  }
  let parsed: ReturnType<typeof parseManifest>;
  try {
    parsed = parseManifest(JSON.parse(text));
  } catch {
    throw new RestoreRefused(`--snapshot: ${manifestFile} is not JSON`);
  }
  if (!parsed.ok)
    throw new RestoreRefused(
      `--snapshot: ${manifestFile} is no backup manifest: ${parsed.problem}`,
    );
  const m = parsed.manifest;
  if (m.file !== path.basename(file))
    throw new RestoreRefused(`--snapshot: ${manifestFile} describes ${m.file}, not ${file}`);
  if (m.cluster !== inv.cluster)
    throw new RestoreRefused(
      `--snapshot: ${m.file} is a backup of cluster "${m.cluster}", not of "${inv.cluster}"; nothing was stopped`,
    );
  let got: { sha256: string; size: number };
  try {
    got = await sha256OfFile(file);
  } catch (e) {
    throw new RestoreRefused(
      `--snapshot: ${file} ${e instanceof LocalFileError ? e.why : 'cannot be read'}`,
    );
  }
  if (got.sha256 !== m.sha256 || got.size !== m.size)
    throw new RestoreRefused(
      `--snapshot: ${m.file} has sha256 ${got.sha256} (${got.size} bytes), its manifest says ${m.sha256} (${m.size} bytes); the file is damaged or not this backup, nothing was stopped`,
    );
  const warnings: string[] = [];
  const want = etcdMembers(inv).map((x) => `${x.name}=${x.peerUrl}`);
  const had = m.members.map((x) => `${x.name}=${x.peerUrl}`);
  if (want.join(',') !== had.join(','))
    warnings.push(
      `the snapshot was taken of members ${had.join(', ')}; it is restored onto the inventory's ${want.join(', ')}`,
    );
  return { path: file, manifest: m, warnings };
}

export const RESTORE_MARKER_FORMAT = 'api7-ha/etcd-restore-v1';

export const restoreMarkerSchema = z.strictObject({
  format: z.literal(RESTORE_MARKER_FORMAT),
  cluster: z.string(),
  sha256: z.string(),
  revision: z.number().int().min(0),
  stamp: z.string(),
  workflowId: z.string(),
  member: z.string(),
  movedAside: z.string().optional(),
  /** Once the restored cluster had quorum: its id and its members' ids (hex). */
  etcdClusterId: z.string().optional(),
  memberIds: z.array(z.string()).optional(),
});
export type RestoreMarker = z.infer<typeof restoreMarkerSchema>;

export function parseRestoreMarker(text: string | undefined): RestoreMarker | undefined {
  if (!text?.trim()) return undefined;
  try {
    const r = restoreMarkerSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the cluster already is what restoring this snapshot would make: every member
 * host's marker names the snapshot, and the live cluster has the id and member ids the
 * restore recorded. Why not, otherwise (for the plan and the workflow's report).
 */
export function alreadyRestored(
  sha256: string,
  markers: ReadonlyArray<RestoreMarker | undefined>,
  live: { etcdClusterId: string; memberIds: string[] } | undefined,
): { yes: true; stamp: string } | { yes: false; why: string } {
  if (!live) return { yes: false, why: 'etcd does not answer' };
  const sorted = (ids: string[]) => [...ids].sort().join(',');
  for (const m of markers) {
    if (!m) return { yes: false, why: 'a member host has no restore marker' };
    if (m.sha256 !== sha256)
      return { yes: false, why: `${m.member} was last restored from another snapshot` };
    if (!m.memberIds || !m.etcdClusterId)
      return { yes: false, why: `the restore of ${m.member} did not finish` };
    if (m.etcdClusterId !== live.etcdClusterId || sorted(m.memberIds) !== sorted(live.memberIds))
      return { yes: false, why: 'the running cluster is not the one that restore made' };
  }
  const stamps = new Set(markers.map((m) => m!.stamp));
  if (stamps.size !== 1) return { yes: false, why: 'the members come from different restores' };
  return { yes: true, stamp: [...stamps][0]! };
}
