// Reading a workflow's history with the temporal CLI (a client we did not write).
import { temporalBinary } from '../../src/paths';
import { run } from '../../src/util/exec';
import { EncryptionCodec, loadCodecKeys } from '../../src/temporal/codec';
import { decodeJsonPayloads } from '../../src/cli/codec';

export interface HistoryEvent {
  eventId: string;
  eventType: string;
  [attrs: string]: unknown;
}

/** The raw history JSON, as the temporal CLI prints it (payloads still encrypted). */
export async function rawHistory(
  address: string,
  workflowId: string,
  runId?: string,
): Promise<string> {
  const args = [
    temporalBinary,
    'workflow',
    'show',
    '--address',
    address,
    '-w',
    workflowId,
    '-o',
    'json',
  ];
  if (runId) args.push('-r', runId);
  return (await run(args)).stdout;
}

/** History events with activity inputs decrypted with the project's key (for assertions). */
export async function workflowHistory(
  address: string,
  workflowId: string,
  runId?: string,
): Promise<HistoryEvent[]> {
  const events = (
    JSON.parse(await rawHistory(address, workflowId, runId)) as { events: HistoryEvent[] }
  ).events;
  const codec = new EncryptionCodec(loadCodecKeys());
  for (const e of events) {
    const a = e.activityTaskScheduledEventAttributes as
      | { input?: { payloads?: Array<{ metadata?: Record<string, string>; data?: string }> } }
      | undefined;
    if (a?.input?.payloads) a.input.payloads = await decodeJsonPayloads(codec, a.input.payloads);
  }
  return events;
}

function decodePayloads(p: unknown): unknown[] {
  const payloads = (p as { payloads?: Array<{ data?: string }> } | undefined)?.payloads ?? [];
  return payloads.map((x) =>
    x.data ? JSON.parse(Buffer.from(x.data, 'base64').toString('utf8')) : undefined,
  );
}

export interface ScheduledActivity {
  eventId: string;
  type: string;
  /** The host argument, for per-host activities. */
  host?: string;
  summary?: string;
  /** Its decoded arguments. */
  args: unknown[];
}

export function scheduledActivities(events: HistoryEvent[]): ScheduledActivity[] {
  return events
    .filter((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED')
    .map((e) => {
      const a = e.activityTaskScheduledEventAttributes as {
        activityType: { name: string };
        input?: unknown;
      };
      const args = decodePayloads(a.input);
      return {
        eventId: e.eventId,
        type: a.activityType.name,
        host: typeof args[1] === 'string' ? args[1] : undefined,
        args,
      };
    });
}

/** The event id of the scheduled activity's completion, if it completed. */
export function completedAt(events: HistoryEvent[], a: ScheduledActivity): number | undefined {
  const done = events.find(
    (e) =>
      e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED' &&
      String(
        (e.activityTaskCompletedEventAttributes as { scheduledEventId: string }).scheduledEventId,
      ) === String(a.eventId),
  );
  return done ? Number(done.eventId) : undefined;
}

/** Highest attempt number each scheduled activity reached (retries do not add events). */
export function attemptsByScheduledId(events: HistoryEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) {
    if (e.eventType !== 'EVENT_TYPE_ACTIVITY_TASK_STARTED') continue;
    const a = e.activityTaskStartedEventAttributes as { scheduledEventId: string; attempt: number };
    out.set(
      String(a.scheduledEventId),
      Math.max(out.get(String(a.scheduledEventId)) ?? 0, a.attempt),
    );
  }
  return out;
}

export const activityKey = (a: ScheduledActivity) => `${a.type}${a.host ? `@${a.host}` : ''}`;
