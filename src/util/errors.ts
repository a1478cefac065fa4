// One way to turn anything thrown into a line a person can read.

/** The first line of an error's message (or the value itself), for problems and reports. */
export const errorText = (e: unknown): string =>
  e instanceof Error ? (e.message.split('\n')[0] ?? e.name) : String(e);
