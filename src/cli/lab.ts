// `api7-ha lab build | up | status | down`: the test lab on this machine.
import path from 'node:path';
import { buildLabArtifacts } from '../../lab/artifacts';
import { labDown, labStatus, labUp } from '../../lab/lab';
import type { LabArtifactRefs } from '../../lab/lab-inventory';
import { artifactsDir, cacheDir, standinsDir } from '../paths';
import { table } from './output';

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
