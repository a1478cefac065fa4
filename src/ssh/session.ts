// SSH to one host with ssh2: pinned host keys, key auth, argv commands quoted for the
// remote shell, optional sudo. Errors say which host and whether retrying can help.
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { quote } from 'shell-quote';
import { readLocalTextIfExists } from '../config/local-files';
import { checkHostKey, fingerprintOf, knownHostFingerprints } from './host-keys';

export interface SshTarget {
  /** Host name from the inventory, used in messages. */
  name: string;
  address: string;
  port: number;
  user: string;
  privateKey: string;
  pinnedHostKey?: string;
  knownHostsFile?: string;
  sudo: boolean;
}

/** The host offered a key nobody vouched for: never retried, the operator must act. */
export class HostKeyError extends Error {
  override name = 'HostKeyError';
  constructor(
    readonly host: string,
    readonly offered: string,
    readonly expected: string[],
    reason: 'unknown' | 'changed',
  ) {
    super(
      reason === 'changed'
        ? `host key of ${host} changed: it offered ${offered} but ${expected.join(' or ')} was expected; if the host was reinstalled, confirm the new key with its owner, then pin it (hosts[].ssh.hostKey) or update known_hosts (\`api7-ha hosts trust\` shows both)`
        : `host key of ${host} is unknown (it offered ${offered}); confirm it with the host's owner, then pin it (hosts[].ssh.hostKey) or record it with \`api7-ha hosts trust --write\``,
    );
  }
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

export class SshSession {
  /** Operations waiting on the connection; all fail at once if it drops. */
  private readonly pending = new Set<(e: Error) => void>();
  private lost?: Error;

  private constructor(
    readonly target: SshTarget,
    private readonly client: Client,
  ) {
    const fail = (why: string) => {
      this.lost ??= new Error(`${target.name} (${target.address}): SSH connection lost: ${why}`);
      for (const reject of this.pending) reject(this.lost);
      this.pending.clear();
    };
    client.on('error', (e) => fail(e.message));
    client.on('close', () => fail('closed by the host'));
  }

  /** Run fn's promise, but reject it if the connection drops first (ssh2 may never call back). */
  private guarded<T>(
    start: (resolve: (v: T) => void, reject: (e: Error) => void) => void,
  ): Promise<T> {
    if (this.lost) return Promise.reject(this.lost);
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

  static connect(target: SshTarget, timeoutMs = 10_000): Promise<SshSession> {
    const knownHosts = target.knownHostsFile
      ? readLocalTextIfExists(target.knownHostsFile, 'ssh.knownHosts', 'knownHosts')
      : undefined;
    const known = knownHosts ? knownHostFingerprints(knownHosts, target.address, target.port) : [];
    const client = new Client();
    let hostKeyError: HostKeyError | undefined;
    return new Promise((resolve, reject) => {
      const where = `${target.name} (${target.address}:${target.port})`;
      // ssh2 may end a half-open handshake with only 'close' (no 'error'), and its ready
      // timer dies with the socket: guard both, so a host that vanishes mid-connect fails.
      const fail = (e: Error) => {
        clearTimeout(deadline);
        client.end();
        reject(hostKeyError ?? e);
      };
      const deadline = setTimeout(
        () => fail(new Error(`${where}: no SSH handshake within ${timeoutMs} ms`)),
        timeoutMs + 2000,
      );
      client.once('ready', () => {
        clearTimeout(deadline);
        resolve(new SshSession(target, client));
      });
      client.once('error', (err) => fail(new Error(`${where}: ${err.message}`)));
      client.once('close', () =>
        fail(new Error(`${where}: connection closed during the SSH handshake`)),
      );
      client.connect({
        host: target.address,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        readyTimeout: timeoutMs,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          const offered = fingerprintOf(key);
          const verdict = checkHostKey(offered, target.pinnedHostKey, known);
          if (verdict.ok) return true;
          hostKeyError = new HostKeyError(target.name, offered, verdict.expected, verdict.reason);
          return false;
        },
      });
    });
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
      this.client.exec(line, (err, stream: ClientChannel) => {
        if (err)
          return reject(new Error(`${this.target.name}: cannot start \`${line}\`: ${err.message}`));
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
      });
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

  sftp(): Promise<SFTPWrapper> {
    return this.guarded<SFTPWrapper>((resolve, reject) =>
      this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))),
    );
  }

  /** Make `p` (e.g. an SFTP transfer) fail as soon as the connection drops. */
  watch<T>(p: Promise<T>): Promise<T> {
    return this.guarded<T>((resolve, reject) => void p.then(resolve, reject));
  }

  close(): void {
    this.client.end();
  }
}
