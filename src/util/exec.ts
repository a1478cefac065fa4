// Running local programs with argv arrays (never a shell string).
import { execFile, spawn, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    super(
      `${argv.join(' ')} exited ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 2000)}`,
    );
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('run: empty argv');
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        env: opts.env,
        cwd: opts.cwd,
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        const result = { stdout, stderr, code };
        if (code !== 0 && !opts.allowFailure) reject(new CommandError(argv, result));
        else resolve(result);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Start a long-lived process that outlives this one (its own session, output to a file). */
export function spawnDetached(
  argv: readonly string[],
  logFd: number,
  opts: SpawnOptions = {},
): number {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('spawnDetached: empty argv');
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', logFd, logFd] });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until check() returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  // The last error, or the last falsy answer: whichever explains the wait best.
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail =
        last instanceof Error
          ? `: ${last.message}`
          : last === undefined
            ? ''
            : ` (last answer: ${JSON.stringify(last)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** The pid in a pid file, if that process is still alive. */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A process's command line, arguments joined by spaces ('' once it is gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The pid in a pid file, only if that process's command line still matches (pids get reused). */
export function readOwnPid(file: string, command: RegExp): number | undefined {
  const pid = readPidFile(file);
  return pid !== undefined && command.test(commandLine(pid)) ? pid : undefined;
}

/**
 * Stop a process: `signal`, then SIGKILL if it still runs after graceMs. `ours` is asked
 * again while waiting, since a pid that is gone can be reused. False when there was
 * nothing (of ours) to stop.
 */
export async function terminate(
  pid: number,
  opts: { graceMs: number; signal?: NodeJS.Signals; ours?: () => boolean },
): Promise<boolean> {
  const running = () => isAlive(pid) && (opts.ours?.() ?? true);
  if (!running()) return false;
  try {
    process.kill(pid, opts.signal ?? 'SIGTERM');
  } catch {
    return false; // gone meanwhile
  }
  const deadline = Date.now() + opts.graceMs;
  while (running() && Date.now() < deadline) await sleep(100);
  try {
    if (running()) process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  return true;
}
