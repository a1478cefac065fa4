// deployHA in per-host pipelines. After the global checks each host runs its own chain in
// the vendor's order, and each link waits only for what it needs:
//   prepare → ship → etcd member and/or images
//   dashboard: etcd quorum (and auth) + its own images
//   gateway cluster: one dashboard
//   gateway: the cluster id + its own images
//   proof: every gateway and dashboard
// A running dashboard or gateway whose config changed is restarted afterwards, at most
// half of them at a time; one that is not serving yet is started at once.
import { patched } from '@temporalio/workflow';
import type { DeployInput, StepResult } from '../activities/context';
import type { Inventory } from '../config/inventory';
import { hostsWith } from '../model/components';
import { UPLOAD_TIMEOUT } from './activity-options';
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
import type { DeploySummary } from './deploy';
import { backupBeforeUpgrade } from './deploy-backup';
import type { DeployTracker } from './deploy-tracker';
import type { DeployPhase } from './progress';
import { Semaphore } from './semaphore';
import { etcdHostsToJoin, joinOneByOne } from './etcd-scale-out';

type Host = Inventory['hosts'][number];

/**
 * The links of one deploy. The first failure stops new links from starting; links already
 * running finish, and then the deploy fails with that first failure.
 */
class Pipelines {
  private readonly all: Promise<unknown>[] = [];
  private firstFailure: { error: unknown } | undefined;

  constructor(private readonly t: DeployTracker) {}

  /** Keep track of a link (so none is left unawaited) and note the first failure. */
  track<T>(p: Promise<T>): Promise<T> {
    this.all.push(
      p.catch((error: unknown) => {
        this.firstFailure ??= { error };
      }),
    );
    return p;
  }

  /** One link per host, keyed by host name. */
  perHost<T>(hosts: Host[], link: (h: Host) => Promise<T>): Map<string, Promise<T>> {
    return new Map(hosts.map((h) => [h.name, this.track(link(h))]));
  }

  /** A host's step under `slots`, once the deploy is still going. */
  async step<R extends StepResult>(
    slots: Semaphore,
    host: string,
    step: string,
    run: () => Promise<R>,
  ): Promise<R> {
    return slots.run(async () => {
      if (this.firstFailure) throw new Error(`${host}: ${step} not started: the deploy failed`);
      return this.t.step(host, step, run);
    });
  }

  /** A cluster-wide step, once the deploy is still going. */
  async global<R>(run: () => Promise<R>): Promise<R> {
    if (this.firstFailure) throw new Error('not started: the deploy failed');
    return run();
  }

  /** When every link of a phase is done, that phase is. */
  phase(phase: Exclude<DeployPhase, 'done' | 'failed'>, links: Iterable<Promise<unknown>>): void {
    // Tracked, so a failed phase is awaited (and noted) by settle().
    void this.track(Promise.all(links).then(() => this.t.finishAndAdvance(phase)));
  }

  /** Wait for every link; then fail with the first failure, if any. */
  async settle(): Promise<void> {
    await Promise.all(this.all);
    if (this.firstFailure) throw this.firstFailure.error;
  }
}

/** The first of `links` to succeed; fails only when all of them fail. */
function firstOf<T>(links: Promise<T>[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let failed = 0;
    if (!links.length) reject(new Error('nothing to wait for'));
    for (const l of links)
      l.then(resolve, (e: unknown) => {
        if (++failed === links.length) reject(e);
      });
  });
}

/** Restarting takes a serving host out of its load balancer: at most half at once. */
const restartSlots = (hosts: Host[]) => new Semaphore(Math.max(1, Math.floor(hosts.length / 2)));

export async function deployInPipelines(
  input: DeployInput,
  t: DeployTracker,
): Promise<DeploySummary> {
  const inv = input.inventory;
  const { progress } = t;
  const etcdHosts = hostsWith(inv, 'etcd');
  const cpHosts = hostsWith(inv, 'control-plane');
  const dpHosts = hostsWith(inv, 'data-plane');
  const imageHosts = inv.hosts.filter((h) => h.roles.some((r) => r !== 'etcd'));
  const shipping = inv.hosts.filter((h) => h.roles.length > 0);

  await validate(input, t);
  const compose = await preflight(input, t, inv.deploy.parallelism);
  // patched(): runs recorded before scale-out replay without asking etcd.
  const joining = patched('etcd-scale-out') ? await etcdHostsToJoin(input) : [];
  await backupBeforeUpgrade(input, t);
  t.advance();

  // Quick steps (checks, config, starts) go wide; uploads and `docker load` are bounded apart.
  const quick = new Semaphore(inv.deploy.parallelism);
  const transfers = new Semaphore(inv.deploy.transferParallelism);
  // Replacing etcd members goes one at a time so a quorum always stays up.
  const etcdSlots = input.replaceEtcd ? new Semaphore(1) : quick;
  const p = new Pipelines(t);
  const flavor = (h: string) => compose[h] ?? 'plugin';

  // Prepare and ship.
  const prepared = p.perHost(inv.hosts, (h) =>
    p.step(quick, h.name, 'prepare', () =>
      act.prepareHost.executeWithOptions({ ...base, summary: `${h.name}: prepare directories` }, [
        input,
        h.name,
      ]),
    ),
  );
  const shipped = p.perHost(shipping, async (h) => {
    await prepared.get(h.name);
    return p.step(transfers, h.name, 'ship', async () => {
      const r = await act.shipArtifacts.executeWithOptions(
        { ...base, startToCloseTimeout: UPLOAD_TIMEOUT, summary: `${h.name}: ship artifacts` },
        [input, h.name],
      );
      progress.bytesUploaded += r.bytesUploaded;
      return r;
    });
  });
  p.phase('prepare', prepared.values());
  p.phase('ship', shipped.values());

  // etcd members, then quorum (and auth); images beside them. Members new to a running
  // cluster join after the others, one at a time.
  const founding = etcdHosts.filter((h) => !joining.includes(h.name));
  const members = p.perHost(founding, async (h) => {
    await shipped.get(h.name);
    return p.step(etcdSlots, h.name, 'etcd', () =>
      act.startEtcdMember.executeWithOptions({ ...base, summary: `${h.name}: start etcd member` }, [
        input,
        h.name,
      ]),
    );
  });
  const images = p.perHost(imageHosts, async (h) => {
    await shipped.get(h.name);
    return p.step(transfers, h.name, 'images', () =>
      act.loadImages.executeWithOptions(
        { ...base, summary: `${h.name}: unpack bundle, load images` },
        [input, h.name],
      ),
    );
  });
  const joined = p.track(
    (async () => {
      if (!joining.length) return;
      await Promise.all(members.values());
      await p.global(() => joinOneByOne(input, t, joining, (h) => shipped.get(h)!));
    })(),
  );
  p.phase('etcd', [...members.values(), joined]);
  p.phase('images', images.values());
  const quorum = p.track(
    (async () => {
      await Promise.all([...members.values(), joined]);
      return p.global(async () => {
        const members = await waitForQuorum(input);
        if (inv.etcd.auth.enabled) await enableEtcdAuth(input, t);
        return members;
      });
    })(),
  );
  p.phase('quorum', [quorum]);

  // Control plane. The first pass starts what is not serving and leaves a serving one
  // whose config changed for the rolling pass.
  const startDashboard = (h: string, deferRestart: boolean) =>
    act.startDashboard.executeWithOptions(
      { ...base, summary: `${h}: ${deferRestart ? 'configure and start' : 'restart'} dashboard` },
      [input, h, flavor(h), { deferRestart }],
    );
  const dashboards = p.perHost(cpHosts, async (h) => {
    await Promise.all([quorum, images.get(h.name)]);
    return p.step(quick, h.name, 'dashboard', () => startDashboard(h.name, true));
  });
  const cluster = p.track(
    (async () => {
      await firstOf([...dashboards.values()]);
      return p.global(async () => {
        return ensureGatewayCluster(input, t);
      });
    })(),
  );
  p.phase('cluster', [cluster]);

  // Data plane.
  const startGateway = (h: string, clusterId: string, deferRestart: boolean) =>
    act.startGateway.executeWithOptions(
      { ...base, summary: `${h}: ${deferRestart ? 'configure and start' : 'restart'} gateway` },
      [input, h, flavor(h), clusterId, { deferRestart }],
    );
  const gateways = p.perHost(dpHosts, async (h) => {
    const [clusterId] = await Promise.all([cluster, images.get(h.name)]);
    return p.step(quick, h.name, 'gateway', () => startGateway(h.name, clusterId, true));
  });

  // Rolling restarts of what was serving, once every first pass of that role is through.
  const rolling = (
    hosts: Host[],
    firstPass: Map<string, Promise<StepResult>>,
    step: string,
    restart: (h: string) => Promise<StepResult>,
  ) =>
    p.track(
      (async () => {
        const passed = await Promise.all(firstPass.values());
        const slots = restartSlots(hosts);
        await Promise.all(
          passed
            .filter((r) => r.restartDeferred)
            .map((r) => slots.run(() => p.step(quick, r.host, step, () => restart(r.host)))),
        );
      })(),
    );
  const dashboardsDone = rolling(cpHosts, dashboards, 'dashboard', (h) => startDashboard(h, false));
  const gatewaysDone = rolling(dpHosts, gateways, 'gateway', async (h) =>
    startGateway(h, await cluster, false),
  );
  p.phase('dashboards', [dashboardsDone]);
  p.phase('gateways', [gatewaysDone]);

  // The proof, end to end through the data-plane load balancer.
  const proof = p.track(
    (async () => {
      const [clusterId] = await Promise.all([cluster, dashboardsDone, gatewaysDone]);
      return p.global(async () => {
        return proveTraffic(input, t, clusterId);
      });
    })(),
  );
  p.phase('prove', [proof]);

  await p.settle();
  t.enter('done');
  return {
    cluster: inv.cluster,
    clusterId: await cluster,
    changes: progress.changes,
    bytesUploaded: progress.bytesUploaded,
    etcdMembers: await quorum,
    proof: await proof,
    steps: t.steps,
    warnings: progress.warnings,
    loadBalancers: inv.loadBalancers,
  };
}
