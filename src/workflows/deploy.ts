// deployHA: the vendor's HA procedure as a durable workflow. Each step is an idempotent
// activity; after a crash the workflow resumes where it was without redoing finished steps.
import {
  ApplicationFailure,
  defineQuery,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { DeployActivities } from '../activities';
import type { DeployInput, StepResult } from '../activities/context';
import type { ProofResult } from '../activities/gateway';
import type { ComposeFlavor } from '../commands/compose';
import type { Inventory } from '../config/inventory';
import { hostsWith } from '../model/components';
import {
  activityOptions,
  DEPLOY_ATTEMPTS,
  PREFLIGHT_ATTEMPTS,
  QUORUM_ATTEMPTS,
  retryPolicy,
  STEP_TIMEOUT,
  UPLOAD_TIMEOUT,
} from './activity-options';
import { CLUSTER, PHASE } from '../temporal/search-attributes';
import { mapBounded, settleBounded } from './bounded';
import { failureMessage } from './failures';
import {
  initialProgress,
  progressMarkdown,
  type DeployPhase,
  type DeployProgress,
  type StepStatus,
} from './progress';

export const deployProgressQuery = defineQuery<DeployProgress>('progress');

export interface DeploySummary {
  cluster: string;
  clusterId: string;
  changes: number;
  bytesUploaded: number;
  etcdMembers: string[];
  proof: ProofResult;
  steps: Record<string, string[]>;
  warnings: string[];
  loadBalancers: Inventory['loadBalancers'];
}

const retry = retryPolicy(DEPLOY_ATTEMPTS, '10s');
const base = activityOptions(STEP_TIMEOUT, retry);

// Call sites pass complete options (with a summary for the UI) via executeWithOptions.
const act = proxyActivities<DeployActivities>(base);

export async function deployHA(input: DeployInput): Promise<DeploySummary> {
  const inv = input.inventory;
  const limit = inv.deploy.parallelism;
  const etcdHosts = hostsWith(inv, 'etcd');
  const cpHosts = hostsWith(inv, 'control-plane');
  const dpHosts = hostsWith(inv, 'data-plane');
  const imageHosts = inv.hosts.filter((h) => h.roles.some((r) => r !== 'etcd'));

  const progress = initialProgress(inv.cluster, inv.hosts);
  const steps: Record<string, string[]> = Object.fromEntries(inv.hosts.map((h) => [h.name, []]));
  setHandler(deployProgressQuery, () => progress);
  const publish = () => setCurrentDetails(progressMarkdown(progress));

  const enter = (phase: DeployPhase) => {
    progress.phase = phase;
    upsertSearchAttributes([{ key: PHASE, value: phase }]);
    publish();
  };
  const finish = (phase: DeployPhase) => {
    progress.phasesDone.push(phase);
    publish();
  };
  const mark = (host: string, step: string, status: StepStatus, detail = '') => {
    const h = progress.hosts[host];
    if (h) Object.assign(h, { step, status, detail });
    publish();
  };

  /** Run one step on many hosts (bounded), recording each host's status and report. */
  const onHosts = async (
    step: string,
    hosts: Inventory['hosts'],
    bound: number,
    run: (host: string) => Promise<StepResult>,
  ) =>
    mapBounded(hosts, bound, async (h) => {
      mark(h.name, step, 'running');
      try {
        const r = await run(h.name);
        if (r.changed) progress.changes++;
        steps[h.name]!.push(`${step}: ${r.detail}`);
        mark(h.name, step, 'done', r.detail);
        return r;
      } catch (e) {
        mark(h.name, step, 'failed', failureMessage(e));
        throw e;
      }
    });

  upsertSearchAttributes([{ key: CLUSTER, value: inv.cluster }]);
  try {
    enter('validate');
    progress.warnings = (
      await act.validateDeploy.executeWithOptions(
        { ...base, summary: `validate inventory of ${inv.cluster}` },
        [input],
      )
    ).warnings;
    finish('validate');

    enter('preflight');
    const compose: Record<string, ComposeFlavor> = {};
    const checked = await settleBounded(inv.hosts, limit, async (h) => {
      mark(h.name, 'preflight', 'running');
      return act.preflightHost.executeWithOptions(
        {
          ...base,
          retry: { ...retry, maximumAttempts: PREFLIGHT_ATTEMPTS },
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
      mark(
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
    finish('preflight');

    enter('prepare');
    await onHosts('prepare', inv.hosts, limit, (h) =>
      act.prepareHost.executeWithOptions({ ...base, summary: `${h}: prepare directories` }, [
        input,
        h,
      ]),
    );
    finish('prepare');

    enter('ship');
    const shipping = inv.hosts.filter((h) => h.roles.length > 0);
    await onHosts('ship', shipping, limit, async (h) => {
      const r = await act.shipArtifacts.executeWithOptions(
        { ...base, startToCloseTimeout: UPLOAD_TIMEOUT, summary: `${h}: ship artifacts` },
        [input, h],
      );
      progress.bytesUploaded += r.bytesUploaded;
      return r;
    });
    finish('ship');

    // etcd (then quorum) and image loading touch different things: run them side by side.
    const etcdBranch = async () => {
      enter('etcd');
      // Replacing members goes one at a time so a quorum always stays up.
      await onHosts('etcd', etcdHosts, input.replaceEtcd ? 1 : limit, (h) =>
        act.startEtcdMember.executeWithOptions({ ...base, summary: `${h}: start etcd member` }, [
          input,
          h,
        ]),
      );
      finish('etcd');
      enter('quorum');
      const health = await act.waitForQuorum.executeWithOptions(
        {
          ...base,
          retry: { ...retry, maximumAttempts: QUORUM_ATTEMPTS },
          summary: `wait for etcd quorum (${etcdHosts.length} members)`,
        },
        [input],
      );
      // Auth goes on through the running cluster, once it has quorum (src/etcd/auth.ts).
      // patched(): runs recorded before this step existed replay without it.
      if (inv.etcd.auth.enabled && patched('etcd-auth')) {
        const auth = await act.enableEtcdAuth.executeWithOptions(
          { ...base, summary: `turn on etcd authentication (user ${inv.etcd.auth.username})` },
          [input],
        );
        if (auth.changed) progress.changes++;
        for (const h of etcdHosts) steps[h.name]!.push(`etcd auth: ${auth.detail}`);
      }
      finish('quorum');
      return health.members.map((m) => m.name);
    };
    const imagesBranch = async () => {
      enter('images');
      await onHosts('images', imageHosts, limit, (h) =>
        act.loadImages.executeWithOptions(
          { ...base, summary: `${h}: unpack bundle, load images` },
          [input, h],
        ),
      );
      finish('images');
    };
    const [etcdMembers] = await Promise.all([etcdBranch(), imagesBranch()]);

    // Restarting a dashboard or gateway takes it out of its load balancer, so at most half
    // of them (at least one) are worked on at once. patched(): older runs replay as they ran.
    const rolling = patched('rolling-restarts');
    const restartBound = (n: number) =>
      rolling ? Math.min(limit, Math.max(1, Math.floor(n / 2))) : limit;

    enter('dashboards');
    await onHosts('dashboard', cpHosts, restartBound(cpHosts.length), (h) =>
      act.startDashboard.executeWithOptions(
        { ...base, summary: `${h}: configure and start dashboard` },
        [input, h, compose[h] ?? 'plugin'],
      ),
    );
    finish('dashboards');

    enter('cluster');
    const found = await act.ensureGatewayCluster.executeWithOptions(
      {
        ...base,
        summary: inv.dashboard.gatewayClusterId
          ? `check gateway cluster ${inv.dashboard.gatewayClusterId}`
          : `find or create gateway cluster "${inv.dashboard.gatewayClusterName}"`,
      },
      [input],
    );
    const clusterId = found.id;
    if (found.created) progress.changes++;
    progress.clusterId = clusterId;
    finish('cluster');

    enter('gateways');
    await onHosts('gateway', dpHosts, restartBound(dpHosts.length), (h) =>
      act.startGateway.executeWithOptions(
        { ...base, summary: `${h}: configure and start gateway` },
        [input, h, compose[h] ?? 'plugin', clusterId],
      ),
    );
    finish('gateways');

    enter('prove');
    const proof = await act.proveTraffic.executeWithOptions(
      {
        ...base,
        summary: `prove ${inv.smokeTest.host}${inv.smokeTest.uri} through the data-plane load balancer`,
      },
      [input, clusterId],
    );
    if (proof.routeChanged) progress.changes++;
    finish('prove');

    enter('done');
    return {
      cluster: inv.cluster,
      clusterId,
      changes: progress.changes,
      bytesUploaded: progress.bytesUploaded,
      etcdMembers,
      proof,
      steps,
      warnings: progress.warnings,
      loadBalancers: inv.loadBalancers,
    };
  } catch (e) {
    progress.error = failureMessage(e);
    enter('failed');
    throw e;
  }
}
