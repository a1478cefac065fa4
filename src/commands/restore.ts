// The remote half of an etcd restore (pure): where the snapshot lands on each member's
// host, the command that rebuilds the member's data from it, and the one fixed script
// that moves the old data dir aside (exactly once per restore) and the rebuilt one into
// place. etcdctl runs in a throw-away container of the member's own image (the vendor's
// image has etcdctl; the hosts need not) with the data dir's parent mounted; moving
// directories needs `mv`, which that image need not have, so it runs on the host.
// Values that differ per restore (the stamp) reach the script on stdin, so every sudoers
// rule below fixes all of its arguments.
import path from 'node:path';
import { API7HA_DIR, type Inventory } from '../config/inventory';
import { REMOTE_BACKUP_DIR, REMOTE_SNAPSHOT } from './backup';
import { stopContainersArgv } from './docker';
import { etcdMember, etcdMembers } from './etcd';
import { incomingDir, type Login } from './staging';

/** The throw-away container that runs `etcdctl snapshot restore`. */
export const RESTORE_CONTAINER = 'api7-ha-etcd-restore';
const IN_CONTAINER_SNAPSHOT = '/backup/etcd-snapshot.db';
const IN_CONTAINER_PARENT = '/restore';

/**
 * Per host, what the last restore did (JSON, mode 600, in api7-ha's own directory): the
 * snapshot's sha256, the stamp, and once the cluster was up, the member ids it produced.
 * A restore of the same snapshot onto the cluster those ids still form changes nothing.
 */
export const RESTORE_MARKER = `${API7HA_DIR}/etcd-restore.json`;

/** `20261202T170501Z`: the restore's start, in the moved-aside dir's name and the token. */
export const STAMP = /^[0-9]{8}T[0-9]{6}Z$/;

/** Where the rebuilt data dir is made before it is moved into place (one fixed name). */
export const restoringDir = (inv: Inventory) => `${inv.etcd.dataDir}.restoring`;
/** Where the data dir a restore replaces is kept (never deleted by api7-ha). */
export const movedAsideDir = (inv: Inventory, stamp: string) =>
  `${inv.etcd.dataDir}.before-restore-${stamp}`;
/** The stamp of the restore whose data dir is in place (written just before it is moved in). */
export const stampFile = (inv: Inventory) => `${inv.etcd.dataDir}.restore-stamp`;

/**
 * A new cluster token per restore (etcd derives the cluster id from it): members of the
 * cluster before the restore cannot join the rebuilt one. It lives only in the restored
 * data: a member with a data dir ignores ETCD_INITIAL_CLUSTER_TOKEN, so the container
 * keeps the inventory's token and its config hash, and a later deploy changes nothing.
 */
export const restoreToken = (inv: Inventory, stamp: string) =>
  `${inv.etcd.clusterToken}-restore-${stamp.toLowerCase()}`;

function dataDirParent(inv: Inventory): string {
  const parent = path.posix.dirname(inv.etcd.dataDir);
  if (parent === '/')
    throw new Error(
      `etcd.dataDir ${inv.etcd.dataDir} is directly under /: a restore mounts its parent; use a deeper path`,
    );
  return parent;
}

/** Where the snapshot is written over SFTP, and how it is put in place (root, 0600). */
export function snapshotUploadPaths(login: Login): { partial: string; incoming?: string } {
  if (!login.sudo) return { partial: `${REMOTE_SNAPSHOT}.part` };
  const incoming = incomingDir(login.user);
  return { partial: `${incoming}/etcd-snapshot.db.part`, incoming };
}

/** Privileged: the checked upload into the host's snapshot slot (REMOTE_SNAPSHOT). */
export function placeSnapshotArgv(login: Login): string[] {
  const { partial, incoming } = snapshotUploadPaths(login);
  if (!incoming) return ['mv', '-f', partial, REMOTE_SNAPSHOT];
  return ['install', '-o', 'root', '-g', 'root', '-m', '0600', partial, REMOTE_SNAPSHOT];
}

/** Privileged: stop the member (SIGTERM, then 10 s); its container stays for `docker start`. */
export const stopMemberArgv = (inv: Inventory) => stopContainersArgv([inv.etcd.containerName]);

/** Privileged: a leftover restore container of an interrupted attempt (fails when none). */
export const removeRestoreContainerArgv = () => ['docker', 'rm', '-f', RESTORE_CONTAINER];

/**
 * Privileged: `etcdctl snapshot restore` of the host's snapshot into restoringDir, with
 * this member's name and peer URL, every member of the inventory, and the new token.
 */
export function snapshotRestoreArgv(inv: Inventory, hostName: string, token: string): string[] {
  const me = etcdMember(inv, hostName);
  const parent = dataDirParent(inv);
  const all = etcdMembers(inv)
    .map((m) => `${m.name}=${m.peerUrl}`)
    .join(',');
  return [
    'docker',
    'run',
    '--rm',
    '--name',
    RESTORE_CONTAINER,
    '--network=none',
    '-u',
    'root',
    '-e',
    'ETCDCTL_API=3',
    '-v',
    `${parent}:${IN_CONTAINER_PARENT}`,
    '-v',
    `${REMOTE_BACKUP_DIR}:/backup:ro`,
    '--entrypoint',
    'etcdctl',
    inv.etcd.image,
    'snapshot',
    'restore',
    IN_CONTAINER_SNAPSHOT,
    `--name=${me.name}`,
    `--initial-cluster=${all}`,
    `--initial-cluster-token=${token}`,
    `--initial-advertise-peer-urls=${me.peerUrl}`,
    `--data-dir=${IN_CONTAINER_PARENT}/${path.posix.basename(restoringDir(inv))}`,
  ];
}

/**
 * The data dir's moves, as root on the host: `$1` op, `$2` the data dir; the stamp on
 * stdin. A refusal exits DATA_DIR_REFUSED.
 * - `state`: prints `<stamp of the dir in place, or -> <present|absent>`.
 * - `clean`: removes restoringDir (only ever a copy rebuilt from the snapshot).
 * - `swap`: unless the dir in place is already this restore's (the stamp file says so),
 *   moves it to `<dir>.before-restore-<stamp>` (refusing if that exists), writes the
 *   stamp, and moves restoringDir into place. A crash anywhere in between is finished by
 *   running it again; the original is moved aside once. Prints the moved-aside dir.
 */
export const DATA_DIR_SCRIPT = [
  'o=$1; d=$2; n=$d.restoring; m=$d.restore-stamp;',
  'no() { echo "api7-ha: $1" >&2; exit 65; };',
  'case $o in',
  'state) s=-; if [ -f "$m" ]; then s=$(cat "$m"); fi; if [ -d "$d" ]; then echo "$s present"; else echo "$s absent"; fi;;',
  'clean) rm -rf -- "$n";;',
  'swap) IFS= read -r s || no "no stamp on stdin";',
  'case $s in *[!0-9TZ]*|"") no "not a stamp: $s";; esac;',
  'a=$d.before-restore-$s;',
  'if [ "$(cat "$m" 2>/dev/null)" != "$s" ]; then',
  '[ -d "$n" ] || no "$n is missing";',
  'if [ -e "$d" ] || [ -L "$d" ]; then if [ -e "$a" ] || [ -L "$a" ]; then no "$a exists"; fi; mv -T -- "$d" "$a" || exit 1; fi;',
  'echo "$s" > "$m.part" && mv -f -- "$m.part" "$m" && mv -T -- "$n" "$d" || exit 1;',
  'elif [ ! -e "$d" ]; then [ -d "$n" ] || no "$n is missing"; mv -T -- "$n" "$d" || exit 1; fi;',
  'rm -rf -- "$n";',
  'if [ -e "$a" ]; then echo "$a"; fi;;',
  '*) no "unknown op $o";;',
  'esac',
].join(' ');
export const DATA_DIR_REFUSED = 65;

const dataDirArgv = (inv: Inventory, op: 'state' | 'clean' | 'swap') => [
  'sh',
  '-c',
  DATA_DIR_SCRIPT,
  'sh',
  op,
  inv.etcd.dataDir,
];
export const dataDirStateArgv = (inv: Inventory) => dataDirArgv(inv, 'state');
export const cleanRestoringArgv = (inv: Inventory) => dataDirArgv(inv, 'clean');
/** Give the stamp on stdin. */
export const swapDataDirArgv = (inv: Inventory) => dataDirArgv(inv, 'swap');

export interface DataDirState {
  /** The stamp of the restore whose dir is in place, if any. */
  stamp?: string;
  present: boolean;
}

export function parseDataDirState(stdout: string): DataDirState {
  const [stamp = '-', present = ''] = stdout.trim().split(/\s+/);
  return { ...(STAMP.test(stamp) ? { stamp } : {}), present: present === 'present' };
}
