// Deploy benchmark on the lab, one run, printed as ratios (docs/benchmarks.md):
//   1. fresh deployHA wall time vs. the same activities run one after another in the
//      guide's order (same code, called directly, no Temporal);
//   2. fresh deployHA wall time vs. its critical path: the longest chain of dependent
//      steps, from the durations of that same run's activities (from its history);
//   3. no-op redeploy wall time as a fraction of the fresh deploy.
// Run as root after `scripts/setup.sh`: node dist/bench/deploy.js [--write docs/benchmarks.md]
import '../test/support/quiet';

import { createActivities } from '../src/activities';
import { SshPool } from '../src/ssh/pool';
import type { DeployInput } from '../src/activities/context';
import { startDeploy } from '../src/cli/deploy';
import { wipeHosts } from '../test/support/cluster';
import { workflowHistory, type HistoryEvent } from '../test/support/history';
import { sharedLab } from '../test/support/lab';
import { testClient, testServer } from '../test/support/temporal';
import { writeSection } from './report';
import { startWorkerProcess } from '../test/support/worker';

interface Step {
  key: string;
  ms: number;
}

/** Duration of each activity of a run, keyed like `shipArtifacts@ha1`, from its history. */
function activityDurations(events: HistoryEvent[]): Step[] {
  const scheduled = new Map<string, { key: string; at: number }>();
  const out: Step[] = [];
  for (const e of events) {
    const at = Date.parse(e.eventTime as string);
    if (e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED') {
      const a = e.activityTaskScheduledEventAttributes as {
        activityType: { name: string };
        input?: { payloads?: Array<{ data: string }> };
      };
      const host = a.input?.payloads?.[1]
        ? JSON.parse(Buffer.from(a.input.payloads[1].data, 'base64').toString())
        : undefined;
      scheduled.set(e.eventId, {
        key: `${a.activityType.name}${typeof host === 'string' ? `@${host}` : ''}`,
        at,
      });
    }
    if (e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED') {
      const s = scheduled.get(
        String(
          (e.activityTaskCompletedEventAttributes as { scheduledEventId: string }).scheduledEventId,
        ),
      );
      if (s) out.push({ key: s.key, ms: at - s.at });
    }
  }
  return out;
}

/** Longest path through the real dependencies between deploy steps. */
function criticalPath(steps: Step[], input: DeployInput): { ms: number; chain: string[] } {
  const d = new Map(steps.map((s) => [s.key, s.ms]));
  const hosts = input.inventory.hosts;
  const role = (r: string) =>
    hosts.filter((h) => (h.roles as string[]).includes(r)).map((h) => h.name);
  // Rolling restarts: at most half of a role's hosts at once, so a host's step waits
  // for the step `bound` places before it (src/workflows/deploy.ts).
  const rollingPredecessor = (r: string, type: string, host?: string): string[] => {
    const list = role(r);
    const bound = Math.min(
      input.inventory.deploy.parallelism,
      Math.max(1, Math.floor(list.length / 2)),
    );
    const i = host ? list.indexOf(host) : -1;
    return i >= bound ? [`${type}@${list[i - bound]}`] : [];
  };
  const memo = new Map<string, { ms: number; chain: string[] }>();
  const deps = (key: string): string[] => {
    const [type, host] = key.split('@') as [string, string | undefined];
    switch (type) {
      case 'validateDeploy':
        return [];
      case 'preflightHost':
        return ['validateDeploy'];
      case 'prepareHost':
        return hosts.map((h) => `preflightHost@${h.name}`); // nothing is touched before every host passed
      case 'shipArtifacts':
        return [`prepareHost@${host}`];
      case 'startEtcdMember':
        return [`shipArtifacts@${host}`];
      case 'waitForQuorum':
        return role('etcd').map((h) => `startEtcdMember@${h}`);
      case 'loadImages':
        return [`shipArtifacts@${host}`];
      case 'enableEtcdAuth':
        return ['waitForQuorum'];
      case 'startDashboard':
        return [
          `loadImages@${host}`,
          d.has('enableEtcdAuth') ? 'enableEtcdAuth' : 'waitForQuorum',
          ...rollingPredecessor('control-plane', 'startDashboard', host),
        ];
      case 'ensureGatewayCluster':
        return role('control-plane').map((h) => `startDashboard@${h}`);
      case 'startGateway':
        return [
          `loadImages@${host}`,
          'ensureGatewayCluster',
          ...rollingPredecessor('data-plane', 'startGateway', host),
        ];
      case 'proveTraffic':
        return role('data-plane').map((h) => `startGateway@${h}`);
      default:
        return [];
    }
  };
  const longest = (key: string): { ms: number; chain: string[] } => {
    const hit = memo.get(key);
    if (hit) return hit;
    let best = { ms: 0, chain: [] as string[] };
    for (const dep of deps(key).filter((k) => d.has(k))) {
      const l = longest(dep);
      if (l.ms > best.ms) best = l;
    }
    const r = { ms: best.ms + (d.get(key) ?? 0), chain: [...best.chain, key] };
    memo.set(key, r);
    return r;
  };
  return longest('proveTraffic');
}

/** The same activities, one after another, in the order the vendor guide gives. */
async function sequential(input: DeployInput): Promise<number> {
  // With an SSH pool of its own, as a worker has (src/worker.ts).
  const ssh = new SshPool();
  try {
    return await sequentialWith(createActivities({ ssh }), input);
  } finally {
    ssh.close();
  }
}

async function sequentialWith(
  a: ReturnType<typeof createActivities>,
  input: DeployInput,
): Promise<number> {
  const names = (r: string) =>
    input.inventory.hosts.filter((h) => (h.roles as string[]).includes(r)).map((h) => h.name);
  const all = input.inventory.hosts.map((h) => h.name);
  const t0 = performance.now();
  await a.validateDeploy(input);
  const compose: Record<string, 'plugin' | 'standalone'> = {};
  for (const h of all) compose[h] = (await a.preflightHost(input, h)).compose ?? 'plugin';
  for (const h of all) await a.prepareHost(input, h);
  for (const h of all) await a.shipArtifacts(input, h);
  for (const h of names('etcd')) await a.startEtcdMember(input, h);
  await a.waitForQuorum(input);
  if (input.inventory.etcd.auth.enabled) await a.enableEtcdAuth(input);
  for (const h of all.filter(
    (h) => names('control-plane').includes(h) || names('data-plane').includes(h),
  ))
    await a.loadImages(input, h);
  for (const h of names('control-plane')) await a.startDashboard(input, h, compose[h]!);
  const cluster = await a.ensureGatewayCluster(input);
  for (const h of names('data-plane')) await a.startGateway(input, h, compose[h]!, cluster.id);
  await a.proveTraffic(input, cluster.id);
  return performance.now() - t0;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const chainText = (chain: string[], steps: Step[]) =>
  chain.map((k) => `${k} (${secs(steps.find((x) => x.key === k)?.ms ?? 0)})`).join(' → ');

/** Per activity type: how many ran, the longest and the sum (scheduled to completed). */
function byType(steps: Step[]): string[] {
  const types = new Map<string, number[]>();
  for (const st of steps) {
    const t = st.key.split('@')[0]!;
    types.set(t, [...(types.get(t) ?? []), st.ms]);
  }
  return [
    '| activity | runs | longest | sum |',
    '|---|---|---|---|',
    ...[...types]
      .sort((a, b) => Math.max(...b[1]) - Math.max(...a[1]))
      .map(
        ([t, ms]) =>
          `| ${t} | ${ms.length} | ${secs(Math.max(...ms))} | ${secs(ms.reduce((a, b) => a + b, 0))} |`,
      ),
  ];
}

async function main() {
  const lab = await sharedLab();
  const input: DeployInput = { inventory: lab.inventory, baseDir: lab.baseDir };
  const server = testServer(47233);
  await server.start();
  process.env.TEMPORAL_ADDRESS = server.address; // the validate step's visibility lookup
  const worker = await startWorkerProcess(server.address);
  const { connection, client } = await testClient(server.address);
  try {
    await wipeHosts(lab);
    let t0 = performance.now();
    const fresh = await startDeploy(client, input);
    await fresh.result();
    const freshMs = performance.now() - t0;
    const steps = activityDurations(
      await workflowHistory(server.address, fresh.workflowId, fresh.firstExecutionRunId),
    );
    const cp = criticalPath(steps, input);
    const sumMs = steps.reduce((s, x) => s + x.ms, 0);

    t0 = performance.now();
    const noop = await startDeploy(client, input);
    await noop.result();
    const noopMs = performance.now() - t0;
    const noopSteps = activityDurations(
      await workflowHistory(server.address, noop.workflowId, noop.firstExecutionRunId),
    );
    const noopCp = criticalPath(noopSteps, input);

    let seqMs = NaN;
    if (!process.argv.includes('--no-sequential')) {
      await wipeHosts(lab);
      seqMs = await sequential(input);
    }

    const s = secs;
    const lines = [
      `Deploy benchmark, one run on the ${lab.inventory.hosts.length}-host lab (${new Date().toISOString().slice(0, 10)}, ${(await import('node:os')).cpus().length} cores):`,
      '',
      '| measure | time | ratio |',
      '|---|---|---|',
      `| fresh deployHA (wall, client start to result) | ${s(freshMs)} | 1.00 |`,
      `| same activities one after another, guide order (no Temporal) | ${s(seqMs)} | deployHA is ${(seqMs / freshMs).toFixed(2)}× faster |`,
      `| sum of the fresh run's activity durations | ${s(sumMs)} | ${(sumMs / freshMs).toFixed(2)}× the wall time |`,
      `| critical path of the fresh run (longest dependent chain) | ${s(cp.ms)} | wall time is ${(freshMs / cp.ms).toFixed(2)}× the critical path |`,
      `| no-op redeploy (wall) | ${s(noopMs)} | ${(noopMs / freshMs).toFixed(2)} of a fresh deploy |`,
      '',
      `Critical path: ${chainText(cp.chain, steps)}`,
      '',
      `No-op critical path (${s(noopCp.ms)}): ${chainText(noopCp.chain, noopSteps)}`,
      '',
      "Where the no-op's activity time goes (from its history):",
      '',
      ...byType(noopSteps),
    ];
    const text = lines.join('\n');
    console.log(text);
    const at = process.argv.indexOf('--write');
    if (at > 0 && process.argv[at + 1])
      writeSection(
        process.argv[at + 1]!,
        'Deploy',
        `${text}\n\nHow to read it: "one after another" calls the very same activity functions directly in the guide's order; deployHA runs independent hosts side by side (bounded by \`deploy.parallelism\`) and loads images while etcd forms its quorum. The critical path uses the real dependencies between steps (a host's etcd needs its artifacts; dashboards need quorum, etcd auth and their images; gateways need the gateway cluster and their images; dashboards and gateways restart at most half at a time, so the second waits for the first); the no-op redeploy also takes dashboards and gateways in those halves, each waiting for its readiness checks. The gap between it and the wall time is the phase barriers plus Temporal's scheduling of ~40 activities.`,
      );
  } finally {
    await worker.kill();
    await connection.close();
    await server.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
