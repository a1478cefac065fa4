// A backup on the operator's side: the snapshot file and, beside it, a small manifest
// that says what it holds. The manifest is the commit point: a snapshot without one is
// not a backup (a crash left it half done), and a restore checks the file against it.
// Pure: naming, the manifest's schema and the retention rule; no I/O here.
import { z } from 'zod';

export const MANIFEST_FORMAT = 'api7-ha/etcd-backup-v1';

const hex64 = z.string().regex(/^[a-f0-9]{64}$/, { error: 'must be a sha256 (64 hex digits)' });
const count = z.number().int().min(0);

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  /** The inventory's cluster name: a restore refuses a snapshot of another cluster. */
  cluster: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/),
  /** When the snapshot was taken (ISO 8601, UTC). */
  createdAt: z.iso.datetime(),
  /** The snapshot's file name, in the manifest's own directory. */
  file: z.string().regex(/^[A-Za-z0-9._-]+\.db$/),
  sha256: hex64,
  size: count,
  /** The member it was taken from. */
  member: z.strictObject({ name: z.string(), host: z.string(), endpoint: z.string() }),
  /** Every member of the cluster at the time (names and peer URLs a restore recreates). */
  members: z.array(z.strictObject({ name: z.string(), peerUrl: z.string() })),
  /** etcd's own id of the cluster (changes when a restore rebuilds it). */
  etcdClusterId: z.string(),
  etcdVersion: z.string(),
  /** The store revision the snapshot holds; a restore goes back to it. */
  revision: count,
  /** Live keys at that revision (the `count` of `etcdctl get "" --prefix --keys-only -w json`). */
  keys: count,
  /** `etcdctl snapshot status -w json` of the file: etcd's hash of its content, and more. */
  snapshot: z.strictObject({
    hash: count,
    revision: count,
    totalKey: count,
    totalSize: count,
  }),
  /** Whether etcd authentication was on (the snapshot carries users and roles). */
  authEnabled: z.boolean(),
  /** The run that took it. */
  workflowId: z.string(),
});
export type BackupManifest = z.infer<typeof manifestSchema>;

/** Why a parsed JSON value is not a manifest, or the manifest. */
export function parseManifest(
  value: unknown,
): { ok: true; manifest: BackupManifest } | { ok: false; problem: string } {
  const r = manifestSchema.safeParse(value);
  if (r.success) return { ok: true, manifest: r.data };
  const first = r.error.issues[0];
  return {
    ok: false,
    problem: `${first?.path.join('.') || '(top level)'}: ${first?.message ?? 'invalid'}`,
  };
}

/** `20261202T130501Z` from an ISO time: sortable, and safe in a file name. */
export const compactTime = (iso: string) => iso.replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');

/** `<cluster>-<time>-r<revision>`: file names sort by time. */
export const backupBaseName = (cluster: string, createdAt: string, revision: number) =>
  `${cluster}-${compactTime(createdAt)}-r${revision}`;

export const snapshotFileName = (base: string) => `${base}.db`;
export const manifestFileName = (base: string) => `${base}.json`;
/** Written first, renamed into place when complete: never counted as a backup. */
export const partName = (file: string) => `${file}.part`;

/** Whether a file name is one of this cluster's backup files (snapshot, manifest or part). */
export function belongsTo(cluster: string, file: string): boolean {
  return new RegExp(`^${cluster}-[0-9]{8}T[0-9]{6}Z-r[0-9]+\\.(db|json)(\\.part)?$`).test(file);
}

/** What the retention rule does to a directory's backups. */
export interface PrunePlan {
  keep: BackupManifest[];
  remove: BackupManifest[];
}

/**
 * The `keep` newest complete backups of the cluster stay; older ones go. Sorted newest
 * first by time, then revision (two taken in the same second keep their order).
 */
export function planRetention(manifests: BackupManifest[], keep: number): PrunePlan {
  const newestFirst = [...manifests].sort(
    (a, b) => b.createdAt.localeCompare(a.createdAt) || b.revision - a.revision,
  );
  return { keep: newestFirst.slice(0, keep), remove: newestFirst.slice(keep) };
}
