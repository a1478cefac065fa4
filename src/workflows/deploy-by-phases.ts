// deployHA as it ran before per-host pipelines: every phase a barrier across all hosts.
// Kept only so that runs started with this shape still replay (deploy.ts chooses it for
// histories without the 'per-host-pipelines' marker). New runs never take this path.
import { patched } from '@temporalio/workflow';
import type { DeployInput, StepResult } from '../activities/context';
import type { Inventory } from '../config/inventory';
import { hostsWith } from '../model/components';
import { UPLOAD_TIMEOUT } from './activity-options';
import { mapBounded } from './bounded';
import {
  deployActs as act,
  deployOptions as base,
  enableEtcdAuth,
  ensureGatewayCluster,
  preflight,
  proveTraffic,
  validate,
  waitForQuorum,
} from './deploy-checks';
import type { DeployTracker } from './deploy-tracker';
import type { DeploySummary } from './deploy';

export async function deployByPhases(input: DeployInput, t: DeployTracker): Promise<DeploySummary> {
  const inv = input.inventory;
  const limit = inv.deploy.parallelism;
  const etcdHosts = hostsWith(inv, 'etcd');
  const cpHosts = hostsWith(inv, 'control-plane');
  const dpHosts = hostsWith(inv, 'data-plane');
  const imageHosts = inv.hosts.filter((h) => h.roles.some((r) => r !== 'etcd'));
  const { progress, steps } = t;

  const onHosts = async (
    step: string,
    hosts: Inventory['hosts'],
    bound: number,
    run: (host: string) => Promise<StepResult>,
  ) => mapBounded(hosts, bound, (h) => t.step(h.name, step, () => run(h.name)));

  await validate(input, t);
  const compose = await preflight(input, t, limit);

  t.enter('prepare');
  await onHosts('prepare', inv.hosts, limit, (h) =>
    act.prepareHost.executeWithOptions({ ...base, summary: `${h}: prepare directories` }, [
      input,
      h,
    ]),
  );
  t.finish('prepare');

  t.enter('ship');
  const shipping = inv.hosts.filter((h) => h.roles.length > 0);
  await onHosts('ship', shipping, limit, async (h) => {
    const r = await act.shipArtifacts.executeWithOptions(
      { ...base, startToCloseTimeout: UPLOAD_TIMEOUT, summary: `${h}: ship artifacts` },
      [input, h],
    );
    progress.bytesUploaded += r.bytesUploaded;
    return r;
  });
  t.finish('ship');

  const etcdBranch = async () => {
    t.enter('etcd');
    await onHosts('etcd', etcdHosts, input.replaceEtcd ? 1 : limit, (h) =>
      act.startEtcdMember.executeWithOptions({ ...base, summary: `${h}: start etcd member` }, [
        input,
        h,
      ]),
    );
    t.finish('etcd');
    t.enter('quorum');
    const members = await waitForQuorum(input);
    if (inv.etcd.auth.enabled && patched('etcd-auth')) await enableEtcdAuth(input, t);
    t.finish('quorum');
    return members;
  };
  const imagesBranch = async () => {
    t.enter('images');
    await onHosts('images', imageHosts, limit, (h) =>
      act.loadImages.executeWithOptions({ ...base, summary: `${h}: unpack bundle, load images` }, [
        input,
        h,
      ]),
    );
    t.finish('images');
  };
  const [etcdMembers] = await Promise.all([etcdBranch(), imagesBranch()]);

  const rolling = patched('rolling-restarts');
  const restartBound = (n: number) =>
    rolling ? Math.min(limit, Math.max(1, Math.floor(n / 2))) : limit;

  t.enter('dashboards');
  await onHosts('dashboard', cpHosts, restartBound(cpHosts.length), (h) =>
    act.startDashboard.executeWithOptions(
      { ...base, summary: `${h}: configure and start dashboard` },
      [input, h, compose[h] ?? 'plugin'],
    ),
  );
  t.finish('dashboards');

  t.enter('cluster');
  const clusterId = await ensureGatewayCluster(input, t);
  t.finish('cluster');

  t.enter('gateways');
  await onHosts('gateway', dpHosts, restartBound(dpHosts.length), (h) =>
    act.startGateway.executeWithOptions({ ...base, summary: `${h}: configure and start gateway` }, [
      input,
      h,
      compose[h] ?? 'plugin',
      clusterId,
    ]),
  );
  t.finish('gateways');

  t.enter('prove');
  const proof = await proveTraffic(input, t, clusterId);
  t.finish('prove');

  t.enter('done');
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
}
