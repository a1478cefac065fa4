// Live per-host progress in the terminal: redraw a table in place on a TTY, print only
// changes otherwise (CI logs, pipes).
import Table from 'cli-table3';
import pc from 'picocolors';
import type { DeployProgress } from '../workflows/progress';

const colour: Record<string, (s: string) => string> = {
  done: pc.green,
  running: pc.cyan,
  failed: pc.red,
  pending: pc.dim,
};

export function progressTable(p: DeployProgress): string {
  const table = new Table({
    head: ['host', 'roles', 'step', 'status', 'detail'],
    wordWrap: true,
    colWidths: [8, 26, 12, 10, 60],
  });
  for (const [name, h] of Object.entries(p.hosts))
    table.push([
      name,
      h.roles.join(', '),
      h.step,
      (colour[h.status] ?? String)(h.status),
      h.detail,
    ]);
  return `phase: ${pc.bold(p.phase)}  (${p.phasesDone.join(' → ') || 'starting'})\n${table.toString()}`;
}

export class ProgressPrinter {
  private lastLines = 0;
  private lastSeen = new Map<string, string>();
  private lastPhase = '';
  constructor(private readonly tty = Boolean(process.stdout.isTTY)) {}

  update(p: DeployProgress): void {
    if (this.tty) {
      const text = progressTable(p);
      if (this.lastLines) process.stdout.write(`\x1b[${this.lastLines}A\x1b[J`);
      process.stdout.write(`${text}\n`);
      this.lastLines = text.split('\n').length;
      return;
    }
    if (p.phase !== this.lastPhase) console.log(`phase: ${p.phase}`);
    this.lastPhase = p.phase;
    for (const [name, h] of Object.entries(p.hosts)) {
      const line = `${name}: ${h.step} ${h.status}${h.detail ? ` — ${h.detail}` : ''}`;
      if (this.lastSeen.get(name) !== line) console.log(`  ${line}`);
      this.lastSeen.set(name, line);
    }
  }
}
