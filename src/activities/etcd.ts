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
  inventoryInitialCluster,
  parseInspect,
  retireDataDirArgv,
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

/** How a member joins a running cluster (replace, scale-out): from addMember (etcd-members.ts). */
export interface JoinSettings {
  /** The cluster's members plus this one, as etcd listed them after `member add`. */
  initialCluster: string;
}

/**
 * Start the host's member: a new cluster's (`join` undefined) or one joining a running
 * cluster with ETCD_INITIAL_CLUSTER_STATE=existing. A container is checked against its
 * settings with its own initial cluster (etcdConfigHash), so it is left alone however
 * the membership has changed since it started.
 */
export async function startEtcdMember(
  input: DeployInput,
  hostName: string,
  join?: JoinSettings,
): Promise<StepResult> {
  const inv = input.inventory;
  const name = inv.etcd.containerName;
  const initialCluster = join?.initialCluster ?? inventoryInitialCluster(inv);
  const want = etcdConfigHash(inv, hostName, initialCluster);
  return withHost(input, hostName, async (ssh) => {
    // Image, certificates and container are independent: looked at side by side.
    const [loaded, tlsChanged, inspected] = await Promise.all([
      ensureImage(ssh, inv.etcd.image, inv.etcd.imageTarball && stagedPath(inv.etcd.imageTarball)),
      // etcd reads its certificates at each new connection, so new files need no restart.
      putTlsFiles(ssh, input, memberTlsFiles(inv, hostName)),
      ssh.execRaw(inspectArgv(name)),
    ]);
    if (inspected.code === 0) {
      const c = parseInspect(inspected.stdout);
      const same = etcdConfigHash(inv, hostName, c.initialCluster ?? initialCluster);
      if (c.configHash === same) {
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
          `${hostName}: a container named ${name} exists with different settings (${c.configHash || 'not made by api7-ha'}, want ${same}); ` +
            'remove it, or deploy with --replace-etcd to replace it (the data directory is kept)',
          'EtcdConflict',
        );
      await ssh.exec(forceRemoveContainerArgv(name));
    }
    await ssh.exec(etcdRunArgv(inv, hostName, join ? 'existing' : 'new', initialCluster));
    return {
      host: hostName,
      changed: true,
      detail: `started etcd member on ${hostName} (${want}${join ? ', joining the running cluster' : ''})`,
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

/**
 * The member on `hostName` is healthy and has the same revision and KV hash as the others
 * (the inventory's members, or `endpoints`: during a scale-out, only those already joined).
 */
export async function etcdCaughtUp(
  input: DeployInput,
  hostName: string,
  endpoints?: string[],
): Promise<boolean> {
  const access = { ...etcdAccess(input), ...(endpoints ? { endpoints } : {}) };
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

/**
 * Before a member joins anew on `hostName`: its old container removed and its data dir
 * moved aside (kept, as <dataDir>.replaced-<UTC time>) with an empty one in its place.
 * Run only after the old member left the cluster (removeMember).
 */
export async function retireEtcdMember(input: DeployInput, hostName: string): Promise<StepResult> {
  const inv = input.inventory;
  return withHost(input, hostName, async (ssh) => {
    const inspected = await ssh.execRaw(inspectArgv(inv.etcd.containerName));
    if (inspected.code === 0) await ssh.exec(forceRemoveContainerArgv(inv.etcd.containerName));
    const moved = /^moved (.+)$/m.exec(await ssh.exec(retireDataDirArgv(inv.etcd.dataDir)))?.[1];
    return {
      host: hostName,
      changed: inspected.code === 0 || !!moved,
      detail:
        [
          inspected.code === 0 ? `removed container ${inv.etcd.containerName}` : '',
          moved ? `moved the old data dir to ${moved}` : 'the data dir was empty',
        ]
          .filter(Boolean)
          .join('; ') + '; an empty data dir is ready',
    };
  });
}
