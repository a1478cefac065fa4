// Taking one host's components out of a cluster (`api7-ha remove`): the lock, and the
// drain of a dashboard or gateway — the guide's `docker compose down` in its bundle dir,
// then a pause so the load balancer's health checks have marked it down before anything
// else happens on the host. The host's files and images go afterwards with the teardown
// step (activities/teardown.ts), which is the same on one host as on all.
import { faultArgv } from '../commands/drills';
import { etcdMember } from '../commands/etcd';
import type { ComponentName } from '../model/components';
import { clusterBlocker } from '../temporal/cluster-lock';
import { heartbeat, sleep, withHost, type DeployInput, type StepResult } from './context';
import { composeFlavor } from './compose';
import { removeMember } from './etcd-members';

export interface RemoveInput extends DeployInput {
  /** The host to take out; the inventory still lists it (the cluster as it is now). */
  host: string;
  /** Take it out even below the minimums (src/model/minimums.ts). */
  force?: boolean;
}

/** Why a remove must not start now, if it must not (the per-cluster lock). */
export async function checkRemoveExclusion(
  cluster: string,
  selfWorkflowId: string,
): Promise<{ blockedBy?: string }> {
  const blocked = await clusterBlocker({ cluster, workflowId: selfWorkflowId, type: 'removeHost' });
  return { blockedBy: blocked?.message };
}

/**
 * Take the host's etcd member out of the membership through the members that stay (the
 * host may be dead); a no-op when it is gone already, refused when the members left would
 * not be a quorum (activities/etcd-members.ts).
 */
export async function leaveEtcdMembership(
  input: DeployInput,
  hostName: string,
): Promise<StepResult> {
  const member = etcdMember(input.inventory, hostName);
  const r = await removeMember(input, member.name, member.peerUrl);
  return { host: hostName, changed: r.changed, detail: r.detail };
}

/** Stop a dashboard or gateway as the drills do, then wait out the load balancer's checks. */
export async function drainComponent(
  input: DeployInput,
  hostName: string,
  component: Exclude<ComponentName, 'etcd'>,
): Promise<StepResult> {
  const argv = await withHost(input, hostName, async (ssh) => {
    const a = faultArgv(input.inventory, await composeFlavor(ssh), component);
    await ssh.exec(a);
    return a;
  });
  // The same pause a rolling restart gives the load balancer (deploy.restartPauseSeconds).
  const end = Date.now() + input.inventory.deploy.restartPauseSeconds * 1000;
  while (Date.now() < end) {
    heartbeat();
    await sleep(Math.min(1000, end - Date.now()));
  }
  return {
    host: hostName,
    changed: true,
    detail: `stopped: ${argv.join(' ')}; waited ${input.inventory.deploy.restartPauseSeconds} s for the load balancer`,
  };
}
