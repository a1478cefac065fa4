// Background processes the CLI starts for the user (embedded server, worker), with pid
// and log files under .data so `status`/`stop` find them again.
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dataDir } from '../paths';
import { readPidFile, spawnDetached, terminate } from './exec';

export const daemonFiles = (name: string) => ({
  pid: path.join(dataDir, 'run', `${name}.pid`),
  log: path.join(dataDir, 'logs', `${name}.log`),
});

export function daemonPid(name: string): number | undefined {
  return readPidFile(daemonFiles(name).pid);
}

export function startDaemon(name: string, argv: string[], env?: NodeJS.ProcessEnv): number {
  const files = daemonFiles(name);
  mkdirSync(path.dirname(files.pid), { recursive: true });
  mkdirSync(path.dirname(files.log), { recursive: true });
  const fd = openSync(files.log, 'a');
  try {
    const pid = spawnDetached(argv, fd, { env: env ?? process.env });
    writeFileSync(files.pid, `${pid}\n`);
    return pid;
  } finally {
    closeSync(fd);
  }
}

export async function stopDaemon(
  name: string,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 15_000,
): Promise<boolean> {
  const pid = daemonPid(name);
  if (pid === undefined) return false;
  await terminate(pid, { signal, graceMs: timeoutMs });
  rmSync(daemonFiles(name).pid, { force: true });
  return true;
}
