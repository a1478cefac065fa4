// The commands that read and write files on a host, besides uploads (pure). They run
// through sudo for a non-root SSH user, so sudo.ts derives the sudoers rules from these
// same builders: every argument is fixed by the inventory, and file contents travel on
// stdin, never as arguments.
import type { FileArtifact, Inventory } from '../config/inventory';
import { bundleTopDir, dashboardDir, gatewayDir, stagedPath } from './layout';

/** prepare: whether a directory is there, and making it. */
export const dirExistsArgv = (dir: string) => ['test', '-d', dir];
export const makeDirArgv = (dir: string) => ['mkdir', '-p', dir];

/** Directories for secrets (etcd TLS): made with mode 700 in one command. */
export const makePrivateDirsArgv = (dirs: string[]) => ['mkdir', '-p', '-m', '700', ...dirs];
export const chmodArgv = (mode: string, file: string) => ['chmod', mode, file];

/** A file's content on stdout (a missing file exits non-zero). */
export const readFileArgv = (file: string) => ['cat', file];

/**
 * Write stdin to `file` with umask 077, then set its mode. The script is a constant and
 * `file` and `mode` are its arguments, so a sudo rule for this argv allows writing that
 * one file and nothing else.
 */
export const WRITE_FILE_SCRIPT = 'umask 077 && cat > "$1" && chmod "$2" "$1"';
export const writeFileArgv = (file: string, mode: string) => [
  'sh',
  '-c',
  WRITE_FILE_SCRIPT,
  'sh',
  file,
  mode,
];

/** The config files the guide edits by hand. */
export const dashboardConfPath = (inv: Inventory) =>
  `${dashboardDir(inv)}/dashboard_conf/conf.yaml`;
export const gatewayConfigPath = (inv: Inventory) => `${gatewayDir(inv)}/gateway_conf/config.yaml`;

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

export const WRITE_MARKER_SCRIPT = 'printf "%s\\n" "$1" > "$2"';
export const writeMarkerArgv = (bundle: FileArtifact, installDir: string) => [
  'sh',
  '-c',
  WRITE_MARKER_SCRIPT,
  'sh',
  bundle.sha256,
  bundleMarkerPath(bundle, installDir),
];

/**
 * Beside an unpacked bundle: the `docker save` manifests of its images/*.tar.gz, one
 * JSON document per line, written once per unpack. They give each tag's image id, so an
 * image changed under the same tag is noticed without reading the tarballs every time.
 */
export const IMAGES_MARKER = '.api7-ha-bundle-images';
export const imagesMarkerPath = (bundle: FileArtifact, installDir: string) =>
  `${installDir}/${bundleTopDir(bundle)}/${IMAGES_MARKER}`;
export const WRITE_IMAGE_MANIFESTS_SCRIPT =
  'for f in "$1"/images/*.tar.gz; do tar -xzOf "$f" manifest.json && echo; done > "$2"';
export const writeImageManifestsArgv = (bundle: FileArtifact, installDir: string) => [
  'sh',
  '-c',
  WRITE_IMAGE_MANIFESTS_SCRIPT,
  'sh',
  `${installDir}/${bundleTopDir(bundle)}`,
  imagesMarkerPath(bundle, installDir),
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
