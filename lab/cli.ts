// The lab's entry point: `api7-ha lab build | up | status | down`, the test lab on this
// machine (docs/lab.md). The product's CLI (src/client.ts) runs this file as a separate
// process, so nothing of the lab is in the product's module graph; `node dist/lab/cli.js
// up` is the same as `api7-ha lab up`.
import path from 'node:path';
import { Option } from 'commander';
import { artifactsDir, cacheDir, standinsDir } from '../src/paths';
import { table } from '../src/cli/output';
import { int, newProgram, runProgram } from '../src/cli/program';
import { buildLabArtifacts } from './artifacts';
import { labDown, labStatus, labUp } from './lab';
import type { LabArtifactRefs } from './lab-inventory';

const log = (msg: string) => console.error(`[lab] ${msg}`);

export async function buildArtifacts(force = false): Promise<LabArtifactRefs> {
  const a = await buildLabArtifacts({ outDir: artifactsDir, cacheDir, standinsDir, log, force });
  return toArtifactRefs(a);
}

function toArtifactRefs(a: Awaited<ReturnType<typeof buildLabArtifacts>>): LabArtifactRefs {
  return {
    controlPlaneBundle: { path: a.controlPlaneBundle.path, sha256: a.controlPlaneBundle.sha256 },
    dataPlaneBundle: { path: a.dataPlaneBundle.path, sha256: a.dataPlaneBundle.sha256 },
    etcdImageTarball: { path: a.etcdImage.path, sha256: a.etcdImage.sha256 },
    etcdImage: a.etcdImage.reference,
    dashboardImage: a.controlPlaneBundle.image,
    gatewayImage: a.dataPlaneBundle.image,
  };
}

export async function labUpCommand(hosts?: number): Promise<string> {
  const { inventory } = await labUp({
    hosts,
    artifacts: () => buildArtifacts(),
    echoScript: path.join(standinsDir, 'echo.js'),
    log,
  });
  return inventory;
}

export async function labStatusCommand(json: boolean): Promise<void> {
  const status = await labStatus();
  if (json) {
    console.log(JSON.stringify(status, null, 2));
  } else if (!status.hosts.length) {
    console.log('the lab is down');
  } else {
    const t = table({
      head: ['host', 'address', 'roles', 'sshd', 'docker engine', 'containers'],
    });
    for (const h of status.hosts)
      t.push([
        h.name,
        h.address,
        h.roles,
        h.sshd ? 'up' : 'DOWN',
        h.engineId || 'DOWN',
        h.containers,
      ]);
    console.log(t.toString());
    console.log(
      `load balancers (HAProxy): ${status.haproxy ? 'up' : 'DOWN'}   echo upstream: ${status.echo ? 'up' : 'DOWN'}`,
    );
    const b = status.bastion;
    console.log(`bastion ${b.name} (${b.address}): sshd ${b.sshd ? 'up' : 'DOWN'}`);
    if (status.inventory) console.log(`inventory: ${status.inventory}`);
  }
  if (!status.up) process.exitCode = 1;
}

export async function labDownCommand(): Promise<void> {
  await labDown({ log });
}

export function buildLabProgram() {
  const lab = newProgram(
    'api7-ha lab',
    'the test lab: several real hosts (sshd + Docker) on this machine; needs root',
  );
  lab
    .command('build')
    .description(
      'build the lab artifacts: etcd image tarball and vendor bundles with stand-in images',
    )
    .option('--force', 'rebuild even when up to date')
    .action(async (o) => void (await buildArtifacts(o.force)));
  lab
    .command('up')
    .description(
      'start the lab hosts, load balancers and echo upstream; writes .data/lab/inventory.yaml',
    )
    .addOption(new Option('--hosts <n>', 'number of hosts (ha1..haN)').argParser(int('--hosts')))
    .action(async (o) => console.log(await labUpCommand(o.hosts)));
  lab
    .command('status')
    .description('show the lab hosts and their Docker engines')
    .option('--json', 'machine-readable output')
    .action(async (o) => labStatusCommand(Boolean(o.json)));
  lab
    .command('down')
    .description('remove everything the lab made')
    .action(async () => labDownCommand());
  return lab;
}

if (require.main === module) runProgram(buildLabProgram());
