// Every file api7-ha reads on the operator's (or worker's) machine is opened here: the
// inventory, keys, certificates, known_hosts, secret files, codec keys, bundles and image
// tarballs. Only a regular file is read, after its symlinks are resolved, opened without
// blocking (a FIFO would hang a plain open) and never past a size fitting its kind, so a
// hostile path can neither hang the tool nor exhaust its memory. Every refusal names the
// inventory field and the file; none shows an errno or a library message.
import {
  constants,
  closeSync,
  fstatSync,
  openSync,
  readSync,
  realpathSync,
  type Stats,
} from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The largest file of each kind api7-ha agrees to read. */
export const LOCAL_FILE_LIMITS = {
  /** An inventory of a few hundred hosts is well under 100 KiB. */
  inventory: MiB,
  /** Passwords, SSH and TLS private keys. */
  secret: 64 * KiB,
  /** A certificate or CA bundle. */
  certificate: MiB,
  knownHosts: 4 * MiB,
  codecKeys: 64 * KiB,
  /** Vendor bundles and image tarballs: a few hundred MiB in practice. */
  artifact: 16 * GiB,
  /** A backup's manifest (src/backup/manifest.ts) is well under 4 KiB. */
  backupManifest: 64 * KiB,
} as const;
export type LocalFileKind = keyof typeof LOCAL_FILE_LIMITS;

/** Kernel-made files whose size says nothing about what reading them returns. */
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];

/** A local file api7-ha refused to read; the message names the field and the file. */
export class LocalFileError extends Error {
  override name = 'LocalFileError';
  constructor(
    readonly field: string,
    readonly file: string,
    readonly why: string,
  ) {
    super(`${field}: ${file} ${why}`);
  }
}

const humanSize = (n: number) =>
  n >= GiB ? `${n / GiB} GiB` : n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`;

function whyNot(code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return 'does not exist';
    case 'ENOTDIR':
      return 'does not exist (a part of its path is not a directory)';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    case 'ELOOP':
      return 'is a loop of symbolic links';
    case 'ENAMETOOLONG':
      return 'has a path that is too long';
    case 'EISDIR':
      return 'is a directory, not a regular file';
    default:
      return 'cannot be read';
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function refusal(field: string, file: string, e: unknown): LocalFileError {
  if (e instanceof LocalFileError) return e;
  return new LocalFileError(field, file, whyNot((e as NodeJS.ErrnoException).code));
}

function checkPath(field: string, file: string, real: string): void {
  if (PSEUDO_ROOTS.some((r) => real === r || real.startsWith(`${r}/`)))
    throw new LocalFileError(
      field,
      file,
      real === file
        ? 'is a kernel pseudo-file, not a regular file'
        : `leads to ${real}, a kernel pseudo-file`,
    );
}

function checkStats(field: string, file: string, st: Stats, kind: LocalFileKind): void {
  if (!st.isFile()) throw new LocalFileError(field, file, `is ${kindOf(st)}, not a regular file`);
  const limit = LOCAL_FILE_LIMITS[kind];
  if (st.size > limit)
    throw new LocalFileError(field, file, `is larger than ${humanSize(limit)} (${st.size} bytes)`);
}

// O_NONBLOCK: opening a FIFO would otherwise wait for a writer. O_NOFOLLOW: the resolved
// path must not have become a link since. O_NOCTTY: a terminal never becomes ours.
const OPEN_FLAGS =
  constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY;

/** Read a whole local file of a kind, or throw a LocalFileError naming `field`. */
export function readLocalFile(file: string, field: string, kind: LocalFileKind): Buffer {
  let fd: number | undefined;
  try {
    const real = realpathSync(file);
    checkPath(field, file, real);
    fd = openSync(real, OPEN_FLAGS);
    const st = fstatSync(fd);
    checkStats(field, file, st, kind);
    // Read to the end, but never past the limit: the file may grow while we read.
    const limit = LOCAL_FILE_LIMITS[kind];
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * KiB, limit + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > limit)
        throw new LocalFileError(field, file, `is larger than ${humanSize(limit)}`);
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw refusal(field, file, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export const readLocalText = (file: string, field: string, kind: LocalFileKind): string =>
  readLocalFile(file, field, kind).toString('utf8');

/** Like readLocalFile, but a missing file is `undefined` (known_hosts before `hosts trust --write`). */
export function readLocalTextIfExists(
  file: string,
  field: string,
  kind: LocalFileKind,
): string | undefined {
  try {
    return readLocalText(file, field, kind);
  } catch (e) {
    if (e instanceof LocalFileError && e.why === whyNot('ENOENT')) return undefined;
    throw e;
  }
}

export interface OpenedLocalFile {
  handle: FileHandle;
  /** The file after its symlinks were resolved. */
  real: string;
  size: number;
}

/** Open a large local file (a bundle) for streaming, after the same checks. Close the handle. */
export async function openLocalFile(
  file: string,
  field: string,
  kind: LocalFileKind,
): Promise<OpenedLocalFile> {
  let handle: FileHandle | undefined;
  try {
    const real = await realpath(file);
    checkPath(field, file, real);
    handle = await open(real, OPEN_FLAGS);
    const st = await handle.stat();
    checkStats(field, file, st, kind);
    return { handle, real, size: st.size };
  } catch (e) {
    await handle?.close();
    throw refusal(field, file, e);
  }
}

/** Size of a local file after the same checks (preflight's disk-space sum). */
export async function localFileSize(file: string, field: string, kind: LocalFileKind) {
  const f = await openLocalFile(file, field, kind);
  await f.handle.close();
  return f.size;
}
