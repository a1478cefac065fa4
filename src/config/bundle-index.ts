// Reading a vendor bundle's index on this machine, in bounded time and memory: the file is
// opened like every local file (config/local-files.ts), must be gzip, and is parsed by
// node-tar without extracting anything. The entries' declared sizes and count are capped,
// so a compression bomb or an endless archive is refused early. Optionally collects the
// content of a few small entries (`plan` shows the vendor's config files).
import { Parser, type ReadEntry } from 'tar';
import type { BundleEntry } from '../commands/bundle-contents';
import { LocalFileError, openLocalFile } from './local-files';

export const BUNDLE_INDEX_LIMITS = {
  entries: 20_000,
  /** Unpacked bytes per packed byte, plus a constant for small bundles (images inside are gzip already). */
  inflation: 4,
  inflationSlack: 256 * 1024 * 1024,
  /** Largest entry whose content is collected. */
  collected: 1024 * 1024,
} as const;

export interface BundleIndex {
  entries: BundleEntry[];
  /** Content of the requested entries that were found (by name without ./). */
  contents: Map<string, string>;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** A bundle must start like gzip: checked before anything reads the whole file. */
export async function checkGzip(file: string, field: string): Promise<void> {
  const opened = await openLocalFile(file, field, 'artifact');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await opened.handle.read(head, 0, 2, 0);
    if (bytesRead < 2 || !head.equals(GZIP_MAGIC))
      throw new LocalFileError(field, file, 'is not a gzip-compressed tarball');
  } finally {
    await opened.handle.close();
  }
}

/** The tarball's entries; throws LocalFileError (naming `field` and the file) when it cannot be read. */
export async function readBundleIndex(
  file: string,
  field: string,
  collect: readonly string[] = [],
): Promise<BundleIndex> {
  const opened = await openLocalFile(file, field, 'artifact');
  const refuse = (why: string) => new LocalFileError(field, file, why);
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await opened.handle.read(head, 0, 2, 0);
    if (bytesRead < 2 || !head.equals(GZIP_MAGIC)) throw refuse('is not a gzip-compressed tarball');
    const maxUnpacked =
      opened.size * BUNDLE_INDEX_LIMITS.inflation + BUNDLE_INDEX_LIMITS.inflationSlack;
    const entries: BundleEntry[] = [];
    const contents = new Map<string, string>();
    let unpacked = 0;
    const stream = opened.handle.createReadStream({ start: 0, autoClose: false });
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        stream.destroy();
        reject(e);
      };
      const parser = new Parser({
        strict: true,
        onReadEntry: (entry: ReadEntry) => {
          if (failed) return entry.resume();
          unpacked += entry.size + 512;
          if (entries.length >= BUNDLE_INDEX_LIMITS.entries)
            return fail(refuse(`has more than ${BUNDLE_INDEX_LIMITS.entries} entries`));
          if (unpacked > maxUnpacked)
            return fail(
              refuse(
                `unpacks to more than ${maxUnpacked} bytes, ${BUNDLE_INDEX_LIMITS.inflation}× its size (a compression bomb?)`,
              ),
            );
          entries.push({
            path: entry.path,
            type: entry.type,
            linkpath: entry.linkpath || undefined,
            mode: entry.mode,
          });
          const name = entry.path.replace(/^(\.\/)+/, '');
          if (
            collect.includes(name) &&
            entry.type === 'File' &&
            entry.size <= BUNDLE_INDEX_LIMITS.collected
          ) {
            const chunks: Buffer[] = [];
            entry.on('data', (c: Buffer) => chunks.push(c));
            entry.on('end', () => contents.set(name, Buffer.concat(chunks).toString('utf8')));
          } else entry.resume();
        },
      });
      // node-tar's own messages name its internals; ours name the field and the file.
      parser.on('error', (e: Error & { code?: string }) =>
        fail(
          e instanceof LocalFileError
            ? e
            : refuse(
                /decompression ratio/.test(e.message)
                  ? 'unpacks to far more than its size (a compression bomb?)'
                  : /zlib|unexpected end|incorrect header|invalid/i.test(`${e.code} ${e.message}`)
                    ? 'is not a readable .tar.gz (corrupt or truncated)'
                    : 'is not a valid tar archive',
              ),
        ),
      );
      parser.on('end', () => (failed ? undefined : resolve()));
      stream.on('error', () => fail(refuse('cannot be read')));
      stream.on('data', (chunk) => {
        if (!failed && parser.write(chunk as Buffer) === false) {
          stream.pause();
          parser.once('drain', () => stream.resume());
        }
      });
      stream.on('end', () => (failed ? undefined : parser.end()));
    });
    return { entries, contents };
  } finally {
    await opened.handle.close();
  }
}
