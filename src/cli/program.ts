// What every api7-ha entry point shares (the product's CLI and the lab's, lab/cli.ts):
// option parsers, usage errors thrown rather than exited on, and one way to end with the
// documented exit code.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EXIT_CODES_HELP, exitCodeFor } from './exit';

export const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};

export const float = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};

/** A program whose usage errors end with exit code 2 (subcommands inherit it). */
export function newProgram(name: string, description: string): Command {
  return (
    new Command(name)
      .description(description)
      .addHelpText('after', EXIT_CODES_HELP)
      .showHelpAfterError()
      // Usage errors are thrown (and end with exit code 2), not exited on. A command run
      // from another file (the lab's) ends this process with that command's exit code.
      .exitOverride((e) => {
        if (e.code === 'commander.executeSubCommandAsync') process.exit(e.exitCode);
        throw e;
      })
  );
}

/** Parse the command line and run it; an error is printed once and sets the exit code. */
export function runProgram(program: Command, argv: readonly string[] = process.argv): void {
  program.parseAsync(argv).catch((e: unknown) => {
    // commander has already printed its own usage errors (and help or the version).
    if (!(e instanceof CommanderError))
      console.error(
        e instanceof Error && e.name === 'InventoryError'
          ? e.message
          : `error: ${e instanceof Error ? e.message : String(e)}`,
      );
    process.exit(exitCodeFor(e));
  });
}
