// Files api7-ha writes on hosts: config files edited in place, and TLS material copied
// from the operator's machine. Written only when the content differs.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { LocalFileError, readLocalFile } from '../config/local-files';
import { localFile } from '../config/secrets';
import type { TlsFile } from '../commands/etcd-tls';
import {
  chmodArgv,
  GUARD_REFUSED,
  GUARDED_READ_MAX,
  guardedReadArgv,
  guardedSha256Argv,
  guardedWriteArgv,
  makePrivateDirsArgv,
} from '../commands/files';
import { RemoteCommandError, type SshSession } from '../ssh/session';
import { secret, type DeployInput } from './context';

/**
 * Run a guarded file command (commands/files.ts). A refusal (a link planted in the
 * directory, a file that is not regular) is never retried: nothing was written, and the
 * operator must look at the host.
 */
async function guardedExec(ssh: SshSession, argv: string[], stdin?: string | Buffer) {
  const r = await ssh.execRaw(argv, stdin === undefined ? {} : { stdin });
  if (r.code === GUARD_REFUSED)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${r.stderr.trim().replace(/^api7-ha: /, '')}; nothing was written — look at what put it there, remove it, then deploy again`,
      'UnsafeHostPath',
    );
  return r;
}

/** A file's content inside `dir`, or undefined when it is missing. */
export async function readGuarded(
  ssh: SshSession,
  dir: string,
  file: string,
): Promise<string | undefined> {
  const r = await guardedExec(ssh, guardedReadArgv(dir, file));
  if (r.code === 1 && !r.stderr.trim()) return undefined;
  if (r.code !== 0) throw new RemoteCommandError(ssh.target.name, `read ${file}`, r.code, r.stderr);
  if (Buffer.byteLength(r.stdout) >= GUARDED_READ_MAX)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${file} is larger than ${GUARDED_READ_MAX} bytes; that is no config file api7-ha wrote or the vendor ships`,
      'UnsafeHostPath',
    );
  return r.stdout;
}

/** Write a file inside `dir` (never through a link), then set its mode. */
export async function writeGuarded(
  ssh: SshSession,
  dir: string,
  file: string,
  content: string | Buffer,
  mode: string,
): Promise<void> {
  const r = await guardedExec(ssh, guardedWriteArgv(dir, file, mode), content);
  if (r.code !== 0)
    throw new RemoteCommandError(ssh.target.name, `write ${file}`, r.code, r.stderr);
}

/** Called once before the first write of a step, so the step can note that it changes things. */
export type BeforeWrite = () => Promise<void>;

/** Rewrite a config file inside `dir` from its current content; write only when it differs. True when written. */
export async function syncFile(
  ssh: SshSession,
  dir: string,
  file: string,
  render: (current: string) => string,
  mode = '600',
  beforeWrite?: BeforeWrite,
): Promise<boolean> {
  const current = await readGuarded(ssh, dir, file);
  const content = render(current ?? '');
  if (current === content) return false;
  await beforeWrite?.();
  await writeGuarded(ssh, dir, file, content, mode);
  return true;
}

/**
 * Put a file inside `dir` whose content is known here. Compared by sha256 so a private
 * key never travels back from the host. True when written.
 */
export async function putFile(
  ssh: SshSession,
  dir: string,
  file: string,
  content: Buffer,
  mode: string,
  beforeWrite?: BeforeWrite,
): Promise<boolean> {
  const want = createHash('sha256').update(content).digest('hex');
  const have = await guardedExec(ssh, guardedSha256Argv(dir, file));
  if (have.code === 0 && have.stdout.split(' ')[0] === want) {
    await ssh.exec(chmodArgv(mode, file));
    return false;
  }
  await beforeWrite?.();
  await writeGuarded(ssh, dir, file, content, mode);
  return true;
}

/** The content of a TLS file from the operator's machine (keys through their secret reference). */
export function readTlsFile(input: DeployInput, f: TlsFile): Buffer {
  if (f.secret) return Buffer.from(`${secret(input, f.source, f.field)}\n`);
  const file = localFile(f.source, input.baseDir);
  try {
    return readLocalFile(file, f.field, 'certificate');
  } catch (e) {
    throw ApplicationFailure.nonRetryable(
      e instanceof LocalFileError ? e.message : `${f.field}: cannot read ${file}`,
      'InventoryError',
    );
  }
}

/** Copy TLS files into place (keys 0600, certificates 0644); true when any changed. */
export async function putTlsFiles(
  ssh: SshSession,
  input: DeployInput,
  files: TlsFile[],
  beforeWrite?: BeforeWrite,
): Promise<boolean> {
  if (!files.length) return false;
  const dirs = [...new Set(files.map((f) => f.remote.slice(0, f.remote.lastIndexOf('/'))))];
  await ssh.exec(makePrivateDirsArgv(dirs));
  let changed = false;
  for (const f of files) {
    const content = readTlsFile(input, f);
    if (await putFile(ssh, f.root, f.remote, content, f.secret ? '600' : '644', beforeWrite))
      changed = true;
  }
  return changed;
}
