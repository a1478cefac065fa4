// The deploy's cluster-wide steps, the same in both of its shapes: the two global barriers
// before any host is changed (the inventory is valid, every host passes preflight, with
// every problem on every host reported at once), quorum and etcd auth, the gateway
// cluster, and the proof.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { DeployActivities } from '../activities';
import type { DeployInput } from '../activities/context';
import type { ProofResult } from '../activities/gateway';
import type { ComposeFlavor } from '../commands/compose';
import { hostsWith } from '../model/components';
import {
  activityOptions,
  DEPLOY_ATTEMPTS,
  PREFLIGHT_ATTEMPTS,
  QUORUM_ATTEMPTS,
  retryPolicy,
  STEP_TIMEOUT,
} from './activity-options';
import { settleBounded } from './bounded';
import type { DeployTracker } from './deploy-tracker';
import { failureMessage } from './failures';

export const deployRetry = retryPolicy(DEPLOY_ATTEMPTS, '10s');
export const deployOptions = activityOptions(STEP_TIMEOUT, deployRetry);

// Call sites pass complete options (with a summary for the UI) via executeWithOptions.
export const deployActs = proxyActivities<DeployActivities>(deployOptions);

export async function validate(input: DeployInput, t: DeployTracker): Promise<void> {
  t.enter('validate');
  t.progress.warnings = (
    await deployActs.validateDeploy.executeWithOptions(
      { ...deployOptions, summary: `validate inventory of ${input.inventory.cluster}` },
      [input],
    )
  ).warnings;
  t.finish('validate');
}

/** Preflight every host; returns each host's compose flavour, or fails listing every problem. */
export async function preflight(
  input: DeployInput,
  t: DeployTracker,
  bound: number,
): Promise<Record<string, ComposeFlavor>> {
  const inv = input.inventory;
  t.enter('preflight');
  const compose: Record<string, ComposeFlavor> = {};
  const checked = await settleBounded(inv.hosts, bound, async (h) => {
    t.mark(h.name, 'preflight', 'running');
    return deployActs.preflightHost.executeWithOptions(
      {
        ...deployOptions,
        retry: { ...deployRetry, maximumAttempts: PREFLIGHT_ATTEMPTS },
        summary: `${h.name}: preflight`,
      },
      [input, h.name],
    );
  });
  const problems: string[] = [];
  for (const c of checked) {
    const found = c.ok ? c.value.problems : [failureMessage(c.error)];
    if (c.ok && c.value.compose) compose[c.item.name] = c.value.compose;
    problems.push(...found.map((p) => `${c.item.name}: ${p}`));
    t.mark(
      c.item.name,
      'preflight',
      found.length ? 'failed' : 'done',
      found.join('; ') ||
        (c.ok
          ? `kernel ${c.value.kernel}, Docker ${c.value.docker}, compose ${c.value.compose ?? '-'}`
          : ''),
    );
  }
  if (problems.length)
    throw ApplicationFailure.nonRetryable(
      `preflight found ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      'PreflightFailed',
    );
  t.finish('preflight');
  return compose;
}

/** Wait until etcd has quorum; the members' names. */
export async function waitForQuorum(input: DeployInput): Promise<string[]> {
  const health = await deployActs.waitForQuorum.executeWithOptions(
    {
      ...deployOptions,
      retry: { ...deployRetry, maximumAttempts: QUORUM_ATTEMPTS },
      summary: `wait for etcd quorum (${hostsWith(input.inventory, 'etcd').length} members)`,
    },
    [input],
  );
  return health.members.map((m) => m.name);
}

/** Auth goes on through the running cluster, once it has quorum (src/etcd/auth.ts). */
export async function enableEtcdAuth(input: DeployInput, t: DeployTracker): Promise<void> {
  const inv = input.inventory;
  const auth = await deployActs.enableEtcdAuth.executeWithOptions(
    { ...deployOptions, summary: `turn on etcd authentication (user ${inv.etcd.auth.username})` },
    [input],
  );
  if (auth.changed) t.progress.changes++;
  for (const h of hostsWith(inv, 'etcd')) t.steps[h.name]!.push(`etcd auth: ${auth.detail}`);
}

/** Find the gateway cluster by name (or check the given id), or create it; its id. */
export async function ensureGatewayCluster(input: DeployInput, t: DeployTracker): Promise<string> {
  const d = input.inventory.dashboard;
  const found = await deployActs.ensureGatewayCluster.executeWithOptions(
    {
      ...deployOptions,
      summary: d.gatewayClusterId
        ? `check gateway cluster ${d.gatewayClusterId}`
        : `find or create gateway cluster "${d.gatewayClusterName}"`,
    },
    [input],
  );
  if (found.created) t.progress.changes++;
  t.progress.clusterId = found.id;
  return found.id;
}

/** Put the test route and request it through the data-plane load balancer. */
export async function proveTraffic(
  input: DeployInput,
  t: DeployTracker,
  clusterId: string,
): Promise<ProofResult> {
  const st = input.inventory.smokeTest;
  const r = await deployActs.proveTraffic.executeWithOptions(
    {
      ...deployOptions,
      summary: `prove ${st.host}${st.uri} through the data-plane load balancer`,
    },
    [input, clusterId],
  );
  if (r.routeChanged) t.progress.changes++;
  return r;
}
