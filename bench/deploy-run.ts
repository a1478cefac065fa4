// What the deploy benchmarks read from one deployHA run: each activity's duration (from
// the run's history), the critical path through the real dependencies of the per-host
// pipelines (src/workflows/deploy-pipelines.ts), where the time goes per phase and per
// host, and how busy the machine's CPUs were meanwhile.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { DeployInput } from '../src/activities/context';
import { startDeploy } from '../src/cli/deploy';
import { workflowHistory, type HistoryEvent } from '../test/support/history';
import { testClient, testServer } from '../test/support/temporal';
import { startWorkerProcess } from '../test/support/worker';

export interface Step {
  /** `shipArtifacts@ha1`; a restart in the rolling pass is `startGateway@ha4#2`. */
  key: string;
  type: string;
  host?: string;
  start: number;
  end: number;
  ms: number;
}

export interface DeployRun {
  wallMs: number;
  steps: Step[];
  bytesUploaded: number;
  changes: number;
  /** Share of all CPUs busy during the run (0..1), from /proc/stat. */
  cpuBusy: number;
}

function cpuTimes(): { busy: number; total: number } {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
  const f = cpu!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Run one deployHA to its end and read its history. */
export async function timedDeploy(
  client: Client,
  address: string,
  input: DeployInput,
): Promise<DeployRun> {
  const cpu0 = cpuTimes();
  const t0 = performance.now();
  const handle = await startDeploy(client, input);
  const summary = await handle.result();
  const wallMs = performance.now() - t0;
  const cpu1 = cpuTimes();
  const events = await workflowHistory(address, handle.workflowId, handle.firstExecutionRunId);
  return {
    wallMs,
    steps: activitySteps(
      events,
      input.inventory.hosts.map((h) => h.name),
    ),
    bytesUploaded: summary.bytesUploaded,
    changes: summary.changes,
    cpuBusy: (cpu1.busy - cpu0.busy) / Math.max(1, cpu1.total - cpu0.total),
  };
}

/** Each completed activity of a run, from scheduling to completion; `hosts` tells host arguments from others. */
export function activitySteps(events: HistoryEvent[], hosts: string[]): Step[] {
  const scheduled = new Map<string, { type: string; host?: string; at: number }>();
  const seen = new Map<string, number>();
  const out: Step[] = [];
  for (const e of events) {
    const at = Date.parse(e.eventTime as string);
    if (e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED') {
      const a = e.activityTaskScheduledEventAttributes as {
        activityType: { name: string };
        input?: { payloads?: Array<{ data: string }> };
      };
      const arg = a.input?.payloads?.[1]
        ? (JSON.parse(Buffer.from(a.input.payloads[1].data, 'base64').toString()) as unknown)
        : undefined;
      scheduled.set(e.eventId, {
        type: a.activityType.name,
        host: typeof arg === 'string' && hosts.includes(arg) ? arg : undefined,
        at,
      });
    }
    if (e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED') {
      const id = (e.activityTaskCompletedEventAttributes as { scheduledEventId: string })
        .scheduledEventId;
      const s = scheduled.get(String(id));
      if (!s) continue;
      const base = `${s.type}${s.host ? `@${s.host}` : ''}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      out.push({
        key: n > 1 ? `${base}#${n}` : base,
        type: s.type,
        host: s.host,
        start: s.at,
        end: at,
        ms: at - s.at,
      });
    }
  }
  return out;
}

/**
 * The longest chain of steps that really depend on each other, from the durations of the
 * run's activities. The gateway cluster needs only the first dashboard, so its chain goes
 * through the dashboard that finished first.
 */
export function criticalPath(steps: Step[], input: DeployInput): { ms: number; chain: string[] } {
  const d = new Map(steps.map((s) => [s.key, s.ms]));
  const hosts = input.inventory.hosts;
  const role = (r: string) =>
    hosts.filter((h) => (h.roles as string[]).includes(r)).map((h) => h.name);
  const memo = new Map<string, { ms: number; chain: string[] }>();
  type Deps = { all: string[] } | { first: string[] };
  const deps = (key: string): Deps => {
    const [type, host] = key.split('#')[0]!.split('@') as [string, string | undefined];
    const all = (keys: string[]) => ({ all: keys });
    switch (type) {
      case 'preflightHost':
        return all(['validateDeploy']);
      case 'prepareHost':
        return all(hosts.map((h) => `preflightHost@${h.name}`));
      case 'shipArtifacts':
        return all([`prepareHost@${host}`]);
      case 'startEtcdMember':
      case 'loadImages':
        return all([`shipArtifacts@${host}`]);
      case 'waitForQuorum':
        return all(role('etcd').map((h) => `startEtcdMember@${h}`));
      case 'enableEtcdAuth':
        return all(['waitForQuorum']);
      case 'startDashboard':
        return key.includes('#')
          ? all(role('control-plane').map((h) => `startDashboard@${h}`))
          : all([
              `loadImages@${host}`,
              d.has('enableEtcdAuth') ? 'enableEtcdAuth' : 'waitForQuorum',
            ]);
      case 'ensureGatewayCluster':
        return { first: role('control-plane').map((h) => `startDashboard@${h}`) };
      case 'startGateway':
        return key.includes('#')
          ? all(role('data-plane').map((h) => `startGateway@${h}`))
          : all([`loadImages@${host}`, 'ensureGatewayCluster']);
      case 'proveTraffic':
        return all(
          steps.filter((s) => /^start(Gateway|Dashboard)$/.test(s.type)).map((s) => s.key),
        );
      default:
        return all([]);
    }
  };
  const longest = (key: string): { ms: number; chain: string[] } => {
    const hit = memo.get(key);
    if (hit) return hit;
    const dep = deps(key);
    const chains = ('all' in dep ? dep.all : dep.first).filter((k) => d.has(k)).map(longest);
    const pick = chains.reduce<{ ms: number; chain: string[] } | undefined>(
      (best, c) => (!best ? c : ('all' in dep ? c.ms > best.ms : c.ms < best.ms) ? c : best),
      undefined,
    ) ?? { ms: 0, chain: [] };
    const r = { ms: pick.ms + (d.get(key) ?? 0), chain: [...pick.chain, key] };
    memo.set(key, r);
    return r;
  };
  return longest('proveTraffic');
}

const PHASE_OF: Record<string, string> = {
  validateDeploy: 'validate',
  preflightHost: 'preflight',
  prepareHost: 'prepare',
  shipArtifacts: 'ship',
  startEtcdMember: 'etcd',
  waitForQuorum: 'quorum',
  enableEtcdAuth: 'quorum',
  loadImages: 'images',
  startDashboard: 'dashboards',
  ensureGatewayCluster: 'cluster',
  startGateway: 'gateways',
  proveTraffic: 'prove',
};

export const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Per phase: when its first step started and its last ended (from the run's start), and the sum of its steps. */
export function phaseTable(run: DeployRun): string[] {
  const t0 = Math.min(...run.steps.map((x) => x.start));
  const phases = new Map<string, Step[]>();
  for (const st of run.steps) {
    const p = PHASE_OF[st.type] ?? st.type;
    phases.set(p, [...(phases.get(p) ?? []), st]);
  }
  return [
    '| phase | steps | from | to | sum of steps | slowest step |',
    '|---|---|---|---|---|---|',
    ...[...phases].map(([p, list]) => {
      const slow = list.reduce((a, b) => (b.ms > a.ms ? b : a));
      return `| ${p} | ${list.length} | ${s(Math.min(...list.map((x) => x.start)) - t0)} | ${s(Math.max(...list.map((x) => x.end)) - t0)} | ${s(list.reduce((a, x) => a + x.ms, 0))} | ${slow.key} ${s(slow.ms)} |`;
    }),
  ];
}

/** Per host: its steps' durations, in the order they ran, and when its last step ended. */
export function hostTable(run: DeployRun): string[] {
  const t0 = Math.min(...run.steps.map((x) => x.start));
  const byHost = new Map<string, Step[]>();
  for (const st of run.steps.filter((x) => x.host))
    byHost.set(st.host!, [...(byHost.get(st.host!) ?? []), st]);
  return [
    '| host | steps (duration) | done at |',
    '|---|---|---|',
    ...[...byHost].map(
      ([h, list]) =>
        `| ${h} | ${list.map((x) => `${PHASE_OF[x.type] ?? x.type} ${s(x.ms)}`).join(', ')} | ${s(Math.max(...list.map((x) => x.end)) - t0)} |`,
    ),
  ];
}

export const cores = () => os.cpus().length;

/** A private Temporal dev server on `port` and a worker process for the length of `fn`. */
export async function withDeployServer<T>(
  port: number,
  fn: (client: Client, address: string) => Promise<T>,
): Promise<T> {
  const server = testServer(port);
  await server.start();
  process.env.TEMPORAL_ADDRESS = server.address; // the validate step's visibility lookup
  const worker = await startWorkerProcess(server.address);
  const { connection, client } = await testClient(server.address);
  try {
    return await fn(client, server.address);
  } finally {
    await worker.kill();
    await connection.close();
    await server.dispose();
  }
}
