// One lab host = a network namespace + a private mount (and UTS) namespace in which its
// own dockerd runs and its own sshd is the main process. See docs/lab.md, "How a host is made".
import {
  copyFileSync,
  existsSync,
  realpathSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import path from 'node:path';
import { quote } from 'shell-quote';
import { isAlive, readOwnPid, readPidFile, run, sleep, spawnDetached } from '../src/util/exec';
import type { Inventory } from '../src/config/inventory';
import { PRIVATE_DIRS, type LabHost } from './layout';
import { netnsPids } from './network';
import { etcCopy, prepareSudoHost, SUDO_HOST_FILES } from './sudo-host';

export interface HostPaths {
  dir: string;
  fs: (mountPoint: string) => string;
  hostKey: string;
  /** Files sshd and dockerd use after the private mounts: kept in the host's own /run. */
  runDir: string;
  sshdConfig: string;
  initScript: string;
  initLog: string;
  dockerdLog: string;
  /** sshd's pid file, written inside the host's private /run. */
  sshdPid: string;
  dockerPid: string;
}

export function hostPaths(labDir: string, host: LabHost): HostPaths {
  const dir = path.join(labDir, 'hosts', host.name);
  const fs = (mountPoint: string) =>
    path.join(dir, 'fs', mountPoint.replace(/^\//, '').replaceAll('/', '_'));
  return {
    dir,
    fs,
    hostKey: path.join(dir, 'ssh_host_ed25519_key'),
    runDir: path.join(fs('/run'), 'api7-ha'),
    sshdConfig: path.join(fs('/run'), 'api7-ha', 'sshd_config'),
    initScript: path.join(dir, 'init.sh'),
    initLog: path.join(dir, 'init.log'),
    dockerdLog: path.join(fs('/run'), 'api7-ha', 'dockerd.log'),
    sshdPid: path.join(fs('/run'), 'sshd.pid'),
    dockerPid: path.join(fs('/run'), 'docker.pid'),
  };
}

/**
 * Inside a host, the lab directory may be hidden by a private mount (a checkout under
 * /root or /tmp is), so what sshd and dockerd read or write later lives in its /run.
 */
const INSIDE_RUN = '/run/api7-ha';

export function renderSshdConfig(host: LabHost): string {
  return [
    `ListenAddress ${host.address}`,
    'Port 22',
    `HostKey ${INSIDE_RUN}/ssh_host_ed25519_key`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PidFile /run/sshd.pid',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'Subsystem sftp internal-sftp',
    // Deploys open many sessions at once (parallel phases, SFTP beside exec).
    'MaxSessions 64',
    'MaxStartups 64:30:128',
    'ClientAliveInterval 15',
    // The bastion forwards api7-ha's connections to the hosts behind it (OpenSSH's default, said aloud).
    ...(host.sshOnly ? ['AllowTcpForwarding yes'] : []),
    '',
  ].join('\n');
}

/** Runs inside the host's fresh namespaces: private mounts, then dockerd, then sshd. */
export function renderInitScript(host: LabHost, p: HostPaths): string {
  const lines = ['#!/bin/bash', 'set -eu', `hostname ${quote([host.name])}`];
  // A host with a non-root login has its own user files and sudoers (lab/sudo-host.ts).
  if (host.sudoUser)
    for (const f of SUDO_HOST_FILES)
      lines.push(`mount -n --bind ${quote([etcCopy(p.dir, f)])} ${quote([f])}`);
  // A private directory that holds the lab directory is mounted last, so every mount
  // source is still reachable when it is mounted.
  const real = realpathSync(p.dir);
  const covers = (d: string) => real === d || real.startsWith(`${d}/`);
  const ordered = [...PRIVATE_DIRS.filter((d) => !covers(d)), ...PRIVATE_DIRS.filter(covers)];
  for (const dir of ordered) lines.push(`mount -n --bind ${quote([p.fs(dir)])} ${quote([dir])}`);
  lines.push('mkdir -p /run/sshd');
  if (!host.sshOnly)
    lines.push(`dockerd --pidfile /run/docker.pid >>${INSIDE_RUN}/dockerd.log 2>&1 &`);
  lines.push(`exec /usr/sbin/sshd -D -e -f ${INSIDE_RUN}/sshd_config`, '');
  return lines.join('\n');
}

/** `inv` is the lab inventory (the host with a non-root login gets its sudo rules from it). */
export async function prepareHostFiles(
  host: LabHost,
  p: HostPaths,
  clientPublicKey: string,
  inv: Inventory,
): Promise<void> {
  for (const dir of PRIVATE_DIRS) mkdirSync(p.fs(dir), { recursive: true, mode: 0o755 });
  chmodSync(p.fs('/root'), 0o700);
  chmodSync(p.fs('/tmp'), 0o1777);
  const sshDir = path.join(p.fs('/root'), '.ssh');
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(sshDir, 'authorized_keys'), clientPublicKey, { mode: 0o600 });
  if (host.sudoUser)
    await prepareSudoHost({
      hostName: host.name,
      user: host.sudoUser,
      hostDir: p.dir,
      homes: p.fs('/home'),
      clientPublicKey,
      inv,
    });
  if (!existsSync(p.hostKey))
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', host.name, '-f', p.hostKey]);
  mkdirSync(p.runDir, { recursive: true, mode: 0o700 });
  copyFileSync(p.hostKey, path.join(p.runDir, 'ssh_host_ed25519_key'));
  chmodSync(path.join(p.runDir, 'ssh_host_ed25519_key'), 0o600);
  writeFileSync(p.sshdConfig, renderSshdConfig(host));
  writeFileSync(p.initScript, renderInitScript(host, p), { mode: 0o755 });
}

export function hostPublicKey(p: HostPaths): string {
  return readFileSync(`${p.hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
}

export function sshdPid(p: HostPaths): number | undefined {
  return readPidFile(p.sshdPid);
}

export function startHost(host: LabHost, p: HostPaths): number {
  const log = openSync(p.initLog, 'a');
  try {
    // nsenter --net (not `ip netns exec`, which remounts /sys and breaks dockerd's cgroups).
    return spawnDetached(
      [
        'nsenter',
        `--net=/var/run/netns/${host.netns}`,
        'unshare',
        '--mount',
        '--uts',
        '--propagation',
        'private',
        '/bin/bash',
        p.initScript,
      ],
      log,
    );
  } finally {
    closeSync(log);
  }
}

/** Run a command inside a running host's namespaces, without SSH (lab plumbing only). */
export function inHost(pid: number, argv: string[]): string[] {
  return ['nsenter', '-t', String(pid), '-m', '-n', '-u', '--', ...argv];
}

export async function stopHost(host: LabHost, p: HostPaths): Promise<void> {
  const pid = host.sshOnly ? undefined : sshdPid(p);
  if (pid !== undefined) {
    // Containers live in namespaces of their own; remove them through their engine first.
    const ids = await run(inHost(pid, ['docker', 'ps', '-aq']), {
      allowFailure: true,
      timeoutMs: 20_000,
    });
    const list = ids.code === 0 ? ids.stdout.split(/\s+/).filter(Boolean) : [];
    if (list.length)
      await run(inHost(pid, ['docker', 'rm', '-f', ...list]), {
        allowFailure: true,
        timeoutMs: 60_000,
      });
  }
  const dockerd = readOwnPid(p.dockerPid, /^dockerd /);
  if (dockerd !== undefined) {
    process.kill(dockerd, 'SIGTERM');
    for (let i = 0; i < 40 && isAlive(dockerd); i++) await sleep(250);
  }
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const pids = await netnsPids(host);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    }
    for (let i = 0; i < 20 && (await netnsPids(host)).length; i++) await sleep(250);
  }
}

/** sshd processes of a host: the listener and every session it forked. */
async function sshdProcesses(host: LabHost): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await netnsPids(host)) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd') out.push(pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Stop a host's sshd (listener and sessions) while its Docker engine keeps running. */
export async function stopSshd(host: LabHost): Promise<void> {
  for (const pid of await sshdProcesses(host)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Start sshd again inside the host's namespaces (entered through its dockerd). On the
 * bastion sshd was the only process, so its namespaces went with it: start it afresh.
 */
export function startSshd(host: LabHost, p: HostPaths): number {
  if (host.sshOnly) return startHost(host, p);
  const dockerd = readPidFile(p.dockerPid);
  if (dockerd === undefined)
    throw new Error(`${host.name}: dockerd is not running; the host is gone`);
  const log = openSync(p.initLog, 'a');
  try {
    return spawnDetached(
      inHost(dockerd, ['/usr/sbin/sshd', '-D', '-e', '-f', `${INSIDE_RUN}/sshd_config`]),
      log,
    );
  } finally {
    closeSync(log);
  }
}
