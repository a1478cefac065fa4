// Deploy benchmark on the lab, one run, printed as ratios (docs/benchmarks.md):
//   1. fresh deployHA wall time vs. the same activities run one after another in the
//      guide's order (same code, called directly, no Temporal);
//   2. fresh deployHA wall time vs. its critical path: the longest chain of dependent
//      steps, from the durations of that same run's activities (from its history);
//   3. no-op redeploy wall time as a fraction of the fresh deploy, with bytes uploaded and
//      containers recreated;
//   and where the time goes, per phase and per host.
// Run as root after `scripts/setup.sh`: node dist/bench/deploy.js [--write docs/benchmarks.md]
import '../test/support/quiet';

import { createActivities } from '../src/activities';
import { SshPool } from '../src/ssh/pool';
import type { DeployInput } from '../src/activities/context';
import { containerSnapshot, wipeHosts } from '../test/support/cluster';
import { sharedLab } from '../test/support/lab';
import {
  cores,
  criticalPath,
  hostTable,
  phaseTable,
  s,
  timedDeploy,
  withDeployServer,
} from './deploy-run';
import { report } from './report';

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

/** Containers whose id or start time changed between two snapshots. */
export function recreated(
  before: Awaited<ReturnType<typeof containerSnapshot>>,
  after: Awaited<ReturnType<typeof containerSnapshot>>,
): number {
  let n = 0;
  for (const [host, list] of Object.entries(after))
    for (const c of list) {
      const was = before[host]?.find((x) => x.name === c.name);
      if (!was || was.id !== c.id || was.startedAt !== c.startedAt) n++;
    }
  return n;
}

async function main() {
  const lab = await sharedLab();
  const input: DeployInput = { inventory: lab.inventory, baseDir: lab.baseDir };
  await withDeployServer(47233, async (client, address) => {
    await wipeHosts(lab);
    const fresh = await timedDeploy(client, address, input);
    const cp = criticalPath(fresh.steps, input);
    const sumMs = fresh.steps.reduce((a, x) => a + x.ms, 0);

    const before = await containerSnapshot(lab);
    const noop = await timedDeploy(client, address, input);
    const noopRecreated = recreated(before, await containerSnapshot(lab));

    let seqMs = NaN;
    if (!process.argv.includes('--no-sequential')) {
      await wipeHosts(lab);
      seqMs = await sequential(input);
    }

    const lines = [
      `Deploy benchmark, one run on the ${lab.inventory.hosts.length}-host lab (${new Date().toISOString().slice(0, 10)}, ${cores()} cores):`,
      '',
      '| measure | time | ratio |',
      '|---|---|---|',
      `| fresh deployHA (wall, client start to result) | ${s(fresh.wallMs)} | 1.00 |`,
      `| same activities one after another, guide order (no Temporal) | ${s(seqMs)} | deployHA is ${(seqMs / fresh.wallMs).toFixed(2)}× faster |`,
      `| sum of the fresh run's activity durations | ${s(sumMs)} | ${(sumMs / fresh.wallMs).toFixed(2)}× the wall time |`,
      `| critical path of the fresh run (longest dependent chain) | ${s(cp.ms)} | wall time is ${(fresh.wallMs / cp.ms).toFixed(2)}× the critical path |`,
      `| no-op redeploy (wall) | ${s(noop.wallMs)} | ${(noop.wallMs / fresh.wallMs).toFixed(2)} of a fresh deploy; ${noop.bytesUploaded} bytes uploaded, ${noopRecreated} containers recreated, ${noop.changes} changes |`,
      '',
      `CPU busy (all ${cores()} cores): ${Math.round(fresh.cpuBusy * 100)} % during the fresh deploy, ${Math.round(noop.cpuBusy * 100)} % during the no-op.`,
      '',
      `Critical path: ${cp.chain.map((k) => `${k} (${s(fresh.steps.find((x) => x.key === k)?.ms ?? 0)})`).join(' → ')}`,
      '',
      'Fresh deploy, where the time goes per phase (times from the first activity scheduled):',
      '',
      ...phaseTable(fresh),
      '',
      'Fresh deploy, per host:',
      '',
      ...hostTable(fresh),
      '',
      'No-op redeploy, per phase:',
      '',
      ...phaseTable(noop),
    ];
    const text = lines.join('\n');
    report(
      'Deploy',
      text,
      `How to read it: "one after another" calls the very same activity functions directly in the guide's order. deployHA runs every host's own chain after the global preflight (docs/deploy.md#parallelism): a link waits only for what it needs. The critical path uses those dependencies (a host's etcd and images need its artifacts; dashboards need quorum, etcd auth and their images; the gateway cluster needs the first dashboard; gateways need the cluster and their images; the proof needs every dashboard and gateway). The gap between it and the wall time is Temporal's scheduling of the activities and the workflow tasks between them.`,
    );
  });
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
