// Phase 2: check one host without changing it; every problem is reported, not only the first.
import { localFile } from '../config/secrets';
import type { Inventory } from '../config/inventory';
import {
  artifactsFor,
  composeProject,
  dashboardDir,
  findHost,
  gatewayDir,
  portsFor,
  STAGING_DIR,
} from '../commands/layout';
import { LABEL_CLUSTER } from '../commands/etcd';
import { type ComposeFlavor } from '../commands/compose';
import {
  availableKiB,
  DISK_FACTOR,
  dockerProblem,
  kernelProblem,
  listeningPorts,
  probes,
} from '../commands/preflight';
import { stat } from 'node:fs/promises';
import { withHost, type DeployInput } from './context';
import type { SshSession } from '../ssh/session';

export interface PreflightResult {
  host: string;
  kernel: string;
  docker: string;
  compose?: ComposeFlavor;
  problems: string[];
}

/** Our etcd member (by label) or our compose projects (by the bundle directories' names). */
async function ourContainersRunning(ssh: SshSession, inv: Inventory): Promise<boolean> {
  const filters = [
    `label=${LABEL_CLUSTER}=${inv.cluster}`,
    `label=com.docker.compose.project=${composeProject(dashboardDir(inv))}`,
    `label=com.docker.compose.project=${composeProject(gatewayDir(inv))}`,
  ];
  for (const f of filters)
    if ((await ssh.execRaw(['docker', 'ps', '-q', '--filter', f])).stdout.trim()) return true;
  return false;
}

export async function preflightHost(
  input: DeployInput,
  hostName: string,
): Promise<PreflightResult> {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  return withHost(input, hostName, async (ssh) => {
    const problems: string[] = [];
    const kernel = (await ssh.execRaw(probes.kernel)).stdout.trim();
    const kp = kernelProblem(kernel);
    if (kp) problems.push(kp);

    const dv = await ssh.execRaw(probes.dockerVersion);
    const docker = dv.code === 0 ? dv.stdout.trim() : '';
    if (dv.code !== 0)
      problems.push(
        `Docker engine not reachable: ${(dv.stderr || dv.stdout).trim().split('\n')[0] ?? ''}`,
      );
    else {
      const p = dockerProblem(docker);
      if (p) problems.push(p);
    }

    let compose: ComposeFlavor | undefined;
    if ((await ssh.execRaw(probes.composePlugin)).code === 0) compose = 'plugin';
    else if ((await ssh.execRaw(probes.composeStandalone)).code === 0) compose = 'standalone';
    else if (host.roles.some((r) => r !== 'etcd'))
      problems.push('neither `docker compose` nor `docker-compose` is installed');

    const ss = await ssh.execRaw(probes.listeningPorts);
    if (ss.code !== 0) problems.push('cannot list listening ports (`ss` missing?)');
    else {
      const busy = listeningPorts(ss.stdout);
      const taken = portsFor(inv, host).filter((p) => busy.has(p.port));
      // A port held by our own container from an earlier run is expected on a redeploy.
      if (taken.length && !(docker && (await ourContainersRunning(ssh, inv))))
        for (const p of taken) problems.push(`port ${p.port} (${p.what}) is already in use`);
    }

    let need = 0;
    for (const a of artifactsFor(inv, host))
      need += (await stat(localFile(a.path, input.baseDir))).size;
    const df = await ssh.execRaw([
      'sh',
      '-c',
      'd="$1"; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d"',
      'df',
      STAGING_DIR,
    ]);
    const avail = availableKiB(df.stdout) * 1024;
    if (!Number.isFinite(avail)) problems.push('cannot read free disk space');
    else if (avail < need * DISK_FACTOR)
      problems.push(
        `only ${Math.floor(avail / 2 ** 20)} MiB free for ${STAGING_DIR}; the artifacts need about ${Math.ceil((need * DISK_FACTOR) / 2 ** 20)} MiB`,
      );

    return { host: hostName, kernel, docker, compose, problems };
  });
}
