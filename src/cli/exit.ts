// Exit codes of the api7-ha command, the same for every verb (also in --help and the README).
import { CommanderError } from 'commander';

export const EXIT = { ok: 0, failed: 1, refused: 2, notFound: 3 } as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  failed (a deploy or check failed, a verdict other than passed, a host key changed)
  2  refused input (bad inventory, options or usage); nothing was started
  3  not found (no such cluster, workflow or schedule)`;

/** Bad inventory, options or usage: refused before anything starts. */
export class RefusedInput extends Error {
  override name = 'RefusedInput';
}

/** The cluster, workflow or schedule asked about does not exist. */
export class NotFound extends Error {
  override name = 'NotFound';
}

// Matched by name (each sets it), so that --help and --version need not load the gRPC
// client or the inventory schema just to compare classes.
const REFUSED = new Set(['RefusedInput', 'InventoryError']);
const NOT_FOUND = new Set(['NotFound', 'WorkflowNotFoundError', 'ScheduleNotFoundError']);

export function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.refused;
  if (!(e instanceof Error)) return EXIT.failed;
  if (REFUSED.has(e.name)) return EXIT.refused;
  // The deploy's own local checks (validateDeploy), run by the CLI before it starts anything.
  if (e.name === 'ApplicationFailure' && (e as { type?: string }).type === 'InventoryError')
    return EXIT.refused;
  if (NOT_FOUND.has(e.name)) return EXIT.notFound;
  return EXIT.failed;
}
