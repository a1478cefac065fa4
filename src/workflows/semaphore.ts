// A counting semaphore for workflow code: at most `size` holders at once, served in the
// order they asked. Deterministic: it uses only workflow promises, no timers.
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {}

  /** Run `fn` once a slot is free; the slot is given back when fn settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.held >= this.size) await new Promise<void>((r) => this.waiting.push(r));
    else this.held++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next in line, or give it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    }
  }
}
