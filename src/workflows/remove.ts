// removeHost: take one host's components out of a running cluster, as the day-2 procedure
// goes: nothing else runs on the cluster (the lock); the minimums are kept unless forced;
// an etcd member leaves the membership (through the members that stay, never below
// quorum); each dashboard or gateway on the host is drained and stopped (the load balancer's
// health checks mark it down before anything else happens); then the host's containers,
// images and files go (the teardown step, etcd data kept); then the rest of the cluster
// proves it still serves. A host that cannot be reached (it is dead) does not stop the
// remove: the result says so and what may be left on it.
import {
  ApplicationFailure,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  DeployActivities,
  RemoveActivities,
  ReplaceActivities,
  TeardownActivities,
} from '../activities';
import type { RemoveInput } from '../activities/remove';
import type { ProofResult } from '../activities/gateway';
import { componentFacts, hasRole, hostsWith } from '../model/components';
import { removalLosses, removalTargetProblem } from '../model/minimums';
import { CLUSTER } from '../temporal/search-attributes';
import { activityOptions, retryPolicy, STEP_TIMEOUT, TEARDOWN_ATTEMPTS } from './activity-options';
import { deployOptions } from './deploy-checks';
import { failureMessage } from './failures';
import { OperationTracker } from './operation-tracker';

export type { RemoveInput } from '../activities/remove';

export const REMOVE_PHASES = [
  'exclusion',
  'check',
  'membership',
  'drain',
  'cleanup',
  'prove',
] as const;

export interface RemoveResult {
  cluster: string;
  host: string;
  /** What was done on the host, step by step. */
  steps: string[];
  /** Set when the host could not be reached: why, and what may still be on it. */
  notReached?: { why: string; mayBeLeft: string[] };
  /** The rest of the cluster, proven through the data-plane load balancer. */
  proof?: ProofResult;
}

const options = activityOptions(STEP_TIMEOUT, retryPolicy(TEARDOWN_ATTEMPTS, '10s'));
const act = proxyActivities<RemoveActivities & TeardownActivities>(options);
const deploy = proxyActivities<DeployActivities>(deployOptions);
const membership = proxyActivities<ReplaceActivities>(options);

export async function removeHost(input: RemoveInput): Promise<RemoveResult> {
  const inv = input.inventory;
  const name = input.host;
  upsertSearchAttributes([{ key: CLUSTER, value: inv.cluster }]);
  const t = new OperationTracker(
    `Remove ${name} from`,
    inv.cluster,
    inv.hosts.filter((h) => h.name === name),
    REMOVE_PHASES,
  );
  try {
    t.enter('exclusion');
    const lock = await act.checkRemoveExclusion.executeWithOptions(
      { ...options, summary: `check nothing else runs on ${inv.cluster}` },
      [inv.cluster, workflowInfo().workflowId],
    );
    if (lock.blockedBy)
      throw ApplicationFailure.nonRetryable(
        `remove refused: ${lock.blockedBy}; try again when it has finished`,
        'ClusterBusy',
      );
    t.finish('exclusion');

    t.enter('check');
    const target = removalTargetProblem(inv, name);
    if (target) throw ApplicationFailure.nonRetryable(target, 'RemoveRefused');
    const host = inv.hosts.find((h) => h.name === name)!;
    const losses = removalLosses(inv, name);
    if (losses.length && !input.force)
      throw ApplicationFailure.nonRetryable(
        `remove refused: ${losses.join('; ')}`,
        'RemoveRefused',
      );
    t.finish('check');

    const result: RemoveResult = { cluster: inv.cluster, host: name, steps: t.steps[name]! };
    // Once the host has failed to answer, the steps after it are not tried again.
    const onHost = async (
      step: string,
      run: () => Promise<{ host: string; changed: boolean; detail: string }>,
    ) => {
      if (result.notReached) return;
      try {
        await t.step(name, step, run);
      } catch (e) {
        result.notReached = { why: `${step}: ${failureMessage(e)}`, mayBeLeft: [] };
      }
    };

    // An etcd member leaves the membership first, through the members that stay (the host
    // may be dead); refused when those would not be a quorum (src/activities/etcd-members.ts).
    t.enter('membership');
    if (hasRole(host, 'etcd')) {
      await t.step(name, 'etcd member remove', () =>
        act.leaveEtcdMembership.executeWithOptions(
          { ...options, summary: `${name}: etcd member remove, through the other members` },
          [input, name],
        ),
      );
    }
    t.finish('membership');

    t.enter('drain');
    for (const c of (['data-plane', 'control-plane'] as const).filter((r) => hasRole(host, r)))
      await onHost(`drain ${componentFacts(inv, c).noun}`, () =>
        act.drainComponent.executeWithOptions(
          {
            ...options,
            summary: `${name}: stop the ${componentFacts(inv, c).noun}, wait for the load balancer`,
          },
          [input, name, c],
        ),
      );
    t.finish('drain');

    t.enter('cleanup');
    // The old member's data would stop the host from joining again later: moved aside, kept.
    if (hasRole(host, 'etcd'))
      await onHost('etcd retire', () =>
        membership.retireEtcdMember.executeWithOptions(
          { ...options, summary: `${name}: remove the etcd container, move its data dir aside` },
          [input, name],
        ),
      );
    await onHost('cleanup', () =>
      act.teardownHost.executeWithOptions(
        { ...options, summary: `${name}: remove api7-ha's containers, images and files` },
        [{ ...input, etcdData: 'keep' }, name],
      ),
    );
    if (result.notReached)
      result.notReached.mayBeLeft = host.roles.map(
        (r) =>
          `the ${componentFacts(inv, r).noun}'s container (it may still run and serve), its image, bundle and uploaded artifacts`,
      );
    t.finish('cleanup');

    // The cluster without the host: the rest still serves through the data-plane load balancer.
    t.enter('prove');
    const rest = {
      ...input,
      inventory: { ...inv, hosts: inv.hosts.filter((h) => h.name !== name) },
    };
    if (
      hostsWith(rest.inventory, 'control-plane').length &&
      hostsWith(rest.inventory, 'data-plane').length
    ) {
      const cluster = await deploy.ensureGatewayCluster.executeWithOptions(
        { ...deployOptions, summary: `find gateway cluster "${inv.dashboard.gatewayClusterName}"` },
        [rest],
      );
      result.proof = await deploy.proveTraffic.executeWithOptions(
        {
          ...deployOptions,
          summary: `prove ${inv.smokeTest.host}${inv.smokeTest.uri} through the data-plane load balancer`,
        },
        [rest, cluster.id],
      );
    }
    t.finish('prove');
    t.enter('done');
    return result;
  } catch (e) {
    t.failed(e);
    throw e;
  }
}
