// Phases 5-6: start each etcd member with the guide's `docker run`, then wait for quorum.
import { ApplicationFailure } from '@temporalio/common';
import {
  etcdConfigHash,
  etcdEndpoints,
  etcdMembers,
  etcdRunArgv,
  inspectArgv,
  parseInspect,
} from '../commands/etcd';
import { stagedPath } from '../commands/layout';
import { clusterHealth, type ClusterHealth, type EtcdAccess } from '../etcd/health';
import { pollUntil, secret, withHost, type DeployInput, type StepResult } from './context';
import type { SshSession } from '../ssh/session';

export async function ensureImage(
  ssh: SshSession,
  image: string,
  tarball?: string,
): Promise<boolean> {
  if ((await ssh.execRaw(['docker', 'image', 'inspect', '--format', '{{.Id}}', image])).code === 0)
    return false;
  if (!tarball) {
    await ssh.exec(['docker', 'pull', image]);
    return true;
  }
  await ssh.exec(['docker', 'load', '-i', tarball]);
  if ((await ssh.execRaw(['docker', 'image', 'inspect', image])).code !== 0)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${tarball} did not contain image ${image}`,
      'ArtifactError',
    );
  return true;
}

export async function startEtcdMember(input: DeployInput, hostName: string): Promise<StepResult> {
  const inv = input.inventory;
  const name = inv.etcd.containerName;
  const want = etcdConfigHash(inv, hostName);
  return withHost(input, hostName, async (ssh) => {
    const loaded = await ensureImage(
      ssh,
      inv.etcd.image,
      inv.etcd.imageTarball && stagedPath(inv.etcd.imageTarball),
    );
    const inspected = await ssh.execRaw(inspectArgv(name));
    if (inspected.code === 0) {
      const c = parseInspect(inspected.stdout);
      if (c.configHash === want) {
        if (c.running)
          return {
            host: hostName,
            changed: loaded,
            detail: `container ${name} already running with these settings`,
          };
        await ssh.exec(['docker', 'start', name]);
        return { host: hostName, changed: true, detail: `started existing container ${name}` };
      }
      if (!input.replaceEtcd)
        throw ApplicationFailure.nonRetryable(
          `${hostName}: a container named ${name} exists with different settings (${c.configHash || 'not made by api7-ha'}, want ${want}); ` +
            'remove it, or deploy with --replace-etcd to replace it (the data directory is kept)',
          'EtcdConflict',
        );
      await ssh.exec(['docker', 'rm', '-f', name]);
    }
    await ssh.exec(etcdRunArgv(inv, hostName));
    return {
      host: hostName,
      changed: true,
      detail: `started etcd member on ${hostName} (${want})`,
    };
  });
}

export function etcdAccess(input: DeployInput): EtcdAccess {
  const a = input.inventory.etcd.auth;
  return {
    endpoints: etcdEndpoints(input.inventory),
    auth:
      a.enabled && a.password
        ? { username: a.username, password: secret(input, a.password, 'etcd.auth.password') }
        : undefined,
  };
}

export async function waitForQuorum(
  input: DeployInput,
  timeoutMs = 120_000,
): Promise<ClusterHealth> {
  const access = etcdAccess(input);
  const names = etcdMembers(input.inventory).map((m) => m.name);
  let last: ClusterHealth | undefined;
  try {
    return await pollUntil(
      `etcd quorum of ${names.join(', ')}`,
      async () => {
        last = await clusterHealth(access, names);
        return last.problems.length ? undefined : last;
      },
      timeoutMs,
      1000,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}${last ? `: ${last.problems.join('; ')}` : ''}`);
  }
}
