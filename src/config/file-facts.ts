// What validation learns by reading a whole local artifact (its sha256, a bundle's index),
// remembered per worker by the file's identity, so a redeploy does not read 40 MiB again
// for every bundle. The identity is what the open file itself says (fstat, not the path):
// device, inode, size, mtime and ctime, in nanoseconds. Any write changes mtime and ctime,
// a replaced file has a new inode, and a `touch` changes mtime, so each means a new read.
// A file modified in the last moments is not remembered (as git does with "racily clean"
// entries): a write within the same clock tick as the read could otherwise go unseen.
import type { BundleEntry } from '../commands/bundle-contents';
import { createHash } from 'node:crypto';
import { readBundleIndex } from './bundle-index';
import { openLocalFile, type OpenedLocalFile } from './local-files';

interface Known {
  identity: string;
  sha256?: string;
  entries?: BundleEntry[];
}

export interface FileFactsStats {
  /** Whole-file reads for a sha256. */
  hashed: number;
  /** Whole-file reads for a bundle index. */
  indexed: number;
  /** Answers given from memory. */
  remembered: number;
}

/** Files modified less than this long ago are read but not remembered. */
export const RACY_MS = 2000;

export class LocalFileFacts {
  private readonly known = new Map<string, Known>();
  readonly stats: FileFactsStats = { hashed: 0, indexed: 0, remembered: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  /** The file's identity now and whether it is too fresh to remember (it is opened and closed). */
  private async identify(
    file: string,
    field: string,
  ): Promise<{ real: string; identity: string; racy: boolean }> {
    const opened = await openLocalFile(file, field, 'artifact');
    try {
      return await identityOf(opened, this.now);
    } finally {
      await opened.handle.close();
    }
  }

  private remember(real: string, identity: string, facts: Omit<Known, 'identity'>): void {
    const old = this.known.get(real);
    this.known.set(real, {
      ...(old?.identity === identity ? old : {}),
      ...facts,
      identity,
    });
  }

  /** sha256 (hex) of a local artifact; `progress` is called while a read goes on. */
  async sha256(file: string, field: string, progress?: () => void): Promise<string> {
    const opened = await openLocalFile(file, field, 'artifact');
    try {
      const { real, identity, racy } = await identityOf(opened, this.now);
      const hit = this.known.get(real);
      if (hit?.identity === identity && hit.sha256) {
        this.stats.remembered++;
        return hit.sha256;
      }
      const hash = createHash('sha256');
      let n = 0;
      for await (const chunk of opened.handle.createReadStream({ autoClose: false })) {
        hash.update(chunk as Buffer);
        if (++n % 256 === 0) progress?.();
      }
      this.stats.hashed++;
      const sha256 = hash.digest('hex');
      // Read through the same open file, so the identity is the one of the bytes hashed.
      if (!racy && (await identityOf(opened, this.now)).identity === identity)
        this.remember(real, identity, { sha256 });
      return sha256;
    } finally {
      await opened.handle.close();
    }
  }

  /** A bundle's entries (config/bundle-index.ts), remembered like sha256s. */
  async bundleEntries(file: string, field: string): Promise<BundleEntry[]> {
    const before = await this.identify(file, field);
    const hit = this.known.get(before.real);
    if (hit?.identity === before.identity && hit.entries) {
      this.stats.remembered++;
      return hit.entries;
    }
    const { entries } = await readBundleIndex(file, field);
    this.stats.indexed++;
    // The index opened the file again: remember it only if it is still the same file.
    const after = await this.identify(file, field);
    if (!before.racy && after.identity === before.identity && after.real === before.real)
      this.remember(before.real, before.identity, { entries });
    return entries;
  }

  /** Forget everything (tests). */
  clear(): void {
    this.known.clear();
  }
}

async function identityOf(
  opened: OpenedLocalFile,
  now: () => number,
): Promise<{ real: string; identity: string; racy: boolean }> {
  const st = await opened.handle.stat({ bigint: true });
  const identity = [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':');
  const newest = Number((st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) / 1_000_000n);
  return { real: opened.real, identity, racy: now() - newest < RACY_MS };
}

/** The worker's memory of its local files (activities reach it through their dependencies). */
export const workerFileFacts = new LocalFileFacts();
