// Terminal output by the usual conventions: colour and cursor movement only on a terminal
// (stdout a TTY, TERM not "dumb") and never with NO_COLOR set (https://no-color.org);
// plain text in pipes, files and CI logs. picocolors alone would colour whenever CI is
// set, and cli-table3 colours its head and border by default, so both are tamed here.
import Table from 'cli-table3';
import { createColors } from 'picocolors';

/** Whether the output may carry ANSI escape codes (colours, redrawing in place). */
export function richOutput(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.NO_COLOR) return false;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

export const pc = createColors(richOutput());

/** A table with box-drawing borders only: readable in a log, bold head on a terminal. */
export function table(
  opts: Table.TableConstructorOptions & { head: string[] },
): InstanceType<typeof Table> {
  return new Table({
    ...opts,
    head: opts.head.map((h) => pc.bold(h)),
    style: { head: [], border: [], ...opts.style },
  });
}
