// The sha256s of staged artifacts on the hosts, remembered per worker by the remote file's
// identity, so a redeploy does not make every host read its 40 MiB bundles again. Like
// config/file-facts.ts for local files: the identity is device, inode, size, mtime and
// ctime in nanoseconds, read by `stat` (which never follows a link). Any write changes
// mtime and ctime and only the kernel sets ctime, so a changed file is read again; a
// worker restart forgets everything. A file changed in the last moments (by the host's
// clock) is not remembered, and neither is one whose identity moved while it was hashed.
// A file api7-ha has just put in place itself is remembered at once: it knows the bytes,
// and only root can write the staging directory.

/** One line: device, inode, size, mtime, ctime, type (pure builder; runs as the SSH user). */
export const fileIdentityArgv = (file: string) => ['stat', '-c', '%d %i %s %.9Y %.9Z %F', file];

/** The host's clock, to tell a racily fresh file. */
export const remoteClockArgv = ['date', '+%s.%N'];

/** Files changed less than this long ago (seconds, host clock) are hashed but not remembered. */
export const RACY_SECONDS = 2;

export interface RemoteIdentity {
  /** The whole stat line, compared as is. */
  line: string;
  ctime: number;
}

/** A regular file's identity from fileIdentityArgv's output; undefined for anything else. */
export function parseIdentity(stdout: string): RemoteIdentity | undefined {
  const line = stdout.trim();
  const m = /^(\d+) (\d+) (\d+) (\d+\.\d+) (\d+\.\d+) regular( empty)? file$/.exec(line);
  return m ? { line, ctime: Number(m[5]) } : undefined;
}

/** Which host a fact is about: the login target as api7-ha reaches it. */
export interface RemoteHost {
  name: string;
  address: string;
  port: number;
  user: string;
}

export interface RemoteFileFactsStats {
  remembered: number;
  recorded: number;
}

export class RemoteFileFacts {
  private readonly known = new Map<string, { identity: string; sha256: string }>();
  readonly stats: RemoteFileFactsStats = { remembered: 0, recorded: 0 };

  private key = (host: RemoteHost, file: string) =>
    JSON.stringify([host.name, host.address, host.port, host.user, file]);

  /** The sha256 known for the file with exactly this identity. */
  sha256(host: RemoteHost, file: string, identity: RemoteIdentity | undefined): string | undefined {
    if (!identity) return undefined;
    const k = this.known.get(this.key(host, file));
    if (k?.identity !== identity.line) return undefined;
    this.stats.remembered++;
    return k.sha256;
  }

  /**
   * Remember `sha256` for the file, read between the two identities (unequal: the file
   * moved while it was read) on a host whose clock said `hostNow` after the second;
   * `hostNow` undefined: api7-ha put the file there itself.
   */
  remember(
    host: RemoteHost,
    file: string,
    before: RemoteIdentity | undefined,
    after: RemoteIdentity | undefined,
    sha256: string,
    hostNow?: number,
  ): void {
    const k = this.key(host, file);
    const racy = hostNow !== undefined && hostNow - (after?.ctime ?? 0) < RACY_SECONDS;
    if (!before || !after || before.line !== after.line || racy) {
      this.known.delete(k);
      return;
    }
    this.known.set(k, { identity: after.line, sha256 });
    this.stats.recorded++;
  }

  forget(host: RemoteHost, file: string): void {
    this.known.delete(this.key(host, file));
  }
}

export const workerRemoteFileFacts = new RemoteFileFacts();
