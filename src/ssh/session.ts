// SSH to one host with ssh2: pinned host keys, key auth, argv commands quoted for the
// remote shell, optional sudo, optionally through jump hosts (bastions). Errors say which
// host or hop failed and whether retrying can help.
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { quote } from 'shell-quote';
import { readLocalTextIfExists } from '../config/local-files';
import { randomBytes } from 'node:crypto';
import { batchArgv, batchMarker, parseBatch, type BatchCommand } from '../commands/batch';
import { checkHostKey, fingerprintOf, knownHostFingerprints } from './host-keys';

/** One SSH server to log in to: a host or a jump host. */
export interface SshEndpoint {
  /** Name from the inventory, used in messages. */
  name: string;
  address: string;
  port: number;
  user: string;
  privateKey: string;
  pinnedHostKey?: string;
  knownHostsFile?: string;
}

/** A jump host on the way to a target. */
export interface SshHop extends SshEndpoint {
  /** Inventory field that defines it (e.g. ssh.jump[0]), for the hint in a host key error. */
  field: string;
}

export interface SshTarget extends SshEndpoint {
  sudo: boolean;
  /** Jump hosts passed through in order, nearest first; empty for a direct connection. */
  jump: SshHop[];
}

/** How messages name a jump host. */
export const hopLabel = (hop: Pick<SshHop, 'name' | 'address' | 'port'>) =>
  `bastion ${hop.name} (${hop.address}:${hop.port})`;

/** The host offered a key nobody vouched for: never retried, the operator must act. */
export class HostKeyError extends Error {
  override name = 'HostKeyError';
  constructor(
    readonly host: string,
    readonly offered: string,
    readonly expected: string[],
    reason: 'unknown' | 'changed',
    /** Set when the key is a jump host's. */
    hop?: SshHop,
  ) {
    super(
      hop
        ? reason === 'changed'
          ? `${hopLabel(hop)}: host key changed: it offered ${offered} but ${expected.join(' or ')} was expected; if the jump host was reinstalled, confirm the new key with its owner, then pin it (${hop.field}.hostKey) or update known_hosts (\`api7-ha hosts trust\` shows both)`
          : `${hopLabel(hop)}: host key is unknown (it offered ${offered}); confirm it with the jump host's owner, then pin it (${hop.field}.hostKey) or record it with \`api7-ha hosts trust --write\``
        : reason === 'changed'
          ? `host key of ${host} changed: it offered ${offered} but ${expected.join(' or ')} was expected; if the host was reinstalled, confirm the new key with its owner, then pin it (hosts[].ssh.hostKey) or update known_hosts (\`api7-ha hosts trust\` shows both)`
          : `host key of ${host} is unknown (it offered ${offered}); confirm it with the host's owner, then pin it (hosts[].ssh.hostKey) or record it with \`api7-ha hosts trust --write\``,
    );
    // Only the address: the hop itself holds its private key, which must never be logged.
    this.hopEndpoint = hop && `${hop.address}:${hop.port}`;
  }

  /** address:port of the jump host whose key it was, if it was one. */
  readonly hopEndpoint?: string;
}

export class RemoteCommandError extends Error {
  override name = 'RemoteCommandError';
  constructor(
    readonly host: string,
    readonly command: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(
      `${host}: \`${command}\` exited ${code}${stderr.trim() ? `: ${stderr.trim().slice(-1500)}` : ''}`,
    );
  }
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Waiters for a bounded number of slots, served in order. */
class Slots {
  private used = 0;
  private readonly queue: Array<{ take: () => void; fail: (e: Error) => void }> = [];
  private broken?: Error;

  constructor(private readonly size: number) {}

  /** Resolves with the release function once a slot is free. */
  acquire(): Promise<() => void> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const take = () => {
        this.used++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.used--;
          this.queue.shift()?.take();
        });
      };
      if (this.used < this.size) take();
      else this.queue.push({ take, fail: reject });
    });
  }

  /** No more slots: every waiter, and every later caller, gets `e`. */
  break(e: Error): void {
    this.broken ??= e;
    for (const w of this.queue.splice(0)) w.fail(e);
  }
}

/**
 * sshd allows 10 sessions (channels) per connection by default (MaxSessions); staying
 * below leaves room for an operator's own. SFTP channels live as long as an upload, so
 * they get fewer slots: exec channels, which never wait for another, always find one.
 */
export const CHANNEL_LIMITS = { channels: 8, sftp: 4 } as const;

/**
 * One authenticated SSH connection (through its jump hosts), shared by the sessions that
 * use it. It counts its channels so that many sessions never exceed the host's limit.
 */
export class SshConnection {
  private lostError?: Error;
  private readonly lostListeners = new Set<(e: Error) => void>();
  private readonly channels: Slots;
  private readonly sftpChannels: Slots;

  private constructor(
    readonly target: SshTarget,
    private readonly client: Client,
    /** Connections to the jump hosts, nearest first; the target's traffic runs inside them. */
    private readonly hops: Client[],
    limits: { channels: number; sftp: number },
  ) {
    this.channels = new Slots(limits.channels);
    this.sftpChannels = new Slots(limits.sftp);
    const fail = (why: string) => {
      if (this.lostError) return;
      this.lostError = new Error(`${where(target)}: SSH connection lost: ${why}`);
      this.channels.break(this.lostError);
      this.sftpChannels.break(this.lostError);
      for (const l of this.lostListeners) l(this.lostError);
      this.lostListeners.clear();
    };
    client.on('error', (e) => fail(e.message));
    client.on('close', () => fail('closed by the host'));
    hops.forEach((hop, i) => {
      const label = hopLabel(target.jump[i]!);
      hop.on('error', (e) => fail(`${label}: ${e.message}`));
      hop.on('close', () => fail(`${label}: closed`));
    });
  }

  static async open(
    target: SshTarget,
    opts: { timeoutMs?: number; channels?: number; sftp?: number } = {},
  ): Promise<SshConnection> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const { hops, sock } = await openJumpChain(target, timeoutMs);
    try {
      const client = await login(target, where(target), timeoutMs, undefined, sock);
      return new SshConnection(target, client, hops, {
        channels: opts.channels ?? CHANNEL_LIMITS.channels,
        sftp: opts.sftp ?? CHANNEL_LIMITS.sftp,
      });
    } catch (e) {
      closeAll(hops);
      throw e;
    }
  }

  /** Why the connection is gone, once it is. */
  get lost(): Error | undefined {
    return this.lostError;
  }

  /** Called once when the connection drops (at once if it already has); returns the unsubscribe. */
  onLost(listener: (e: Error) => void): () => void {
    if (this.lostError) {
      listener(this.lostError);
      return () => {};
    }
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Open an exec channel once a slot is free; the slot is freed when the channel closes. */
  async exec(line: string): Promise<ClientChannel> {
    const release = await this.channels.acquire();
    return new Promise<ClientChannel>((resolve, reject) => {
      this.client.exec(line, (err, stream) => {
        if (err) {
          release();
          return reject(err);
        }
        stream.once('close', release);
        resolve(stream);
      });
    });
  }

  /** Open an SFTP channel (an SFTP slot and a channel slot), freed when it closes. */
  async sftp(): Promise<SFTPWrapper> {
    const releaseSftp = await this.sftpChannels.acquire();
    let releaseChannel: () => void;
    try {
      releaseChannel = await this.channels.acquire();
    } catch (e) {
      releaseSftp();
      throw e;
    }
    return new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((err, sftp) => {
        if (err) {
          releaseChannel();
          releaseSftp();
          return reject(err);
        }
        sftp.once('close', () => {
          releaseChannel();
          releaseSftp();
        });
        resolve(sftp);
      });
    });
  }

  end(): void {
    this.client.end();
    closeAll(this.hops);
  }
}

/**
 * What activities use to work on one host: run commands, open SFTP. Several sessions may
 * share one connection (src/ssh/pool.ts); each tracks its own channels, so aborting one
 * (a cancelled activity) closes only what it opened and leaves the others running.
 */
export class SshSession {
  /** Operations waiting on the connection; all fail at once if it drops or the session aborts. */
  private readonly pending = new Set<(e: Error) => void>();
  /** How to close each channel this session opened and has not seen closed. */
  private readonly open = new Set<() => void>();
  private stopped?: Error;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly connection: SshConnection,
    private readonly release: (s: SshSession) => void = () => connection.end(),
    /** The target as this session's user configured it (the connection's, unless pooled). */
    readonly target: SshTarget = connection.target,
  ) {
    this.unsubscribe = connection.onLost((e) => this.stop(e));
  }

  /** A session on a connection of its own, ended by close(). */
  static async connect(target: SshTarget, timeoutMs = 10_000): Promise<SshSession> {
    return new SshSession(await SshConnection.open(target, { timeoutMs }));
  }

  private stop(e: Error): void {
    this.stopped ??= e;
    for (const reject of this.pending) reject(this.stopped);
    this.pending.clear();
  }

  /** Run fn's promise, but reject it if the connection drops first (ssh2 may never call back). */
  private guarded<T>(
    start: (resolve: (v: T) => void, reject: (e: Error) => void) => void,
  ): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    return new Promise<T>((resolve, reject) => {
      const onLost = (e: Error) => reject(e);
      this.pending.add(onLost);
      start(
        (v) => {
          this.pending.delete(onLost);
          resolve(v);
        },
        (e) => {
          this.pending.delete(onLost);
          reject(e);
        },
      );
    });
  }

  /** Note a channel this session opened, until it closes; one opened after an abort is closed at once. */
  private track<C extends { once(ev: 'close', l: () => void): unknown }>(
    c: C,
    close: (c: C) => void,
  ): C {
    const closer = () => close(c);
    if (this.stopped) closer();
    else {
      this.open.add(closer);
      c.once('close', () => this.open.delete(closer));
    }
    return c;
  }

  /** The command line the remote shell receives for argv (quoted; sudo when configured). */
  commandLine(argv: readonly string[], opts: { privileged?: boolean } = {}): string {
    const full =
      opts.privileged !== false && this.target.sudo ? ['sudo', '-n', '--', ...argv] : [...argv];
    return quote(full);
  }

  /** Run argv; resolves with the exit code (no throw on non-zero). */
  execRaw(
    argv: readonly string[],
    opts: { stdin?: Buffer | string; privileged?: boolean } = {},
  ): Promise<ExecResult> {
    const line = this.commandLine(argv, opts);
    return this.guarded<ExecResult>((resolve, reject) => {
      this.connection.exec(line).then(
        (channel) => {
          const stream = this.track(channel, (c) => c.close());
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          stream.on('data', (d: Buffer) => out.push(d));
          stream.stderr.on('data', (d: Buffer) => errOut.push(d));
          stream.on('close', (code: number | null, signal?: string) =>
            resolve({
              stdout: Buffer.concat(out).toString('utf8'),
              stderr:
                Buffer.concat(errOut).toString('utf8') + (signal ? `\n(killed by ${signal})` : ''),
              code: code ?? 255,
            }),
          );
          if (opts.stdin !== undefined) stream.end(opts.stdin);
          else stream.end();
        },
        (err: Error) =>
          reject(new Error(`${this.target.name}: cannot start \`${line}\`: ${err.message}`)),
      );
    });
  }

  /** Run argv and return stdout; a non-zero exit throws RemoteCommandError. */
  async exec(
    argv: readonly string[],
    opts: { stdin?: Buffer | string; privileged?: boolean } = {},
  ): Promise<string> {
    const r = await this.execRaw(argv, opts);
    if (r.code !== 0)
      throw new RemoteCommandError(
        this.target.name,
        this.commandLine(argv, opts),
        r.code,
        r.stderr,
      );
    return r.stdout;
  }

  /**
   * Run several commands in one round trip (commands/batch.ts): each exactly as execRaw
   * would run it (its own sudo), one after another, with its own output and exit code.
   */
  async execBatch(commands: readonly BatchCommand[]): Promise<ExecResult[]> {
    if (!commands.length) return [];
    const marker = batchMarker(randomBytes(12).toString('hex'));
    const lines = commands.map((c) => ({
      line: this.commandLine(c.argv, c),
      onlyAfter: c.onlyAfter,
    }));
    const r = await this.execRaw(batchArgv(lines, marker), { privileged: false });
    try {
      return parseBatch(r.stdout, r.stderr, marker, lines.length);
    } catch (e) {
      throw new RemoteCommandError(
        this.target.name,
        `a batch of ${lines.length} commands`,
        r.code,
        `${(e as Error).message}\n${r.stderr}`,
      );
    }
  }

  sftp(): Promise<SFTPWrapper> {
    return this.guarded<SFTPWrapper>((resolve, reject) =>
      this.connection.sftp().then((s) => resolve(this.track(s, (c) => c.end())), reject),
    );
  }

  /** Make `p` (e.g. an SFTP transfer) fail as soon as the connection drops. */
  watch<T>(p: Promise<T>): Promise<T> {
    return this.guarded<T>((resolve, reject) => void p.then(resolve, reject));
  }

  /**
   * Stop this session only: what runs on it fails with `reason` and its channels close.
   * Other sessions on the same connection go on.
   */
  abort(reason: Error): void {
    this.stop(reason);
    for (const close of [...this.open]) close();
  }

  /** Done with it: its channels close, and its connection is ended or handed back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort(new Error(`${this.target.name}: the SSH session was closed`));
    this.unsubscribe();
    this.release(this);
  }
}

/** How messages name a target: "ha5 (10.213.0.15:22)", plus " via bastion1" behind jump hosts. */
function where(t: SshTarget): string {
  const via = t.jump.length ? ` via ${t.jump.map((h) => h.name).join(', ')}` : '';
  return `${t.name} (${t.address}:${t.port})${via}`;
}

function closeAll(clients: Client[]): void {
  for (const c of [...clients].reverse()) c.end();
}

/** The fingerprints known_hosts lists for an endpoint (a missing file lists none). */
function knownKeys(e: SshEndpoint): string[] {
  const text = e.knownHostsFile
    ? readLocalTextIfExists(e.knownHostsFile, 'ssh.knownHosts', 'knownHosts')
    : undefined;
  return text ? knownHostFingerprints(text, e.address, e.port) : [];
}

/**
 * One authenticated SSH connection whose host key was checked. `sock` is the way there
 * through a jump host; without it ssh2 opens a TCP connection itself.
 */
function login(
  e: SshEndpoint,
  label: string,
  timeoutMs: number,
  hop: SshHop | undefined,
  sock?: ClientChannel,
): Promise<Client> {
  const known = knownKeys(e);
  const client = new Client();
  let hostKeyError: HostKeyError | undefined;
  return new Promise((resolve, reject) => {
    // ssh2 may end a half-open handshake with only 'close' (no 'error'), and its ready
    // timer dies with the socket: guard both, so a host that vanishes mid-connect fails.
    const fail = (err: Error) => {
      clearTimeout(deadline);
      client.end();
      reject(hostKeyError ?? err);
    };
    const deadline = setTimeout(
      () => fail(new Error(`${label}: no SSH handshake within ${timeoutMs} ms`)),
      timeoutMs + 2000,
    );
    client.once('ready', () => {
      clearTimeout(deadline);
      resolve(client);
    });
    client.once('error', (err) => fail(new Error(`${label}: ${err.message}`)));
    client.once('close', () =>
      fail(new Error(`${label}: connection closed during the SSH handshake`)),
    );
    client.connect({
      ...(sock ? { sock } : { host: e.address, port: e.port }),
      username: e.user,
      privateKey: e.privateKey,
      readyTimeout: timeoutMs,
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        const offered = fingerprintOf(key);
        const verdict = checkHostKey(offered, e.pinnedHostKey, known);
        if (verdict.ok) return true;
        hostKeyError = new HostKeyError(e.name, offered, verdict.expected, verdict.reason, hop);
        return false;
      },
    });
  });
}

/** A TCP connection from the jump host `via` to address:port, as a stream. */
function forward(
  via: Client,
  hop: SshHop,
  to: { name: string; address: string; port: number },
  timeoutMs: number,
): Promise<ClientChannel> {
  const label = `${hopLabel(hop)}: cannot reach ${to.name} (${to.address}:${to.port}) through it`;
  return new Promise((resolve, reject) => {
    // The jump host's connection may drop before it answers; ssh2 then never calls back.
    const fail = (why: string) => {
      clearTimeout(deadline);
      via.removeListener('close', onClose);
      reject(new Error(`${label}: ${why}`));
    };
    const onClose = () => fail('its connection closed');
    const deadline = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    via.once('close', onClose);
    via.forwardOut('127.0.0.1', 0, to.address, to.port, (err, stream) => {
      clearTimeout(deadline);
      via.removeListener('close', onClose);
      if (err) reject(new Error(`${label}: ${err.message}`));
      else resolve(stream);
    });
  });
}

/**
 * Log in to each jump host of `target` in turn, each reached through the one before,
 * and open the last hop's connection to the target itself. Every hop's host key is
 * checked. Without jump hosts, nothing is opened.
 */
export async function openJumpChain(
  target: Pick<SshTarget, 'name' | 'address' | 'port' | 'jump'>,
  timeoutMs = 10_000,
): Promise<{ hops: Client[]; sock?: ClientChannel }> {
  const hops: Client[] = [];
  let sock: ClientChannel | undefined;
  try {
    for (const [i, hop] of target.jump.entries()) {
      hops.push(await login(hop, hopLabel(hop), timeoutMs, hop, sock));
      sock = await forward(hops[i]!, hop, target.jump[i + 1] ?? target, timeoutMs);
    }
    return { hops, sock };
  } catch (e) {
    closeAll(hops);
    throw e;
  }
}
