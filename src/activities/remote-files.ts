// Files api7-ha writes on hosts: config files edited in place, and TLS material copied
// from the operator's machine. Written only when the content differs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { localFile } from '../config/secrets';
import type { TlsFile } from '../commands/etcd-tls';
import { checksumArgv } from '../commands/staging';
import { chmodArgv, makePrivateDirsArgv, readFileArgv, writeFileArgv } from '../commands/files';
import type { SshSession } from '../ssh/session';
import { secret, type DeployInput } from './context';

/** Write stdin to a file with umask 077, then set its mode (works through sudo too). */
async function writeFile(ssh: SshSession, file: string, content: string | Buffer, mode: string) {
  await ssh.exec(writeFileArgv(file, mode), { stdin: content });
}

/** Rewrite a config file from its current content; write only when it differs. True when written. */
export async function syncFile(
  ssh: SshSession,
  file: string,
  render: (current: string) => string,
  mode = '600',
): Promise<boolean> {
  const current = await ssh.execRaw(readFileArgv(file));
  const content = render(current.code === 0 ? current.stdout : '');
  if (current.code === 0 && current.stdout === content) return false;
  await writeFile(ssh, file, content, mode);
  return true;
}

/**
 * Put a file whose content is known here. Compared by sha256 so a private key never
 * travels back from the host. True when written.
 */
export async function putFile(
  ssh: SshSession,
  file: string,
  content: Buffer,
  mode: string,
): Promise<boolean> {
  const want = createHash('sha256').update(content).digest('hex');
  const have = await ssh.execRaw(checksumArgv(file));
  if (have.code === 0 && have.stdout.split(' ')[0] === want) {
    await ssh.exec(chmodArgv(mode, file));
    return false;
  }
  await writeFile(ssh, file, content, mode);
  return true;
}

/** The content of a TLS file from the operator's machine (keys through their secret reference). */
export function readTlsFile(input: DeployInput, f: TlsFile): Buffer {
  if (f.secret) return Buffer.from(`${secret(input, f.source, f.field)}\n`);
  const file = localFile(f.source, input.baseDir);
  try {
    return readFileSync(file);
  } catch (e) {
    throw ApplicationFailure.nonRetryable(
      `${f.field}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      'InventoryError',
    );
  }
}

/** Copy TLS files into place (keys 0600, certificates 0644); true when any changed. */
export async function putTlsFiles(
  ssh: SshSession,
  input: DeployInput,
  files: TlsFile[],
): Promise<boolean> {
  if (!files.length) return false;
  const dirs = [...new Set(files.map((f) => f.remote.slice(0, f.remote.lastIndexOf('/'))))];
  await ssh.exec(makePrivateDirsArgv(dirs));
  let changed = false;
  for (const f of files)
    if (await putFile(ssh, f.remote, readTlsFile(input, f), f.secret ? '600' : '644'))
      changed = true;
  return changed;
}
