// The remote half of an etcd backup (pure): where the snapshot lands on the member's host
// and the commands that take, check, hand over and remove it. etcdctl runs in a
// throw-away container of the member's own image (the vendor's image has etcdctl; the
// hosts need not), on the host network against the member's client URL, with the
// member's certificate when etcd.tls is on and the root password read from stdin, so
// the password is in no command line. The snapshot is written straight into api7-ha's
// directory on the host; one fixed path per host, since one backup of a cluster runs
// at a time, so every sudoers rule below fixes all of its arguments.
import { API7HA_DIR, type Inventory } from '../config/inventory';
import { etcdMember } from './etcd';
import { ETCD_CERTS_IN_CONTAINER, etcdTls } from './etcd-tls';
import { incomingDir, type Login } from './staging';

/** Root-owned, mode 0700: a snapshot holds every route, secret and etcd user. */
export const REMOTE_BACKUP_DIR = `${API7HA_DIR}/backup`;
export const REMOTE_SNAPSHOT = `${REMOTE_BACKUP_DIR}/etcd-snapshot.db`;
/** etcdctl writes `<file>.part` and renames it when complete. */
export const REMOTE_SNAPSHOT_PART = `${REMOTE_SNAPSHOT}.part`;
/** The throw-away container's name, so a leftover of a crashed attempt can be removed. */
export const SNAPSHOT_CONTAINER = 'api7-ha-etcd-snapshot';
const IN_CONTAINER_DIR = '/backup';
const IN_CONTAINER_SNAPSHOT = `${IN_CONTAINER_DIR}/etcd-snapshot.db`;

/** Privileged, idempotent: the host's backup directory, closed to other users. */
export const remoteBackupDirArgv = () => ['install', '-d', '-m', '0700', REMOTE_BACKUP_DIR];

/** Privileged: a leftover snapshot container of an interrupted attempt (fails when none). */
export const removeSnapshotContainerArgv = () => ['docker', 'rm', '-f', SNAPSHOT_CONTAINER];

/** Reads the password from stdin, so it is in neither argv nor the container's config. */
export const PASSWORD_FROM_STDIN =
  'IFS= read -r ETCDCTL_PASSWORD && export ETCDCTL_PASSWORD && exec etcdctl "$@"';

/** etcdctl's connection flags for the member on this host. */
function etcdctlFlags(inv: Inventory, hostName: string, withAuth: boolean): string[] {
  const flags = [`--endpoints=${etcdMember(inv, hostName).clientUrl}`, '--dial-timeout=5s'];
  if (etcdTls(inv)) {
    const f = (name: string) => `${ETCD_CERTS_IN_CONTAINER}/${name}`;
    // The member's own certificate: it has clientAuth (docs/inventory.md, etcd.tls).
    flags.push(`--cacert=${f('ca.crt')}`, `--cert=${f('member.crt')}`, `--key=${f('member.key')}`);
  }
  if (withAuth) flags.push(`--user=${inv.etcd.auth.username}`);
  return flags;
}

/** Privileged: etcdctl in a throw-away container against the member on this host. */
export function runEtcdctl(
  inv: Inventory,
  hostName: string,
  mounts: string[],
  etcdctlArgs: string[],
  withAuth: boolean,
  container = SNAPSHOT_CONTAINER,
): string[] {
  const argv = ['docker', 'run', '--rm', '--name', container, '--network=host'];
  argv.push('-u', 'root', '-e', 'ETCDCTL_API=3');
  if (withAuth) argv.push('-i');
  for (const m of mounts) argv.push('-v', m);
  const tls = etcdTls(inv);
  if (tls) argv.push('-v', `${tls.certDir}:${ETCD_CERTS_IN_CONTAINER}:ro`);
  const flags = [...etcdctlFlags(inv, hostName, withAuth), ...etcdctlArgs];
  if (withAuth)
    argv.push('--entrypoint', '/bin/sh', inv.etcd.image, '-c', PASSWORD_FROM_STDIN, 'sh', ...flags);
  else argv.push('--entrypoint', 'etcdctl', inv.etcd.image, ...flags);
  return argv;
}

/**
 * Privileged: `etcdctl snapshot save` against this host's member. With auth the
 * password goes on stdin (see PASSWORD_FROM_STDIN); `withAuth` false is for a cluster
 * whose auth the inventory wants but the deploy has not turned on yet.
 */
export const snapshotSaveArgv = (inv: Inventory, hostName: string, withAuth: boolean) =>
  runEtcdctl(
    inv,
    hostName,
    [`${REMOTE_BACKUP_DIR}:${IN_CONTAINER_DIR}`],
    ['snapshot', 'save', IN_CONTAINER_SNAPSHOT],
    withAuth,
  );

/** Privileged: etcd's own check of the file (hash, revision, total keys, size); no etcd needed. */
export const snapshotStatusArgv = (inv: Inventory) => [
  'docker',
  'run',
  '--rm',
  '--name',
  SNAPSHOT_CONTAINER,
  '-u',
  'root',
  '-e',
  'ETCDCTL_API=3',
  '-v',
  `${REMOTE_BACKUP_DIR}:${IN_CONTAINER_DIR}:ro`,
  '--entrypoint',
  'etcdctl',
  inv.etcd.image,
  'snapshot',
  'status',
  IN_CONTAINER_SNAPSHOT,
  '--write-out=json',
];

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/** `snapshot status -w json`: {"hash":…,"revision":…,"totalKey":…,"totalSize":…}. */
export function parseSnapshotStatus(stdout: string): SnapshotStatus {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('{'));
  const v = line ? (JSON.parse(line) as Record<string, unknown>) : {};
  const n = (k: string) => {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
      throw new Error(`snapshot status gave no ${k}: ${stdout.trim().slice(0, 200)}`);
    return x;
  };
  return {
    hash: n('hash'),
    revision: n('revision'),
    totalKey: n('totalKey'),
    totalSize: n('totalSize'),
  };
}

/** Where SFTP reads the snapshot: as root the file itself; with sudo the user's own copy. */
export function downloadPath(login: Login): string {
  return login.sudo ? `${incomingDir(login.user)}/etcd-snapshot.db` : REMOTE_SNAPSHOT;
}

/**
 * Privileged, only with sudo: a copy the SSH user may read (0600, in its own 0700
 * directory), since SFTP runs as that user and the snapshot is root's.
 */
export const handOverArgv = (login: Login) => [
  'install',
  '-o',
  login.user,
  '-m',
  '0600',
  REMOTE_SNAPSHOT,
  downloadPath(login),
];

/** Privileged: the snapshot and a part etcdctl may have left; the host keeps no backup. */
export const removeRemoteSnapshotArgv = () => ['rm', '-f', REMOTE_SNAPSHOT, REMOTE_SNAPSHOT_PART];
