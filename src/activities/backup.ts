// backupEtcd's effectful steps: pick a healthy member, take and check a snapshot on its
// host, bring it to the operator's side with its manifest, prune old backups, and clean
// the host. Each step is idempotent and safe to retry; the snapshot's bytes travel over
// SSH only, never through Temporal (only the manifest and small facts do).
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import type { SFTPWrapper } from 'ssh2';
import {
  downloadPath,
  handOverArgv,
  parseSnapshotStatus,
  remoteBackupDirArgv,
  removeRemoteSnapshotArgv,
  removeSnapshotContainerArgv,
  REMOTE_SNAPSHOT,
  snapshotSaveArgv,
  snapshotStatusArgv,
  type SnapshotStatus,
} from '../commands/backup';
import { etcdMembers } from '../commands/etcd';
import { checksumArgv, discardArgv, incomingDirArgv } from '../commands/staging';
import {
  backupBaseName,
  MANIFEST_FORMAT,
  partName,
  snapshotFileName,
  type BackupManifest,
} from '../backup/manifest';
import {
  backupDirFor,
  ensureBackupDir,
  listBackups,
  pruneBackups,
  sha256OfFile,
  writeManifest,
  type PruneResult,
} from '../backup/local-store';
import { etcdClient, type EtcdAccess } from '../etcd/client';
import { clusterHealth } from '../etcd/health';
import { clusterBlocker } from '../temporal/cluster-lock';
import { errorText } from '../util/errors';
import type { SshSession } from '../ssh/session';
import {
  etcdPassword,
  heartbeat,
  keepHeartbeating,
  withHost,
  type DeployInput,
  type LiveDetail,
} from './context';
import { etcdAccess } from './etcd';

export interface BackupInput extends DeployInput {
  /** Absolute directory on the worker's machine (`--to`); else the inventory's or the default. */
  to?: string;
}

/** Why a backup must not start now, if it must not. */
export async function checkBackupExclusion(
  cluster: string,
  selfWorkflowId: string,
  parentWorkflowId?: string,
): Promise<{ blockedBy?: string }> {
  const blocked = await clusterBlocker({
    cluster,
    workflowId: selfWorkflowId,
    ...(parentWorkflowId ? { parentWorkflowId } : {}),
    type: 'backupEtcd',
    because: { verifyHA: 'its etcd drill stops a member' },
  });
  return { blockedBy: blocked?.message };
}

export interface BackupSource {
  host: string;
  member: string;
  /** host:port */
  endpoint: string;
  etcdVersion: string;
  etcdClusterId: string;
  /** Whether etcd has authentication on (the inventory may want it before a deploy turned it on). */
  authEnabled: boolean;
  members: Array<{ name: string; peerUrl: string }>;
  /** Members that were not healthy (a backup needs quorum, not every member). */
  unhealthy: string[];
}

const authOff = (e: unknown) => /authentication is not enabled/.test(errorText(e));

/** maintenance.status of one member, logging in when auth is on (and saying whether it is). */
async function memberStatus(access: EtcdAccess, endpoint: string) {
  const c = etcdClient(access, [endpoint]);
  try {
    return { status: await c.maintenance.status(), authEnabled: Boolean(access.auth) };
  } catch (e) {
    if (!access.auth || !authOff(e)) throw e;
  } finally {
    c.close();
  }
  const plain = etcdClient(access, [endpoint], { withAuth: false });
  try {
    return { status: await plain.maintenance.status(), authEnabled: false };
  } finally {
    plain.close();
  }
}

/**
 * Quorum first (a linearizable write and read through the cluster), then a healthy
 * member to take the snapshot from: a follower when there is one, so the leader is
 * spared the extra disk read.
 */
export async function pickBackupMember(input: BackupInput): Promise<BackupSource> {
  const inv = input.inventory;
  const ticker = keepHeartbeating();
  try {
    const access = etcdAccess(input);
    const members = etcdMembers(inv);
    const health = await clusterHealth(
      access,
      members.map((m) => m.name),
    );
    if (!health.roundTrip) throw new Error(`etcd has no quorum: ${health.problems.join('; ')}`); // retried
    const healthy = health.perEndpoint.filter((p) => p.healthy && p.leader && p.leader !== '0');
    if (!healthy.length)
      throw new Error(`no etcd member is healthy: ${health.problems.join('; ')}`);
    const statuses = await Promise.all(
      healthy.map(async (p) => ({ p, ...(await memberStatus(access, p.endpoint)) })),
    );
    const follower = statuses.find((s) => s.status.leader !== s.status.header.member_id);
    const chosen = follower ?? statuses[0]!;
    const member = members.find(
      (m) => `${m.host.address}:${inv.etcd.clientPort}` === chosen.p.endpoint,
    )!;
    return {
      host: member.host.name,
      member: member.name,
      endpoint: chosen.p.endpoint,
      etcdVersion: chosen.status.version,
      etcdClusterId: chosen.status.header.cluster_id,
      authEnabled: chosen.authEnabled,
      members: members.map((m) => ({ name: m.name, peerUrl: m.peerUrl })),
      unhealthy: health.perEndpoint.filter((p) => !healthy.includes(p)).map((p) => p.endpoint),
    };
  } finally {
    clearInterval(ticker);
  }
}

export interface RemoteSnapshot {
  host: string;
  takenAt: string;
  sha256: string;
  status: SnapshotStatus;
  /** Live keys at the snapshot's revision. */
  keys: number;
}

/** Live keys at `revision`, counted by the member the snapshot came from. */
async function keysAt(access: EtcdAccess, source: BackupSource, revision: number) {
  const c = etcdClient(access, [source.endpoint], { withAuth: source.authEnabled });
  try {
    return await c.getAll().revision(revision).count();
  } finally {
    c.close();
  }
}

/**
 * On the member's host: `etcdctl snapshot save` into api7-ha's backup directory, then
 * etcd's own `snapshot status` of the file and its sha256. A retry starts over (the
 * file has one fixed name; etcdctl writes it as .part and renames it when complete).
 */
export async function takeSnapshot(
  input: BackupInput,
  source: BackupSource,
): Promise<RemoteSnapshot> {
  const inv = input.inventory;
  return withHost(input, source.host, async (ssh) => {
    await ssh.execRaw(removeSnapshotContainerArgv()); // a leftover of a crashed attempt
    await ssh.exec(remoteBackupDirArgv());
    await ssh.exec(removeRemoteSnapshotArgv());
    const password = source.authEnabled ? etcdPassword(input) : undefined;
    await ssh.exec(
      snapshotSaveArgv(inv, source.host, password !== undefined),
      password !== undefined ? { stdin: `${password}\n` } : {},
    );
    const takenAt = new Date().toISOString();
    const status = parseSnapshotStatus(await ssh.exec(snapshotStatusArgv(inv)));
    const sha256 = (await ssh.exec(checksumArgv(REMOTE_SNAPSHOT))).split(' ')[0]!;
    const keys = await keysAt(etcdAccess(input), source, status.revision);
    return { host: source.host, takenAt, sha256, status, keys };
  });
}

/** The snapshot on the host changed or vanished since it was taken: take it again. */
const snapshotChanged = (why: string) =>
  ApplicationFailure.nonRetryable(`${why}; the backup takes a new snapshot`, 'SnapshotChanged');

function download(
  ssh: SshSession,
  sftp: SFTPWrapper,
  remote: string,
  local: string,
  total: number,
): Promise<void> {
  let bytes = 0;
  let lastBeat = 0;
  const label = path.basename(local);
  const progress = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (Date.now() - lastBeat > 1000) {
        lastBeat = Date.now();
        heartbeat({ host: ssh.target.name, file: label, bytes, total } satisfies LiveDetail);
      }
      done(null, chunk);
    },
  });
  return ssh.watch(
    pipeline(
      sftp.createReadStream(remote),
      progress,
      createWriteStream(local, { mode: 0o600, flags: 'w' }),
    ),
  );
}

const lstat = (sftp: SFTPWrapper, file: string) =>
  new Promise<{ regular: boolean; size: number } | undefined>((resolve) =>
    sftp.lstat(file, (err, st) =>
      resolve(err ? undefined : { regular: st.isFile(), size: st.size }),
    ),
  );

/**
 * Bring the snapshot to the operator's side: download over SFTP to `<name>.db.part`,
 * check its sha256 on disk against the host's, rename it, then write the manifest
 * beside it (the commit point). Done already when that manifest exists for this file.
 */
export async function storeSnapshot(
  input: BackupInput,
  source: BackupSource,
  snap: RemoteSnapshot,
  workflowId: string,
): Promise<BackupManifest & { path: string }> {
  const inv = input.inventory;
  const dir = backupDirFor(inv, input.baseDir, input.to);
  const base = backupBaseName(inv.cluster, snap.takenAt, snap.status.revision);
  const file = snapshotFileName(base);
  const existing = listBackups(dir, inv.cluster).backups.find(
    (b) => b.manifest.file === file && !b.problem && b.manifest.sha256 === snap.sha256,
  );
  if (existing) return { ...existing.manifest, path: existing.snapshotFile };
  ensureBackupDir(dir);
  const final = path.join(dir, file);
  const part = partName(final);
  const size = await withHost(input, source.host, async (ssh) => {
    const login = { user: ssh.target.user, sudo: ssh.target.sudo };
    if (login.sudo) {
      await ssh.exec(incomingDirArgv(login.user));
      const r = await ssh.execRaw(handOverArgv(login));
      if (r.code !== 0) throw snapshotChanged(`${source.host}: ${REMOTE_SNAPSHOT} is gone`);
    }
    const remote = downloadPath(login);
    const sftp = await ssh.sftp();
    try {
      const st = await lstat(sftp, remote);
      if (!st) throw snapshotChanged(`${source.host}: ${remote} is gone`);
      if (!st.regular)
        throw ApplicationFailure.nonRetryable(
          `${source.host}: ${remote} is not a regular file (a link?); nothing was downloaded`,
          'UnsafeHostPath',
        );
      await download(ssh, sftp, remote, part, st.size);
      return st.size;
    } finally {
      sftp.end();
      if (login.sudo) await ssh.execRaw(discardArgv(remote), { privileged: false });
    }
  });
  const got = await sha256OfFile(part);
  if (got.sha256 !== snap.sha256 || got.size !== size) {
    rmSync(part, { force: true });
    throw snapshotChanged(
      `${file} arrived with sha256 ${got.sha256} (${got.size} bytes), the host's has ${snap.sha256}`,
    );
  }
  renameSync(part, final);
  const manifest: BackupManifest = {
    format: MANIFEST_FORMAT,
    cluster: inv.cluster,
    createdAt: snap.takenAt,
    file,
    sha256: got.sha256,
    size: got.size,
    member: { name: source.member, host: source.host, endpoint: source.endpoint },
    members: source.members,
    etcdClusterId: source.etcdClusterId,
    etcdVersion: source.etcdVersion,
    revision: snap.status.revision,
    keys: snap.keys,
    snapshot: snap.status,
    authEnabled: source.authEnabled,
    workflowId,
  };
  writeManifest(dir, base, manifest);
  return { ...manifest, path: final };
}

/** The retention rule on the cluster's backup directory (backup.keep). */
export async function pruneLocalBackups(
  input: BackupInput,
): Promise<PruneResult & { dir: string }> {
  const dir = backupDirFor(input.inventory, input.baseDir, input.to);
  return Promise.resolve({
    ...pruneBackups(dir, input.inventory.cluster, input.inventory.backup.keep),
    dir,
  });
}

/** The host keeps no copy: the snapshot, its part, the user's copy, a leftover container. */
export async function removeRemoteSnapshot(input: BackupInput, hostName: string): Promise<void> {
  await withHost(input, hostName, async (ssh) => {
    await ssh.execRaw(removeSnapshotContainerArgv());
    await ssh.exec(removeRemoteSnapshotArgv());
    if (ssh.target.sudo)
      await ssh.execRaw(discardArgv(downloadPath({ user: ssh.target.user, sudo: true })), {
        privileged: false,
      });
  });
}
