// The commands that read and write files on a host, besides uploads (pure). They run
// through sudo for a non-root SSH user, so sudo.ts derives the sudoers rules from these
// same builders: every argument is fixed by the inventory, and file contents travel on
// stdin, never as arguments.
import type { FileArtifact } from '../config/inventory';
import { bundleTopDir } from '../model/components';
import { stagedPath } from './layout';

/** prepare: whether a directory is there, and making it. */
export const dirExistsArgv = (dir: string) => ['test', '-d', dir];
export const makeDirArgv = (dir: string) => ['mkdir', '-p', dir];

/** Directories for secrets (etcd TLS): made with mode 700 in one command. */
export const makePrivateDirsArgv = (dirs: string[]) => ['mkdir', '-p', '-m', '700', ...dirs];
export const chmodArgv = (mode: string, file: string) => ['chmod', mode, file];

/**
 * Every file api7-ha reads or writes inside a directory of its own (a bundle it unpacked,
 * etcd's certDir) goes through this one fixed script, which never follows a link:
 * `$2` must hold `$3`, and neither `$2`, any directory between them, nor `$3` may be a
 * symbolic link; `$3` must be a regular file with no other hard links. Reads and writes
 * use dd's nofollow flags, so a link swapped in after the checks still fails. A refusal
 * exits GUARD_REFUSED and says why on stderr; a missing file exits 1. Ops:
 * `read` (at most GUARDED_READ_MAX bytes on stdout), `sha256`, and `write` (stdin, mode `$4`).
 * The script and its arguments are fixed, so a sudo rule allows exactly one file.
 */
export const GUARDED_FILE_SCRIPT = [
  'o=$1; d=$2; f=$3; r=${f#"$d"/}',
  'no() { echo "api7-ha: refusing to $o $f: $1" >&2; exit 65; }',
  'if [ "$r" = "$f" ] || [ -z "$r" ]; then no "it is not inside $d"; fi',
  'p=$d',
  'while :; do if [ -L "$p" ]; then no "$p is a symbolic link"; fi; c=${r%%/*}; p=$p/$c; if [ "$c" = "$r" ]; then break; fi; r=${r#*/}; done',
  'if [ -L "$f" ]; then no "it is a symbolic link"; fi',
  'if [ -e "$f" ]; then if [ ! -f "$f" ]; then no "it is not a regular file"; fi; if [ "$(stat -c %h -- "$f")" != 1 ]; then no "it has other hard links"; fi; elif [ "$o" != write ]; then exit 1; fi',
  'case $o in read) exec dd if="$f" iflag=nofollow bs=65536 count=16 status=none;; sha256) dd if="$f" iflag=nofollow status=none | sha256sum;; write) umask 077 && dd of="$f" oflag=nofollow status=none && chmod "$4" "$f";; esac',
].join('; ');
export const GUARD_REFUSED = 65;
/** A guarded read returns at most this much; a config file that long is refused. */
export const GUARDED_READ_MAX = 16 * 65536;

const guarded = (op: string, dir: string, file: string, ...rest: string[]) => [
  'sh',
  '-c',
  GUARDED_FILE_SCRIPT,
  'sh',
  op,
  dir,
  file,
  ...rest,
];
/** `file`'s content on stdout; exits 1 when it is missing. */
export const guardedReadArgv = (dir: string, file: string) => guarded('read', dir, file);
/** `<sha256>  -` for `file`; exits 1 when it is missing. */
export const guardedSha256Argv = (dir: string, file: string) => guarded('sha256', dir, file);
/** Write stdin to `file` with umask 077, then set its mode. */
export const guardedWriteArgv = (dir: string, file: string, mode: string) =>
  guarded('write', dir, file, mode);

/**
 * In a dashboard's or gateway's bundle dir while its config is changed but its container
 * not yet recreated: a step that crashed in between still owes the restart. Empty (or
 * missing) when nothing is owed.
 */
export const RESTART_MARKER = '.api7-ha-restart-pending';
export const restartMarkerPath = (dir: string) => `${dir}/${RESTART_MARKER}`;

/** Beside an unpacked bundle: the sha256 of the tarball it came from. */
export const BUNDLE_MARKER = '.api7-ha-bundle-sha256';
export const bundleMarkerPath = (bundle: FileArtifact, installDir: string) =>
  `${installDir}/${bundleTopDir(bundle)}/${BUNDLE_MARKER}`;

export const unpackBundleArgv = (bundle: FileArtifact, installDir: string) => [
  'tar',
  '-xzf',
  stagedPath(bundle),
  '-C',
  installDir,
];

/**
 * Beside an unpacked bundle: the `docker save` manifests of its images/*.tar.gz, one
 * JSON document per line, written once per unpack. They give each tag's image id, so an
 * image changed under the same tag is noticed without reading the tarballs every time.
 */
export const IMAGES_MARKER = '.api7-ha-bundle-images';
export const imagesMarkerPath = (bundle: FileArtifact, installDir: string) =>
  `${installDir}/${bundleTopDir(bundle)}/${IMAGES_MARKER}`;
export const READ_IMAGE_MANIFESTS_SCRIPT =
  'for f in "$1"/images/*.tar.gz; do tar -xzOf "$f" manifest.json && echo; done';
/** The manifests on stdout; the activity writes them to the marker (guarded). */
export const readImageManifestsArgv = (bundle: FileArtifact, installDir: string) => [
  'sh',
  '-c',
  READ_IMAGE_MANIFESTS_SCRIPT,
  'sh',
  `${installDir}/${bundleTopDir(bundle)}`,
];

/**
 * Image ids by tag from `docker save` manifests: the id is the digest of the image's
 * config (`<hex>.json` in the classic format, `blobs/sha256/<hex>` in the OCI one).
 */
export function imageIdsByTag(manifests: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of manifests.split('\n')) {
    if (!line.trim()) continue;
    let entries: unknown;
    try {
      entries = JSON.parse(line);
    } catch {
      continue;
    }
    if (!Array.isArray(entries)) continue;
    for (const e of entries as Array<{ Config?: unknown; RepoTags?: unknown }>) {
      const hex =
        typeof e.Config === 'string' ? /([a-f0-9]{64})(\.json)?$/.exec(e.Config)?.[1] : undefined;
      if (!hex || !Array.isArray(e.RepoTags)) continue;
      for (const tag of e.RepoTags) if (typeof tag === 'string') out.set(tag, `sha256:${hex}`);
    }
  }
  return out;
}

/** The image tarballs a bundle carries under images/. */
export const findBundleImagesArgv = (bundleDir: string) => [
  'find',
  `${bundleDir}/images`,
  '-maxdepth',
  '1',
  '-name',
  '*.tar.gz',
];
