// restoreEtcd's effectful steps. Each is idempotent and safe to retry after a worker
// crash: an upload already there (same sha256) is not made again, stopping a stopped
// member is a no-op, and a member's data dir is moved aside once per restore (the host
// script in commands/restore.ts keeps the stamp of the dir in place). The snapshot's bytes
// travel over SSH only; Temporal sees its manifest and small facts.
import { ApplicationFailure } from '@temporalio/common';
import type { SFTPWrapper } from 'ssh2';
import {
  alreadyRestored,
  checkSnapshot,
  parseRestoreMarker,
  RestoreRefused,
  RESTORE_MARKER_FORMAT,
  type CheckedSnapshot,
  type RestoreMarker,
} from '../backup/restore';
import type { BackupManifest } from '../backup/manifest';
import { openLocalFile } from '../config/local-files';
import { API7HA_DIR } from '../config/inventory';
import {
  parseSnapshotStatus,
  remoteBackupDirArgv,
  REMOTE_SNAPSHOT,
  snapshotStatusArgv,
} from '../commands/backup';
import { faultArgv } from '../commands/drills';
import { etcdMembers } from '../commands/etcd';
import { restartMarkerPath } from '../commands/files';
import {
  cleanRestoringArgv,
  DATA_DIR_REFUSED,
  dataDirStateArgv,
  parseDataDirState,
  placeSnapshotArgv,
  removeRestoreContainerArgv,
  RESTORE_MARKER,
  restoreToken,
  snapshotRestoreArgv,
  snapshotUploadPaths,
  stopMemberArgv,
  swapDataDirArgv,
} from '../commands/restore';
import { checksumArgv, incomingDirArgv } from '../commands/staging';
import { etcdClient, withEtcd } from '../etcd/client';
import { bundled } from '../model/components';
import { clusterBlocker } from '../temporal/cluster-lock';
import { errorText } from '../util/errors';
import {
  keepHeartbeating,
  pollUntil,
  withHost,
  type DeployInput,
  type StepResult,
} from './context';
import { composeFlavor } from './compose';
import { startDashboard } from './dashboard';
import { etcdAccess } from './etcd';
import { findGatewayClusterId, startGateway } from './gateway';
import { gatewayServing } from './health';
import { readGuarded, writeGuarded } from './remote-files';
import { uploadChecked } from './ship';

export interface RestoreInput extends DeployInput {
  /** The snapshot on the worker's machine (absolute; its manifest beside it). */
  snapshot: string;
}

/** What every member's restore step is given: the same for all, fixed at the start. */
export interface RestorePlan {
  sha256: string;
  revision: number;
  /** The restore's start (commands/restore.ts, STAMP). */
  stamp: string;
  workflowId: string;
}

/** Why a restore must not start now, if it must not. */
export async function checkRestoreExclusion(
  cluster: string,
  selfWorkflowId: string,
): Promise<{ blockedBy?: string }> {
  const blocked = await clusterBlocker({
    cluster,
    workflowId: selfWorkflowId,
    type: 'restoreEtcd',
    because: { backupEtcd: 'a restore waits for it to finish' },
  });
  return { blockedBy: blocked?.message };
}

const refused = (e: unknown) =>
  e instanceof RestoreRefused ? ApplicationFailure.nonRetryable(e.message, 'RestoreRefused') : e;

/** The snapshot's manifest and sha256, and the manifest against the inventory (no host touched). */
export async function checkRestoreSnapshot(input: RestoreInput): Promise<CheckedSnapshot> {
  try {
    return await checkSnapshot(input.inventory, input.snapshot);
  } catch (e) {
    throw refused(e);
  }
}

/** The restore markers of every member host (undefined where there is none). */
async function markers(input: DeployInput): Promise<Array<RestoreMarker | undefined>> {
  return Promise.all(
    etcdMembers(input.inventory).map((m) =>
      withHost(input, m.host.name, async (ssh) =>
        parseRestoreMarker(await readGuarded(ssh, API7HA_DIR, RESTORE_MARKER)),
      ),
    ),
  );
}

/** The live cluster's id and member ids (hex), or undefined when it does not answer. */
async function liveMembers(
  input: DeployInput,
): Promise<{ etcdClusterId: string; memberIds: string[] } | undefined> {
  const c = etcdClient(etcdAccess(input));
  try {
    const list = await c.cluster.memberList({ linearizable: true });
    return {
      etcdClusterId: BigInt(list.header.cluster_id).toString(16),
      memberIds: list.members.map((m) => BigInt(m.ID).toString(16)),
    };
  } catch {
    return undefined;
  } finally {
    c.close();
  }
}

export interface RestoreState {
  markers: Array<RestoreMarker | undefined>;
  live?: { etcdClusterId: string; memberIds: string[] };
  /** Whether the cluster already is this snapshot's restore (backup/restore.ts). */
  already: ReturnType<typeof alreadyRestored>;
}

/** What the member hosts and the running cluster say of earlier restores. */
export async function readRestoreState(input: DeployInput, sha256: string): Promise<RestoreState> {
  const ticker = keepHeartbeating();
  try {
    const [m, live] = await Promise.all([markers(input), liveMembers(input)]);
    return { markers: m, ...(live ? { live } : {}), already: alreadyRestored(sha256, m, live) };
  } finally {
    clearInterval(ticker);
  }
}

/**
 * Put the snapshot into the host's snapshot slot (root, 0600, in a 0700 directory) unless
 * it is there already, then check it with etcd's own `snapshot status` against the
 * manifest: a damaged upload is found before anything stops.
 */
export async function uploadSnapshot(
  input: RestoreInput,
  hostName: string,
  manifest: BackupManifest,
): Promise<StepResult> {
  return withHost(input, hostName, async (ssh) => {
    const login = { user: ssh.target.user, sudo: ssh.target.sudo };
    await ssh.exec(remoteBackupDirArgv());
    const present = await ssh.execRaw(checksumArgv(REMOTE_SNAPSHOT));
    let detail = 'snapshot already on the host (sha256 match)';
    let changed = false;
    if (present.code !== 0 || present.stdout.split(' ')[0] !== manifest.sha256) {
      const paths = snapshotUploadPaths(login);
      if (paths.incoming) await ssh.exec(incomingDirArgv(login.user));
      const opened = await openLocalFile(input.snapshot, '--snapshot', 'artifact');
      let sftp: SFTPWrapper | undefined;
      try {
        sftp = await ssh.sftp();
        const r = await uploadChecked(
          ssh,
          sftp,
          { sha256: manifest.sha256 },
          { staged: REMOTE_SNAPSHOT, ...paths },
          opened.handle,
          opened.size,
          placeSnapshotArgv(login),
        );
        detail = `${r.action} the snapshot (${(r.bytes / 2 ** 20).toFixed(1)} MiB)`;
        changed = true;
      } finally {
        sftp?.end();
        await opened.handle.close();
      }
    }
    const status = parseSnapshotStatus(await ssh.exec(snapshotStatusArgv(input.inventory)));
    const want = manifest.snapshot;
    if (
      status.hash !== want.hash ||
      status.revision !== want.revision ||
      status.totalKey !== want.totalKey
    )
      throw ApplicationFailure.nonRetryable(
        `${hostName}: etcd's snapshot status of the uploaded file (hash ${status.hash}, revision ${status.revision}, ${status.totalKey} entries) differs from the manifest's (hash ${want.hash}, revision ${want.revision}, ${want.totalKey}); nothing was stopped`,
        'RestoreRefused',
      );
    return {
      host: hostName,
      changed,
      detail: `${detail}; etcd checked it: revision ${status.revision}`,
    };
  });
}

/** Compose down of the dashboard (the guide's own stop), so nothing writes to etcd. */
export async function stopDashboard(input: DeployInput, hostName: string): Promise<StepResult> {
  return withHost(input, hostName, async (ssh) => {
    await ssh.exec(faultArgv(input.inventory, await composeFlavor(ssh), 'control-plane'));
    return { host: hostName, changed: true, detail: 'stopped the dashboard (compose down)' };
  });
}

const noSuchContainer = (stderr: string) => /No such container/i.test(stderr);

/** `docker stop` of the member; a missing container (a lost host) is fine. */
export async function stopEtcdMember(input: DeployInput, hostName: string): Promise<StepResult> {
  return withHost(input, hostName, async (ssh) => {
    const r = await ssh.execRaw(stopMemberArgv(input.inventory));
    if (r.code !== 0 && !noSuchContainer(r.stderr))
      throw new Error(
        `${hostName}: docker stop ${input.inventory.etcd.containerName}: ${r.stderr.trim()}`,
      );
    return {
      host: hostName,
      changed: r.code === 0,
      detail: r.code === 0 ? 'stopped the etcd member' : 'no etcd container on the host',
    };
  });
}

/**
 * Rebuild the member's data dir from the snapshot and swap it into place, the old one
 * moved aside. Done already when the dir in place carries this restore's stamp.
 */
export async function restoreMember(
  input: DeployInput,
  hostName: string,
  plan: RestorePlan,
): Promise<StepResult & { movedAside?: string }> {
  const inv = input.inventory;
  return withHost(input, hostName, async (ssh) => {
    const state = parseDataDirState(await ssh.exec(dataDirStateArgv(inv)));
    const swapped = state.stamp === plan.stamp && state.present;
    if (!swapped) {
      await ssh.execRaw(removeRestoreContainerArgv()); // a leftover of a crashed attempt
      await ssh.exec(cleanRestoringArgv(inv));
      await ssh.exec(snapshotRestoreArgv(inv, hostName, restoreToken(inv, plan.stamp)));
    }
    const r = await ssh.execRaw(swapDataDirArgv(inv), { stdin: `${plan.stamp}\n` });
    if (r.code === DATA_DIR_REFUSED)
      throw ApplicationFailure.nonRetryable(
        `${hostName}: ${r.stderr.trim().replace(/^api7-ha: /, '')}; look at the host's etcd directories`,
        'UnsafeHostPath',
      );
    if (r.code !== 0)
      throw new Error(`${hostName}: moving the data dirs failed: ${r.stderr.trim()}`);
    const movedAside = r.stdout.trim() || undefined;
    const marker: RestoreMarker = {
      format: RESTORE_MARKER_FORMAT,
      cluster: inv.cluster,
      sha256: plan.sha256,
      revision: plan.revision,
      stamp: plan.stamp,
      workflowId: plan.workflowId,
      member: etcdMembers(inv).find((m) => m.host.name === hostName)!.name,
      ...(movedAside ? { movedAside } : {}),
    };
    await writeGuarded(ssh, API7HA_DIR, RESTORE_MARKER, `${JSON.stringify(marker)}\n`, '600');
    return {
      host: hostName,
      changed: !swapped,
      detail: `${swapped ? 'already restored' : 'restored the snapshot'} into ${inv.etcd.dataDir}${movedAside ? `; the old one is ${movedAside}` : ' (there was none before)'}`,
      ...(movedAside ? { movedAside } : {}),
    };
  });
}

export interface RestoredCluster {
  etcdClusterId: string;
  memberIds: string[];
  revision: number;
  authEnabled: boolean;
  users: string[];
  roles: string[];
  problems: string[];
}

/**
 * What came back from the snapshot: members, revision, and auth (on when it was on,
 * refusing a request without a login; the inventory's user there with the root role).
 */
export async function checkRestoredCluster(
  input: DeployInput,
  manifest: BackupManifest,
): Promise<RestoredCluster> {
  const ticker = keepHeartbeating();
  const access = etcdAccess(input);
  try {
    const live = await liveMembers(input);
    if (!live) throw new Error('etcd does not answer its member list'); // retried
    const problems: string[] = [];
    if (live.memberIds.length !== etcdMembers(input.inventory).length)
      problems.push(
        `etcd has ${live.memberIds.length} members, the inventory ${etcdMembers(input.inventory).length}`,
      );
    const plain = etcdClient(access, access.endpoints, { withAuth: false });
    let authEnabled: boolean;
    try {
      const anonymous = await plain.get('/api7-ha/restore-check').then(
        () => 'allowed',
        (e: unknown) => errorText(e),
      );
      authEnabled = anonymous !== 'allowed' && !/authentication is not enabled/.test(anonymous);
    } finally {
      plain.close();
    }
    const status = await withEtcd(access, access.endpoints, (c) => c.maintenance.status());
    const revision = Number(status.header.revision);
    let users: string[] = [];
    let roles: string[] = [];
    if (manifest.authEnabled) {
      if (!authEnabled)
        problems.push('the snapshot had authentication on, the restored cluster has it off');
      const c = etcdClient(access);
      try {
        users = (await c.getUsers()).map((u) => u.name).sort();
        roles = (await c.getRoles()).map((r) => r.name).sort();
        const name = input.inventory.etcd.auth.username;
        const held = (await c.user(name).roles()).map((r) => r.name);
        if (!held.includes('root'))
          problems.push(
            `etcd user ${name} came back without the root role (has ${held.join(', ') || 'none'})`,
          );
      } catch (e) {
        problems.push(`logging in to the restored cluster failed: ${errorText(e)}`);
      } finally {
        c.close();
      }
    } else if (authEnabled)
      problems.push('the snapshot had authentication off, the restored cluster has it on');
    return { ...live, revision, authEnabled, users, roles, problems };
  } finally {
    clearInterval(ticker);
  }
}

/** The member ids the restore produced, in each host's marker (what a second run compares). */
export async function recordRestore(
  input: DeployInput,
  hostName: string,
  plan: RestorePlan,
  cluster: { etcdClusterId: string; memberIds: string[] },
): Promise<void> {
  await withHost(input, hostName, async (ssh) => {
    const current = parseRestoreMarker(await readGuarded(ssh, API7HA_DIR, RESTORE_MARKER));
    if (!current || current.stamp !== plan.stamp)
      throw ApplicationFailure.nonRetryable(
        `${hostName}: ${RESTORE_MARKER} is not this restore's (stamp ${current?.stamp ?? 'none'}, want ${plan.stamp})`,
        'RestoreConflict',
      );
    const next: RestoreMarker = { ...current, ...cluster };
    await writeGuarded(ssh, API7HA_DIR, RESTORE_MARKER, `${JSON.stringify(next)}\n`, '600');
  });
}

/** The deploy's dashboard start (compose up, until ready), with the host's compose tool. */
export async function startDashboardAgain(
  input: DeployInput,
  hostName: string,
): Promise<StepResult> {
  const flavor = await withHost(input, hostName, (ssh) => composeFlavor(ssh));
  return startDashboard(input, hostName, flavor);
}

/**
 * Make the gateway read etcd anew: note an owed restart (the deploy's marker), then the
 * deploy's gateway start recreates the container, waits until it reaches etcd, and
 * pauses for the load balancer; then it must serve the test route itself. A crash in
 * between leaves the marker, so a retry (or the next deploy) still restarts it.
 */
export async function restartGateway(
  input: DeployInput,
  hostName: string,
  clusterId: string,
): Promise<StepResult> {
  const b = bundled(input.inventory, 'data-plane');
  const flavor = await withHost(input, hostName, async (ssh) => {
    await writeGuarded(
      ssh,
      b.dir,
      restartMarkerPath(b.dir),
      'etcd restored; read it anew\n',
      '600',
    );
    return composeFlavor(ssh);
  });
  const r = await startGateway(input, hostName, flavor, clusterId);
  await pollUntil(
    `the gateway on ${hostName} to serve the test route`,
    async () => ((await gatewayServing(input, hostName)) ? undefined : true),
    60_000,
  );
  return { ...r, changed: true, detail: `${r.detail}; serves the test route` };
}

/** The gateway cluster's id, once the dashboards answer through their load balancer again. */
export async function restoredGatewayCluster(input: DeployInput): Promise<string> {
  return pollUntil(
    `the dashboard API through ${input.inventory.loadBalancers.controlPlane}`,
    () => findGatewayClusterId(input),
    120_000,
    1000,
  );
}
