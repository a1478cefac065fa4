// One SSH connection per host per worker, shared by the activities that work on it at the
// same time and reused by the ones after them. A handshake costs more than most of the
// commands a redeploy runs, so a no-op redeploy that reconnects for each step spends
// most of its time logging in.
//
// A connection is reused only while it is exactly the one asked for: the pool key holds
// everything that defines it (address, port, user, key, pinned host key, the known_hosts
// contents, sudo, each jump host). A changed pinned key or known_hosts is a new key, so a
// new connection that checks the new key. A host key refused on connect retires every
// pooled connection to that address too. A connection is dropped when it breaks (its
// keepalive goes unanswered, the host closes it), when a user of it saw an error that may
// be the link's (SshPool.retire), and after it has been idle for `idleMs`.
import { createHash } from 'node:crypto';
import { readLocalTextIfExists } from '../config/local-files';
import {
  CHANNEL_LIMITS,
  HostKeyError,
  SshConnection,
  SshSession,
  type SshEndpoint,
  type SshTarget,
} from './session';

export interface SshPoolOptions {
  /** Close a connection nobody has used for this long (default 45 s). */
  idleMs?: number;
  /** Channels open at once per connection, exec and SFTP (default 8, below sshd's MaxSessions 10). */
  channels?: number;
  /** Of those, SFTP channels (default 4). */
  sftp?: number;
  /** How a connection is opened (tests replace it). */
  open?: (target: SshTarget) => Promise<SshConnection>;
}

export const POOL_DEFAULTS = { idleMs: 45_000, ...CHANNEL_LIMITS } as const;

interface Entry {
  key: string;
  /** address:port of the target and of each jump host, for retiring on a host key refusal. */
  endpoints: string[];
  connection: Promise<SshConnection>;
  /** The connection once open. */
  open?: SshConnection;
  users: number;
  idle?: NodeJS.Timeout;
  retired: boolean;
}

export interface SshPoolStats {
  /** Connections opened (handshakes done). */
  opened: number;
  /** Sessions served by a connection already open. */
  reused: number;
  /** Connections dropped because they broke or a user retired them. */
  dropped: number;
  /** Connections closed after being idle. */
  idleClosed: number;
}

const endpointOf = (e: Pick<SshEndpoint, 'address' | 'port'>) => `${e.address}:${e.port}`;

/** The contents of the known_hosts file an endpoint checks against ('' when there is none). */
function knownHostsText(e: SshEndpoint): string {
  return (
    (e.knownHostsFile && readLocalTextIfExists(e.knownHostsFile, 'ssh.knownHosts', 'knownHosts')) ||
    ''
  );
}

/**
 * Everything that defines a connection, hashed (the key material never sits in a map key).
 * known_hosts is read each time, so an edited file means a new connection.
 */
export function poolKey(t: SshTarget): string {
  const endpoint = (e: SshEndpoint) => [
    e.address,
    e.port,
    e.user,
    e.privateKey,
    e.pinnedHostKey ?? '',
    e.knownHostsFile ?? '',
    knownHostsText(e),
  ];
  const parts = [t.name, t.sudo, ...endpoint(t), t.jump.map(endpoint)];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export class SshPool {
  private readonly entries = new Map<string, Entry>();
  private readonly sessions = new WeakMap<SshSession, Entry>();
  private readonly idleMs: number;
  private readonly open: (target: SshTarget) => Promise<SshConnection>;
  private closing = false;
  readonly stats: SshPoolStats = { opened: 0, reused: 0, dropped: 0, idleClosed: 0 };

  constructor(opts: SshPoolOptions = {}) {
    this.idleMs = opts.idleMs ?? POOL_DEFAULTS.idleMs;
    const limits = {
      channels: opts.channels ?? POOL_DEFAULTS.channels,
      sftp: opts.sftp ?? POOL_DEFAULTS.sftp,
    };
    this.open = opts.open ?? ((t) => SshConnection.open(t, limits));
  }

  /** Connections open or opening now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * A session on the pooled connection to `target` (opened on first use). Close it when
   * done: that hands the connection back, it does not end it.
   */
  async session(target: SshTarget): Promise<SshSession> {
    if (this.closing) throw new Error('the SSH pool is closed (the worker is shutting down)');
    const key = poolKey(target);
    let entry = this.entries.get(key);
    if (entry) this.stats.reused++;
    else entry = this.connect(key, target);
    entry.users++;
    clearTimeout(entry.idle);
    let connection: SshConnection;
    try {
      connection = await entry.connection;
    } catch (e) {
      this.handBack(entry);
      throw e;
    }
    if (connection.lost) {
      // It broke since it was looked up (and has left the map): use a new one.
      this.handBack(entry);
      return this.session(target);
    }
    const used = entry;
    const session = new SshSession(connection, () => this.handBack(used), target);
    this.sessions.set(session, entry);
    return session;
  }

  private connect(key: string, target: SshTarget): Entry {
    const entry: Entry = {
      key,
      endpoints: [endpointOf(target), ...target.jump.map(endpointOf)],
      connection: this.open(target),
      users: 0,
      retired: false,
    };
    this.entries.set(key, entry);
    this.stats.opened++;
    entry.connection.then(
      (c) => {
        entry.open = c;
        c.onLost(() => this.drop(entry));
      },
      (e: unknown) => {
        this.forget(entry);
        // The host (or a hop) showed a key nobody vouched for: nothing pooled for that
        // address may be used again.
        if (e instanceof HostKeyError) {
          const refused = e.hopEndpoint ?? endpointOf(target);
          for (const other of [...this.entries.values()])
            if (other.endpoints.includes(refused)) this.retireEntry(other);
        }
      },
    );
    return entry;
  }

  private forget(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
  }

  /** The connection broke: forget it at once; its sessions have already failed. */
  private drop(entry: Entry): void {
    if (!entry.retired) this.stats.dropped++;
    entry.retired = true;
    clearTimeout(entry.idle);
    this.forget(entry);
    this.end(entry);
  }

  /** No new sessions on it; it ends when the last one using it is done. */
  private retireEntry(entry: Entry): void {
    if (entry.retired) return;
    entry.retired = true;
    this.stats.dropped++;
    this.forget(entry);
    if (entry.users === 0) this.end(entry);
  }

  /**
   * Stop reusing the connection `session` runs on (e.g. a step on it failed in a way that
   * may be the link's). Sessions using it now go on; it ends when they are done.
   */
  retire(session: SshSession): void {
    const entry = this.sessions.get(session);
    if (entry) this.retireEntry(entry);
  }

  private handBack(entry: Entry): void {
    entry.users--;
    if (entry.users > 0) return;
    if (entry.retired || this.closing) return this.end(entry);
    clearTimeout(entry.idle);
    entry.idle = setTimeout(() => {
      this.stats.idleClosed++;
      this.forget(entry);
      this.end(entry);
    }, this.idleMs);
    // An idle connection must not keep a finished process alive.
    entry.idle.unref();
  }

  private end(entry: Entry): void {
    clearTimeout(entry.idle);
    if (entry.open) entry.open.end();
    else
      entry.connection.then(
        (c) => c.end(),
        () => {},
      );
  }

  /** End every idle connection now, and each busy one when its last session is done. */
  close(): void {
    this.closing = true;
    for (const entry of [...this.entries.values()]) {
      this.forget(entry);
      entry.retired = true;
      if (entry.users === 0) this.end(entry);
    }
  }
}
