// What `replace` decides before it changes anything: the per-cluster lock, the inventory,
// and for an etcd host whether its member is in place or must be swapped, refusing when
// the members left would not have quorum.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { etcdMember } from '../commands/etcd';
import { findHost } from '../commands/layout';
import { clusterBlocker } from '../temporal/cluster-lock';
import { keepHeartbeating, type DeployInput } from './context';
import { refuseWithoutQuorum, membership } from './etcd-members';
import { checkInventoryLocally } from './validate';
import { errorText } from '../util/errors';

export interface ReplaceInput extends DeployInput {
  /** The host to replace, as the inventory names it now. */
  host: string;
}

/** The first step of a replace: no other operation on the cluster, and a valid inventory. */
export async function checkReplace(input: ReplaceInput): Promise<{ warnings: string[] }> {
  const ticker = keepHeartbeating();
  try {
    const blocked = await clusterBlocker({
      cluster: input.inventory.cluster,
      workflowId: Context.current().info.workflowExecution?.workflowId ?? '',
      type: 'replaceHost',
    });
    if (blocked)
      throw ApplicationFailure.nonRetryable(`replace refused: ${blocked.message}`, 'ClusterBusy');
    const checked = await checkInventoryLocally(input);
    try {
      findHost(input.inventory, input.host);
    } catch {
      throw ApplicationFailure.nonRetryable(
        `--host ${input.host}: the inventory has no host of that name`,
        'InventoryError',
      );
    }
    return checked;
  } finally {
    clearInterval(ticker);
  }
}

export interface EtcdReplacePlan {
  /** The host's member is listed under its name and peer URL, a voter, and answers. */
  inPlace: boolean;
  /** The member to remove first (by the inventory's name), when one is listed. */
  oldMember?: { name: string; id: string; peerURLs: string[]; answering: boolean };
  voters: number;
  answering: number;
}

/** Whether the etcd member of `host` must be swapped; refuses when quorum is at risk. */
export async function planEtcdReplace(input: ReplaceInput): Promise<EtcdReplacePlan> {
  const me = etcdMember(input.inventory, input.host);
  let view;
  try {
    view = await membership(input, [input.host]);
  } catch (e) {
    // With auth on, even a login needs quorum (it is a raft request in etcd 3.4).
    throw ApplicationFailure.nonRetryable(
      `replacing the etcd member on ${input.host} refused: no other etcd member answered, so no quorum is in sight ` +
        `(${errorText(e)}); nothing was changed. Bring members back, or rebuild the cluster from a backup (docs/backup.md)`,
      'EtcdQuorumAtRisk',
    );
  }
  const old = view.members.find(
    (m) => m.name === me.name || (m.name === '' && m.peerURLs.includes(me.peerUrl)),
  );
  const voters = view.members.filter((m) => !m.isLearner).length;
  const answering = view.answering.length;
  if (old && !old.isLearner && old.peerURLs.includes(me.peerUrl) && view.answering.includes(old.id))
    return { inPlace: true, voters, answering };
  // The swap removes the old member first: what is left must be a quorum.
  refuseWithoutQuorum(view, old?.id, `replacing the etcd member on ${input.host}`);
  return {
    inPlace: false,
    ...(old
      ? {
          oldMember: {
            name: old.name || me.name,
            id: old.id,
            peerURLs: old.peerURLs,
            answering: view.answering.includes(old.id),
          },
        }
      : {}),
    voters,
    answering,
  };
}
