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
import type { BatchCommand } from '../commands/batch';
import { RemoteCommandError, type ExecResult, type SshSession } from '../ssh/session';
import { secret, type DeployInput } from './context';

/**
 * Check the answer of a guarded file command (commands/files.ts). A refusal (a link
 * planted in the directory, a file that is not regular) is never retried: nothing was
 * written, and the operator must look at the host.
 */
function guardChecked(ssh: SshSession, r: ExecResult): ExecResult {
  if (r.code === GUARD_REFUSED)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${r.stderr.trim().replace(/^api7-ha: /, '')}; nothing was written — look at what put it there, remove it, then deploy again`,
      'UnsafeHostPath',
    );
  return r;
}

async function guardedExec(ssh: SshSession, argv: string[], stdin?: string | Buffer) {
  return guardChecked(ssh, await ssh.execRaw(argv, stdin === undefined ? {} : { stdin }));
}

/** A guarded read's content, or undefined when the file is missing. */
function readContent(ssh: SshSession, file: string, r: ExecResult): string | undefined {
  guardChecked(ssh, r);
  if (r.code === 1 && !r.stderr.trim()) return undefined;
  if (r.code !== 0) throw new RemoteCommandError(ssh.target.name, `read ${file}`, r.code, r.stderr);
  if (Buffer.byteLength(r.stdout) >= GUARDED_READ_MAX)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${file} is larger than ${GUARDED_READ_MAX} bytes; that is no config file api7-ha wrote or the vendor ships`,
      'UnsafeHostPath',
    );
  return r.stdout;
}

/** A file's content inside `dir`, or undefined when it is missing. */
export async function readGuarded(
  ssh: SshSession,
  dir: string,
  file: string,
): Promise<string | undefined> {
  return (await readGuardedMany(ssh, [{ dir, file }]))[0];
}

/** Several files' contents (undefined when missing), read in one round trip. */
export async function readGuardedMany(
  ssh: SshSession,
  files: ReadonlyArray<{ dir: string; file: string }>,
): Promise<Array<string | undefined>> {
  const results = await ssh.execBatch(files.map((f) => ({ argv: guardedReadArgv(f.dir, f.file) })));
  return results.map((r, i) => readContent(ssh, files[i]!.file, r));
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
 * Put files inside their directories whose content is known here, in one round trip when
 * they are all in place. Compared by sha256 so a private key never travels back from the
 * host; a file already right only gets its mode (set right after the guarded check, which
 * refuses links). `before` runs first in the same round trip (e.g. making the directories).
 * The names of the files written.
 */
export async function putFiles(
  ssh: SshSession,
  files: ReadonlyArray<{ dir: string; file: string; content: Buffer; mode: string }>,
  before: BatchCommand[] = [],
  beforeWrite?: BeforeWrite,
): Promise<string[]> {
  const at = before.length;
  const results = await ssh.execBatch([
    ...before,
    ...files.flatMap((f, i) => [
      { argv: guardedSha256Argv(f.dir, f.file) },
      { argv: chmodArgv(f.mode, f.file), onlyAfter: at + 2 * i },
    ]),
  ]);
  results.slice(0, at).forEach((r, i) => {
    if (r.code !== 0)
      throw new RemoteCommandError(
        ssh.target.name,
        ssh.commandLine(before[i]!.argv, before[i]!),
        r.code,
        r.stderr,
      );
  });
  const written: string[] = [];
  for (const [i, f] of files.entries()) {
    const have = guardChecked(ssh, results[at + 2 * i]!);
    const chmod = results[at + 2 * i + 1]!;
    const want = createHash('sha256').update(f.content).digest('hex');
    if (have.code === 0 && have.stdout.split(' ')[0] === want) {
      if (chmod.code !== 0)
        throw new RemoteCommandError(
          ssh.target.name,
          ssh.commandLine(chmodArgv(f.mode, f.file)),
          chmod.code,
          chmod.stderr,
        );
      continue;
    }
    await beforeWrite?.();
    await writeGuarded(ssh, f.dir, f.file, f.content, f.mode);
    written.push(f.file);
  }
  return written;
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
  const written = await putFiles(
    ssh,
    files.map((f) => ({
      dir: f.root,
      file: f.remote,
      content: readTlsFile(input, f),
      mode: f.secret ? '600' : '644',
    })),
    [{ argv: makePrivateDirsArgv(dirs) }],
    beforeWrite,
  );
  return written.length > 0;
}
