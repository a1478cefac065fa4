// Scale benchmark on a 12-host lab (`api7-ha lab up --hosts 12`: 3 etcd, 2 dashboards,
// 9 gateways), one run, printed as ratios (docs/benchmarks.md): a fresh deploy of the
// first 5 hosts (2 gateways) against a fresh deploy of all 12 (9 gateways), and the no-op
// redeploy of each, with where the time goes and how busy the machine was.
// Run as root after `scripts/setup.sh`: node dist/bench/scale.js [--write docs/benchmarks.md]
import '../test/support/quiet';

import type { DeployInput } from '../src/activities/context';
import { loadInventory } from '../src/config/load';
import { labUpCommand } from '../lab/cli';
import { wipeHosts } from '../test/support/cluster';
import {
  cores,
  hostTable,
  phaseTable,
  s,
  timedDeploy,
  withDeployServer,
  type DeployRun,
} from './deploy-run';
import { report } from './report';

const HOSTS = 12;
const SMALL = 5;

async function main() {
  const lab = await loadInventory(await labUpCommand(HOSTS));
  const all: DeployInput = { inventory: lab.inventory, baseDir: lab.baseDir };
  const small: DeployInput = structuredClone(all);
  small.inventory.hosts = small.inventory.hosts.slice(0, SMALL);
  const gateways = (i: DeployInput) =>
    i.inventory.hosts.filter((h) => h.roles.includes('data-plane')).length;

  await withDeployServer(47234, async (client, address) => {
    const runs: Array<{ name: string; input: DeployInput; fresh: DeployRun; noop: DeployRun }> = [];
    for (const [name, input] of [
      [`${SMALL} hosts`, small],
      [`${HOSTS} hosts`, all],
    ] as const) {
      await wipeHosts(lab);
      const fresh = await timedDeploy(client, address, input);
      const noop = await timedDeploy(client, address, input);
      runs.push({ name, input, fresh, noop });
    }
    const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
    const lines = [
      `Scale benchmark, one run on the ${HOSTS}-host lab (${new Date().toISOString().slice(0, 10)}, ${cores()} cores shared by ${HOSTS} Docker engines):`,
      '',
      '| measure | time | ratio | CPU busy |',
      '|---|---|---|---|',
      ...runs.flatMap((r) => [
        `| fresh deploy, ${r.name} (${gateways(r.input)} gateways) | ${s(r.fresh.wallMs)} | ${(r.fresh.wallMs / a.fresh.wallMs).toFixed(2)}× the ${a.name} | ${Math.round(r.fresh.cpuBusy * 100)} % |`,
        `| no-op redeploy, ${r.name} | ${s(r.noop.wallMs)} | ${(r.noop.wallMs / r.fresh.wallMs).toFixed(2)} of its fresh deploy; ${r.noop.bytesUploaded} bytes uploaded | ${Math.round(r.noop.cpuBusy * 100)} % |`,
      ]),
      '',
      `Fresh deploy of ${b.name}, per phase:`,
      '',
      ...phaseTable(b.fresh),
      '',
      `Fresh deploy of ${a.name}, per phase:`,
      '',
      ...phaseTable(a.fresh),
      '',
      `Fresh deploy of ${b.name}, per host:`,
      '',
      ...hostTable(b.fresh),
    ];
    const text = lines.join('\n');
    report(
      'Scale',
      text,
      `How to read it: both deploys run on the same ${HOSTS}-host lab; the ${SMALL}-host one deploys ha1..ha${SMALL} only (the other hosts stay empty). On one machine every lab host's Docker engine, sshd and containers share the same ${cores()} cores, so steps that are independent on real hosts (docker load, container starts) queue for the CPU here; the CPU-busy column shows how close the machine was to its limit.`,
    );
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
