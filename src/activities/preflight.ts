// Phase 2: check one host without changing it; every problem is reported, not only the first.
import { localFileSize } from '../config/local-files';
import { localFile } from '../config/secrets';
import { quote } from 'shell-quote';
import { artifactField, type Host, type Inventory } from '../config/inventory';
import { artifactsFor, composeProject, findHost, portsFor, STAGING_DIR } from '../commands/layout';
import { bundledComponents } from '../model/components';
import { LABEL_CLUSTER } from '../commands/etcd';
import { type ComposeFlavor } from '../commands/compose';
import {
  availableKiB,
  DISK_FACTOR,
  diskFreeArgv,
  dockerProblem,
  kernelProblem,
  listeningPorts,
  probes,
  UNPRIVILEGED_PROBES,
} from '../commands/preflight';
import { runningContainersArgv } from '../commands/docker';
import { sudoCheckArgv, sudoSections } from '../commands/sudo';
import { withHost, type DeployInput } from './context';
import type { SshSession } from '../ssh/session';

export interface PreflightResult {
  host: string;
  kernel: string;
  docker: string;
  compose?: ComposeFlavor;
  problems: string[];
}

/**
 * Our etcd member (by label), our compose projects (by the bundle directories' names), or
 * the dashboard or gateway of another bundle (an upgrade), which the deploy replaces.
 */
async function ourContainersRunning(ssh: SshSession, inv: Inventory): Promise<boolean> {
  const filters = [
    `label=${LABEL_CLUSTER}=${inv.cluster}`,
    ...bundledComponents(inv).map(
      (b) => `label=com.docker.compose.project=${composeProject(b.dir)}`,
    ),
    ...bundledComponents(inv).map((b) => `label=com.docker.compose.service=${b.composeService}`),
  ];
  for (const f of filters)
    if ((await ssh.execRaw(runningContainersArgv(f))).stdout.trim()) return true;
  return false;
}

/** Run a probe; the ones any user may run never go through sudo. */
const probe = (ssh: SshSession, name: keyof typeof probes) =>
  ssh.execRaw(probes[name], { privileged: !UNPRIVILEGED_PROBES.has(name) });

/**
 * With ssh.sudo: ask sudo (`sudo -l`, which runs nothing) about every command the deploy
 * will run as root on this host, so missing rules stop the deploy before anything changes.
 */
async function sudoProblems(ssh: SshSession, inv: Inventory, host: Host): Promise<string[]> {
  const refused: string[] = [];
  for (const section of sudoSections(inv, host, ssh.target.user))
    for (const rule of section.rules) {
      if (rule.optional) continue;
      const r = await ssh.execRaw(sudoCheckArgv(rule), { privileged: false });
      if (r.code !== 0) refused.push(quote(rule.argv));
    }
  if (!refused.length) return [];
  return [
    `sudo does not allow ${ssh.target.user} ${refused.length === 1 ? 'this command' : `${refused.length} commands`} the deploy runs as root, e.g. \`${refused[0]}\`; ` +
      `install the rules from \`api7-ha hosts sudoers -i <inventory> --host ${host.name}\` (docs/security.md, Least privilege)`,
  ];
}

export async function preflightHost(
  input: DeployInput,
  hostName: string,
): Promise<PreflightResult> {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  return withHost(input, hostName, async (ssh) => {
    const problems: string[] = ssh.target.sudo ? await sudoProblems(ssh, inv, host) : [];
    const kernel = (await probe(ssh, 'kernel')).stdout.trim();
    const kp = kernelProblem(kernel);
    if (kp) problems.push(kp);

    const dv = await probe(ssh, 'dockerVersion');
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
    if ((await probe(ssh, 'composePlugin')).code === 0) compose = 'plugin';
    else if ((await probe(ssh, 'composeStandalone')).code === 0) compose = 'standalone';
    else if (host.roles.some((r) => r !== 'etcd'))
      problems.push(
        `neither \`docker compose\` nor \`docker-compose\` is installed${ssh.target.sudo ? ' (or sudo does not allow it)' : ''}`,
      );

    const ss = await probe(ssh, 'listeningPorts');
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
      need += await localFileSize(
        localFile(a.path, input.baseDir),
        artifactField(inv, a),
        'artifact',
      );
    const df = await ssh.execRaw(diskFreeArgv(STAGING_DIR), { privileged: false });
    const avail = availableKiB(df.stdout) * 1024;
    if (!Number.isFinite(avail)) problems.push('cannot read free disk space');
    else if (avail < need * DISK_FACTOR)
      problems.push(
        `only ${Math.floor(avail / 2 ** 20)} MiB free for ${STAGING_DIR}; the artifacts need about ${Math.ceil((need * DISK_FACTOR) / 2 ** 20)} MiB`,
      );

    return { host: hostName, kernel, docker, compose, problems };
  });
}
