// Uploading a local file over SFTP with many writes in flight. ssh2's write stream sends
// one 32 KiB write and waits for its answer before the next, so its speed is one packet
// per round trip; through a jump host (a forwarded channel) that was 8× slower than
// OpenSSH's scp. Here, like OpenSSH's sftp and ssh2's own fastPut (which only takes a
// path, and so cannot use a file opened with the project's checks), up to CONCURRENCY
// writes at increasing offsets are outstanding at once.
import type { FileHandle } from 'node:fs/promises';
import type { SFTPWrapper } from 'ssh2';

export const CHUNK_BYTES = 32 * 1024;
export const CONCURRENCY = 64;
/**
 * Writes can finish out of order, so after an interruption the bytes just below the
 * remote file's end may have holes; everything more than this below its end was written.
 */
export const RESUME_OVERLAP_BYTES = CHUNK_BYTES * CONCURRENCY;

/** Where an interrupted upload can go on from, given the partial file's size. */
export const resumeOffset = (remoteSize: number, total: number): number =>
  remoteSize > total ? 0 : Math.max(0, remoteSize - RESUME_OVERLAP_BYTES);

const call = <T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

/**
 * Write `local`'s bytes from `offset` to `total` into `remote`, at the same offsets
 * (so resuming from a lower offset than needed only rewrites bytes with themselves).
 * `onProgress` gets the end of the written prefix. Resolves with the bytes sent.
 */
export async function uploadFrom(
  sftp: SFTPWrapper,
  local: FileHandle,
  remote: string,
  offset: number,
  total: number,
  onProgress: (writtenUpTo: number) => void = () => undefined,
): Promise<number> {
  const handle = await call<Buffer>((cb) =>
    sftp.open(remote, offset > 0 ? 'r+' : 'w', { mode: 0o644 }, cb),
  );
  let failure: unknown;
  let finished = false;
  try {
    let next = offset;
    const done = new Set<number>(); // finished chunk offsets above the written prefix
    let prefix = offset;
    const lane = async () => {
      while (next < total && failure === undefined) {
        const at = next;
        const len = Math.min(CHUNK_BYTES, total - at);
        next += len;
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await local.read(buf, 0, len, at);
        if (bytesRead !== len) throw new Error(`the local file changed size while it was sent`);
        await call<void>((cb) => sftp.write(handle, buf, 0, len, at, (err) => cb(err, undefined)));
        done.add(at);
        while (done.delete(prefix)) prefix = Math.min(total, prefix + CHUNK_BYTES);
        onProgress(prefix);
      }
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, () =>
        lane().catch((e: unknown) => {
          failure ??= e;
        }),
      ),
    );
    if (failure !== undefined) throw failure;
    finished = true;
    return total - offset;
  } finally {
    // A close that fails after every write was answered fails the upload; after an
    // earlier failure, that failure is the one reported.
    await call<void>((cb) => sftp.close(handle, (err) => cb(err, undefined))).catch((e) => {
      if (finished) throw e;
    });
  }
}
