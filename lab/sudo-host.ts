// The lab host reached as a non-root user with sudo. Lab hosts share the machine's /etc,
// so the user exists only inside that host: its private mount namespace gets its own
// copies of /etc/passwd, /etc/group, /etc/shadow, /etc/sudoers and /etc/sudoers.d (files
// under the lab directory, bind-mounted by the host's init script), and the user's home
// is in the host's private /home. Nothing of it is visible on the machine.
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Inventory } from '../src/config/inventory';
import { findHost } from '../src/commands/layout';
import { renderSudoers } from '../src/commands/sudo';
import { run } from '../src/util/exec';

/** Bind-mounted over the machine's files inside the host; sources in <host dir>/etc. */
export const SUDO_HOST_FILES = [
  '/etc/passwd',
  '/etc/group',
  '/etc/shadow',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/hosts',
] as const;

export const etcCopy = (hostDir: string, file: (typeof SUDO_HOST_FILES)[number]) =>
  path.join(hostDir, 'etc', path.basename(file));

/** Inside the host: sudo's log (in its private /run, so the machine's syslog stays quiet). */
export const SUDO_LOG = '/run/api7-ha/sudo.log';

/** The host's /etc/sudoers: Debian's defaults without syslog and PAM sessions, then the drop-ins. */
export function renderMainSudoers(): string {
  return [
    '# A lab host with a non-root login: its own /etc/sudoers (bind-mounted; see lab/sudo-host.ts).',
    'Defaults env_reset',
    'Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
    `Defaults !syslog, !pam_session, logfile=${SUDO_LOG}, loglinelen=0`,
    'root ALL=(ALL:ALL) ALL',
    '@includedir /etc/sudoers.d',
    '',
  ].join('\n');
}

/** The first id from 2900 on that neither the machine's users nor its groups use. */
export function freeId(passwd: string, group: string): number {
  const used = new Set(
    [passwd, group].flatMap((t) =>
      t
        .split('\n')
        .map((l) => Number(l.split(':')[2]))
        .filter(Number.isInteger),
    ),
  );
  let id = 2900;
  while (used.has(id)) id++;
  return id;
}

/** Append a line to a copy of a machine file, keeping the original's mode and owner. */
function copyWith(source: string, target: string, line: string): void {
  const text = readFileSync(source, 'utf8');
  writeFileSync(target, `${text}${text.endsWith('\n') ? '' : '\n'}${line}\n`);
  const st = statSync(source);
  chownSync(target, st.uid, st.gid);
  chmodSync(target, st.mode & 0o7777);
}

/**
 * Write the host's user files, sudoers and home with the lab's public key. `inv` is the
 * lab inventory; the drop-in is exactly what `api7-ha hosts sudoers` prints for the host.
 */
export async function prepareSudoHost(opts: {
  hostName: string;
  user: string;
  hostDir: string;
  /** The host's private /home, as the machine sees it. */
  homes: string;
  clientPublicKey: string;
  inv: Inventory;
}): Promise<void> {
  const { user, hostDir } = opts;
  const home = path.join(opts.homes, user);
  for (const f of SUDO_HOST_FILES)
    if (!existsSync(f))
      throw new Error(
        `${opts.hostName} is reached as ${user} with sudo, but ${f} is missing: run scripts/setup.sh (Debian package sudo)`,
      );
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const group = readFileSync('/etc/group', 'utf8');
  const id = freeId(passwd, group);
  mkdirSync(path.join(hostDir, 'etc', 'sudoers.d'), { recursive: true, mode: 0o755 });
  chmodSync(path.join(hostDir, 'etc'), 0o700);
  copyWith(
    '/etc/passwd',
    etcCopy(hostDir, '/etc/passwd'),
    `${user}:x:${id}:${id}:api7-ha lab:/home/${user}:/bin/bash`,
  );
  copyWith('/etc/group', etcCopy(hostDir, '/etc/group'), `${user}:x:${id}:`);
  // `*`, not `!`: sshd without PAM refuses keys for a locked (`!`) account.
  copyWith('/etc/shadow', etcCopy(hostDir, '/etc/shadow'), `${user}:*:19000:0:99999:7:::`);

  // sudo looks up the host's own name; unresolved, each call waits for DNS to time out.
  copyWith('/etc/hosts', etcCopy(hostDir, '/etc/hosts'), `127.0.1.1 ${opts.hostName}`);

  const dropIn = path.join(etcCopy(hostDir, '/etc/sudoers.d'), 'api7-ha');
  writeFileSync(dropIn, renderSudoers(opts.inv, findHost(opts.inv, opts.hostName), user));
  chmodSync(dropIn, 0o440);
  const check = await run(['visudo', '-cf', dropIn], { allowFailure: true });
  if (check.code !== 0)
    throw new Error(
      `the lab's sudoers drop-in for ${opts.hostName} is invalid: ${check.stdout}${check.stderr}`,
    );
  writeFileSync(etcCopy(hostDir, '/etc/sudoers'), renderMainSudoers());
  chmodSync(etcCopy(hostDir, '/etc/sudoers'), 0o440);

  const sshDir = path.join(home, '.ssh');
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(sshDir, 'authorized_keys'), opts.clientPublicKey, { mode: 0o600 });
  for (const p of [home, sshDir, path.join(sshDir, 'authorized_keys')]) chownSync(p, id, id);
  chmodSync(home, 0o700);
}
