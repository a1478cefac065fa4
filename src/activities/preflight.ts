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
import type { ExecResult, SshSession } from '../ssh/session';

export interface PreflightResult {
  host: string;
  kernel: string;
  docker: string;
  compose?: ComposeFlavor;
  problems: string[];
}

/**
 * Filters for our etcd member (by label), our compose projects (by the bundle
 * directories' names), or the dashboard or gateway of another bundle (an upgrade), which
 * the deploy replaces.
 */
function ourContainerFilters(inv: Inventory): string[] {
  return [
    `label=${LABEL_CLUSTER}=${inv.cluster}`,
    ...bundledComponents(inv).map(
      (b) => `label=com.docker.compose.project=${composeProject(b.dir)}`,
    ),
    ...bundledComponents(inv).map((b) => `label=com.docker.compose.service=${b.composeService}`),
  ];
}

/** A probe as a batch command; the ones any user may run never go through sudo. */
const probe = (name: keyof typeof probes) => ({
  argv: probes[name],
  privileged: !UNPRIVILEGED_PROBES.has(name),
});

/**
 * With ssh.sudo: ask sudo (`sudo -l`, which runs nothing) about every command the deploy
 * will run as root on this host, so missing rules stop the deploy before anything changes.
 * All rules are asked in one round trip.
 */
async function sudoProblems(ssh: SshSession, inv: Inventory, host: Host): Promise<string[]> {
  const rules = sudoSections(inv, host, ssh.target.user)
    .flatMap((section) => section.rules)
    .filter((rule) => !rule.optional);
  const answers = await ssh.execBatch(
    rules.map((rule) => ({ argv: sudoCheckArgv(rule), privileged: false })),
  );
  const refused = rules.filter((_, i) => answers[i]!.code !== 0).map((rule) => quote(rule.argv));
  if (!refused.length) return [];
  return [
    `sudo does not allow ${ssh.target.user} ${refused.length === 1 ? 'this command' : `${refused.length} commands`} the deploy runs as root, e.g. \`${refused[0]}\`; ` +
      `install the rules from \`api7-ha hosts sudoers -i <inventory> --host ${host.name}\` (docs/security.md, Least privilege)`,
  ];
}

/** Which compose the host has: the plugin, else the standalone tool (slow to start). */
async function composeFlavor(ssh: SshSession): Promise<ComposeFlavor | undefined> {
  const [plugin] = await ssh.execBatch([probe('composePlugin')]);
  if (plugin!.code === 0) return 'plugin';
  const [standalone] = await ssh.execBatch([probe('composeStandalone')]);
  return standalone!.code === 0 ? 'standalone' : undefined;
}

export async function preflightHost(
  input: DeployInput,
  hostName: string,
): Promise<PreflightResult> {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  const filters = ourContainerFilters(inv);
  return withHost(input, hostName, async (ssh) => {
    // Only dashboards and gateways use compose; its standalone tool takes a second of
    // CPU just to start, so etcd-only hosts are not asked.
    const needsCompose = host.roles.some((r) => r !== 'etcd');
    // Three independent round trips side by side on the one connection: the sudo rules,
    // the compose tool, and everything else in one batch.
    const [sudo, compose, answers] = await Promise.all([
      ssh.target.sudo ? sudoProblems(ssh, inv, host) : Promise.resolve([]),
      needsCompose ? composeFlavor(ssh) : Promise.resolve(undefined),
      ssh.execBatch([
        probe('kernel'),
        probe('dockerVersion'),
        probe('listeningPorts'),
        { argv: diskFreeArgv(STAGING_DIR), privileged: false },
        ...filters.map((f) => ({ argv: runningContainersArgv(f) })),
      ]),
    ]);
    const [uname, dv, ss, df, ...ours] = answers as [ExecResult, ...ExecResult[]];
    const problems: string[] = [...sudo];
    const kernel = uname.stdout.trim();
    const kp = kernelProblem(kernel);
    if (kp) problems.push(kp);

    const docker = dv!.code === 0 ? dv!.stdout.trim() : '';
    if (dv!.code !== 0)
      problems.push(
        `Docker engine not reachable: ${(dv!.stderr || dv!.stdout).trim().split('\n')[0] ?? ''}`,
      );
    else {
      const p = dockerProblem(docker);
      if (p) problems.push(p);
    }

    if (!compose && needsCompose)
      problems.push(
        `neither \`docker compose\` nor \`docker-compose\` is installed${ssh.target.sudo ? ' (or sudo does not allow it)' : ''}`,
      );

    if (ss!.code !== 0) problems.push('cannot list listening ports (`ss` missing?)');
    else {
      const busy = listeningPorts(ss!.stdout);
      const taken = portsFor(inv, host).filter((p) => busy.has(p.port));
      // A port held by our own container from an earlier run is expected on a redeploy.
      const oursRunning = ours.some((r) => r.code === 0 && r.stdout.trim());
      if (taken.length && !(docker && oursRunning))
        for (const p of taken) problems.push(`port ${p.port} (${p.what}) is already in use`);
    }

    let need = 0;
    for (const a of artifactsFor(inv, host))
      need += await localFileSize(
        localFile(a.path, input.baseDir),
        artifactField(inv, a),
        'artifact',
      );
    const avail = availableKiB(df!.stdout) * 1024;
    if (!Number.isFinite(avail)) problems.push('cannot read free disk space');
    else if (avail < need * DISK_FACTOR)
      problems.push(
        `only ${Math.floor(avail / 2 ** 20)} MiB free for ${STAGING_DIR}; the artifacts need about ${Math.ceil((need * DISK_FACTOR) / 2 ** 20)} MiB`,
      );

    return { host: hostName, kernel, docker, compose, problems };
  });
}
