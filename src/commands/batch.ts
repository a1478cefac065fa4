// Several commands in one SSH round trip (pure). The script runs as the SSH user and runs
// each command line in turn, exactly as it would run alone: a privileged one through its
// own `sudo -n --`, so the sudoers rules (commands/sudo.ts) stay one command line each.
// After each command it prints a marker line with the command's index and exit code on
// stdout, and one with its index on stderr, so each output is cut back out of the streams.
// The marker carries a nonce chosen per batch, so no output can end a command early by
// accident.

/** One command of a batch: its argv, and whether it runs through sudo (by default it does). */
export interface BatchCommand {
  argv: readonly string[];
  privileged?: boolean;
  /** Run only when the command at this (earlier) index exited 0; else it exits BATCH_SKIPPED. */
  onlyAfter?: number;
}

/** The exit code a batch reports for a command it skipped (see BatchCommand.onlyAfter). */
export const BATCH_SKIPPED = 254;

export interface BatchResult {
  stdout: string;
  stderr: string;
  code: number;
}

export const batchMarker = (nonce: string) => `api7-ha-batch-${nonce}`;

/** A quoted command line for the batch, with the condition of its BatchCommand. */
export interface BatchLine {
  line: string;
  onlyAfter?: number;
}

/**
 * The script for already quoted command lines. Each runs in a subshell with stdin from
 * /dev/null; the marker arrives as `$1`, so the script text depends on the lines only.
 */
export function batchScript(lines: readonly BatchLine[]): string {
  return lines
    .map(({ line, onlyAfter }, i) => {
      if (
        onlyAfter !== undefined &&
        !(Number.isInteger(onlyAfter) && onlyAfter >= 0 && onlyAfter < i)
      )
        throw new Error(`batch command ${i} can only wait for an earlier one, not ${onlyAfter}`);
      const run = `( ${line} ) </dev/null; r${i}=$?`;
      const guarded =
        onlyAfter === undefined
          ? run
          : `if [ "$r${onlyAfter}" = 0 ]; then ${run}; else r${i}=${BATCH_SKIPPED}; fi`;
      return `${guarded}; printf '\\n%s ${i} %d\\n' "$1" "$r${i}"; printf '\\n%s ${i}\\n' "$1" >&2`;
    })
    .join('\n');
}

export const batchArgv = (lines: readonly BatchLine[], marker: string) => [
  'sh',
  '-c',
  batchScript(lines),
  'sh',
  marker,
];

/** Each command's stdout, stderr and exit code; throws when the batch stopped short. */
export function parseBatch(
  stdout: string,
  stderr: string,
  marker: string,
  count: number,
): BatchResult[] {
  const out: BatchResult[] = [];
  let o = 0;
  let e = 0;
  for (let i = 0; i < count; i++) {
    const outMark = `\n${marker} ${i} `;
    const at = stdout.indexOf(outMark, o);
    const eol = at < 0 ? -1 : stdout.indexOf('\n', at + outMark.length);
    if (eol < 0) throw new Error(`the batch stopped before command ${i + 1} of ${count} ended`);
    const code = Number(stdout.slice(at + outMark.length, eol));
    const errMark = `\n${marker} ${i}\n`;
    const errAt = stderr.indexOf(errMark, e);
    out.push({
      stdout: stdout.slice(o, at),
      stderr: errAt < 0 ? stderr.slice(e) : stderr.slice(e, errAt),
      code: Number.isInteger(code) ? code : 255,
    });
    o = eol + 1;
    if (errAt >= 0) e = errAt + errMark.length;
  }
  return out;
}
