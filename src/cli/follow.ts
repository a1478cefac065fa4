// Live per-host progress in the terminal: redraw a table in place on a terminal, print
// only changes otherwise (CI logs, pipes, NO_COLOR). Long steps (uploads, docker load)
// show what their activity last heartbeated, which the workflow itself never sees.
import type { WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { LiveDetail } from '../activities/context';
import type { ProgressView } from '../workflows/progress';
import { pc, richOutput, table } from './output';

const colour: Record<string, (s: string) => string> = {
  done: pc.green,
  running: pc.cyan,
  failed: pc.red,
  pending: pc.dim,
};

export function progressTable(p: ProgressView): string {
  const t = table({
    head: ['host', 'roles', 'step', 'status', 'done', 'detail'],
    wordWrap: true,
    colWidths: [8, 26, 12, 10, 22, 44],
  });
  for (const [name, h] of Object.entries(p.hosts))
    t.push([
      name,
      h.roles.join(', '),
      h.step,
      (colour[h.status] ?? String)(h.status),
      // Progress of runs recorded before per-step lists has none.
      (h.done ?? []).join(' '),
      h.detail,
    ]);
  return `phase: ${pc.bold(p.phase)}  (${p.phasesDone.join(' → ') || 'starting'})\n${t.toString()}`;
}

const mib = (n: number) => (n / 2 ** 20).toFixed(1);

/** A heartbeat in words, e.g. "uploading api7-dp.tar.gz 40 % (12.0 of 30.0 MiB)". */
export function liveText(d: LiveDetail): string {
  if ('loading' in d) return `docker load ${d.loading}`;
  const pct = d.total > 0 ? Math.floor((d.bytes / d.total) * 100) : 0;
  return `uploading ${d.file} ${pct} % (${mib(d.bytes)} of ${mib(d.total)} MiB)`;
}

function isLiveDetail(d: unknown): d is LiveDetail {
  if (typeof d !== 'object' || d === null || typeof (d as { host?: unknown }).host !== 'string')
    return false;
  const x = d as Record<string, unknown>;
  return (
    typeof x.loading === 'string' ||
    (typeof x.file === 'string' && typeof x.bytes === 'number' && typeof x.total === 'number')
  );
}

/** Running hosts show their step's live detail instead of the empty one the workflow has. */
export function withLive<P extends ProgressView>(p: P, live: Map<string, string>): P {
  const hosts = Object.fromEntries(
    Object.entries(p.hosts).map(([name, h]) => {
      const text = live.get(name);
      return [name, h.status === 'running' && text ? { ...h, detail: text } : h];
    }),
  );
  return { ...p, hosts };
}

/** The live details of a workflow's running activities, by host (decrypted by the client). */
export async function liveDetails(handle: WorkflowHandle): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const { raw } = await handle.describe();
  const converter = handle.client.options.loadedDataConverter;
  for (const a of raw.pendingActivities ?? []) {
    const payloads = a.heartbeatDetails?.payloads;
    if (!payloads?.length) continue;
    const d = await decodeFromPayloadsAtIndex<unknown>(converter, 0, payloads).catch(
      () => undefined,
    );
    if (isLiveDetail(d)) out.set(d.host, liveText(d));
  }
  return out;
}

export class ProgressPrinter {
  private lastLines = 0;
  private lastSeen = new Map<string, string>();
  private lastPhase = '';
  constructor(
    private readonly rich = richOutput(),
    private readonly write: (s: string) => void = (s) => void process.stdout.write(s),
  ) {}

  update(p: ProgressView): void {
    if (this.rich) {
      const text = progressTable(p);
      if (this.lastLines) this.write(`\x1b[${this.lastLines}A\x1b[J`);
      this.write(`${text}\n`);
      this.lastLines = text.split('\n').length;
      return;
    }
    if (p.phase !== this.lastPhase) this.write(`phase: ${p.phase}\n`);
    this.lastPhase = p.phase;
    for (const [name, h] of Object.entries(p.hosts)) {
      const line = `${name}: ${h.step} ${h.status}${h.detail ? ` — ${h.detail}` : ''}`;
      if (this.lastSeen.get(name) !== line) this.write(`  ${line}\n`);
      this.lastSeen.set(name, line);
    }
  }
}

/**
 * Wait for a run's result while drawing its `progress` query (any api7-ha operation's
 * per-host table) with the live details of its running activities.
 */
export async function followRun<T>(
  handle: WorkflowHandle,
  printer = new ProgressPrinter(),
): Promise<T> {
  let done = false;
  const result = (handle.result() as Promise<T>).finally(() => (done = true));
  const poll = (async () => {
    while (!done) {
      try {
        const [p, live] = await Promise.all([
          handle.query<ProgressView>('progress'),
          liveDetails(handle).catch(() => new Map<string, string>()),
        ]);
        printer.update(withLive(p, live));
      } catch {
        /* no worker has picked it up yet */
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return await result;
  } finally {
    await poll;
    try {
      printer.update(await handle.query<ProgressView>('progress'));
    } catch {
      /* closed workflows may have no worker to answer */
    }
  }
}
