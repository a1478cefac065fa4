// Phases 5-6: start each etcd member with the guide's `docker run`, then wait for quorum.
import { ApplicationFailure } from '@temporalio/common';
import { EtcdAuthenticationFailedError } from 'etcd3';
import { forceRemoveContainerArgv, startContainerArgv } from '../commands/docker';
import {
  etcdConfigHash,
  etcdEndpoint,
  etcdEndpoints,
  etcdMembers,
  etcdRunArgv,
  inspectArgv,
  parseInspect,
} from '../commands/etcd';
import { clientTlsSources, memberTlsFiles } from '../commands/etcd-tls';
import { findHost, stagedPath } from '../commands/layout';
import { EtcdAuthError, ensureEtcdAuth } from '../etcd/auth';
import {
  clusterHealth,
  memberHealth,
  memberKvHash,
  type ClusterHealth,
  type EtcdAccess,
} from '../etcd/health';
import { etcdPassword, pollUntil, withHost, type DeployInput, type StepResult } from './context';
import { ensureImage } from './images';
import { putTlsFiles, readTlsFile } from './remote-files';

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
    // etcd reads its certificates at each new connection, so new files need no restart.
    const tlsChanged = await putTlsFiles(ssh, input, memberTlsFiles(inv, hostName));
    const inspected = await ssh.execRaw(inspectArgv(name));
    if (inspected.code === 0) {
      const c = parseInspect(inspected.stdout);
      if (c.configHash === want) {
        if (c.running)
          return {
            host: hostName,
            changed: loaded || tlsChanged,
            detail: `${tlsChanged ? 'wrote TLS files, ' : ''}container ${name} already running with these settings`,
          };
        await ssh.exec(startContainerArgv(name));
        return { host: hostName, changed: true, detail: `started existing container ${name}` };
      }
      if (!input.replaceEtcd)
        throw ApplicationFailure.nonRetryable(
          `${hostName}: a container named ${name} exists with different settings (${c.configHash || 'not made by api7-ha'}, want ${want}); ` +
            'remove it, or deploy with --replace-etcd to replace it (the data directory is kept)',
          'EtcdConflict',
        );
      await ssh.exec(forceRemoveContainerArgv(name));
    }
    await ssh.exec(etcdRunArgv(inv, hostName));
    return {
      host: hostName,
      changed: true,
      detail: `started etcd member on ${hostName} (${want})`,
    };
  });
}

/** How the worker reaches etcd: endpoints, the root user when auth is on, the client certificate. */
export function etcdAccess(input: DeployInput): EtcdAccess {
  const inv = input.inventory;
  const password = etcdPassword(input);
  const tls = clientTlsSources(inv);
  const [ca, cert, key] = tls.map((f) => readTlsFile(input, f));
  return {
    endpoints: etcdEndpoints(inv),
    auth: password ? { username: inv.etcd.auth.username, password } : undefined,
    tls: ca && cert && key ? { ca, cert, key } : undefined,
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
        try {
          last = await clusterHealth(access, names);
        } catch (e) {
          if (e instanceof EtcdAuthenticationFailedError)
            throw ApplicationFailure.nonRetryable(
              `etcd has authentication on and refuses user ${access.auth?.username} with the password from etcd.auth.password`,
              'EtcdAuthError',
            );
          throw e;
        }
        return last.problems.length ? undefined : last;
      },
      timeoutMs,
      1000,
    );
  } catch (e) {
    if (e instanceof ApplicationFailure) throw e;
    throw new Error(`${(e as Error).message}${last ? `: ${last.problems.join('; ')}` : ''}`);
  }
}

/** Phase 6, with etcd.auth.enabled: the root user and `auth enable`, unless already on. */
export async function enableEtcdAuth(input: DeployInput): Promise<StepResult> {
  const access = etcdAccess(input);
  try {
    const outcome = await ensureEtcdAuth(access);
    return {
      host: 'etcd',
      changed: outcome === 'enabled',
      detail:
        outcome === 'enabled'
          ? `created user ${access.auth?.username} with the root role and turned authentication on`
          : `authentication already on; user ${access.auth?.username} accepted`,
    };
  } catch (e) {
    if (e instanceof EtcdAuthError) throw ApplicationFailure.nonRetryable(e.message, e.name);
    throw e;
  }
}

/** The member on `hostName` is healthy and has the same revision and KV hash as the others. */
export async function etcdCaughtUp(input: DeployInput, hostName: string): Promise<boolean> {
  const access = etcdAccess(input);
  const me = await memberHealth(
    access,
    etcdEndpoint(input.inventory, findHost(input.inventory, hostName)),
  );
  if (!me.healthy || !me.leader || me.leader === '0') return false;
  // Every member healthy, at the same revision, with the same backend hash.
  const members = await Promise.all(access.endpoints.map((e) => memberHealth(access, e)));
  if (members.some((m) => !m.healthy) || new Set(members.map((m) => m.revision)).size !== 1)
    return false;
  const revision = members[0]!.revision!;
  const hashes = await Promise.all(access.endpoints.map((e) => memberKvHash(access, e, revision)));
  return new Set(hashes).size === 1;
}
