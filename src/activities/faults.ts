// The drills' steps around a fault: a steady state first (nothing is injected into a
// degraded cluster), the guide's fault and its restore, and the etcd drill's checks while
// a member is down. Restores are idempotent and safe to repeat.
import { randomUUID } from 'node:crypto';
import type { ComposeFlavor } from '../commands/compose';
import { faultArgv, restoreArgv } from '../commands/drills';
import { etcdEndpoint, etcdMembers } from '../commands/etcd';
import { findHost } from '../commands/layout';
import { clusterHealth, memberHealth } from '../etcd/health';
import { hostsWith, type ComponentName } from '../model/components';
import { errorText } from '../util/errors';
import { httpRequest } from '../util/http';
import { keepHeartbeating, pollUntil, withHost, type DeployInput } from './context';
import { composeFlavor } from './compose';
import { dashboardLogin } from './dashboard';
import { etcdAccess } from './etcd';
import { findGatewayClusterId, smokeRoute } from './gateway';
import { dashboardProblem, gatewayServing } from './health';
import { dataPlaneOnce } from './probe';

export interface SteadyState {
  ok: boolean;
  problems: string[];
  clusterId?: string;
}

/** All members healthy, every dashboard and gateway healthy, both load balancers serving. */
export async function steadyState(input: DeployInput): Promise<SteadyState> {
  const inv = input.inventory;
  const ticker = keepHeartbeating();
  try {
    const problems: string[] = [];
    const etcd = await clusterHealth(
      etcdAccess(input),
      etcdMembers(inv).map((m) => m.name),
    );
    problems.push(...etcd.problems.map((p) => `etcd: ${p}`));
    for (const h of hostsWith(inv, 'control-plane')) {
      const p = await withHost(input, h.name, (ssh) => dashboardProblem(ssh, input, h.name)).catch(
        (e: unknown) => `${h.name}: ${errorText(e)}`,
      );
      if (p) problems.push(p);
    }
    for (const h of hostsWith(inv, 'data-plane')) {
      const p = await gatewayServing(input, h.name);
      if (p) problems.push(p);
    }
    const dp = await dataPlaneOnce(input).catch((e: unknown) => errorText(e));
    if (dp) problems.push(`data-plane load balancer: ${dp}`);
    let clusterId: string | undefined;
    try {
      clusterId = await findGatewayClusterId(input);
      const api = await dashboardLogin(input);
      await api.routes(clusterId);
    } catch (e) {
      problems.push(`control-plane load balancer: login and read failed: ${errorText(e)}`);
    }
    return { ok: problems.length === 0, problems, clusterId };
  } finally {
    clearInterval(ticker);
  }
}

/** Inject the guide's fault (see commands/drills.ts); returns the command run. */
export const stopComponent = (input: DeployInput, hostName: string, component: ComponentName) =>
  runDrillCommand(input, hostName, (flavor) => faultArgv(input.inventory, flavor, component));

/** Undo stopComponent; safe to repeat. */
export const startComponent = (input: DeployInput, hostName: string, component: ComponentName) =>
  runDrillCommand(input, hostName, (flavor) => restoreArgv(input.inventory, flavor, component));

/** Run a drill's command, built for the host's compose tool; returns it for the journal. */
async function runDrillCommand(
  input: DeployInput,
  hostName: string,
  argvFor: (flavor: ComposeFlavor) => string[],
): Promise<string> {
  return withHost(input, hostName, async (ssh) => {
    const argv = argvFor(await composeFlavor(ssh));
    await ssh.exec(argv);
    return argv.join(' ');
  });
}

export interface EtcdDrillChecks {
  routeWritten: boolean;
  routeReadBack: boolean;
  gatewaysRouted: boolean;
  healthyMembers: number;
  leader: boolean;
  problems: string[];
}

/** While one member is down: write and read a route via the control plane; gateways pick it up. */
export async function etcdDrillChecks(
  input: DeployInput,
  clusterId: string,
  downHost: string,
  timeoutMs: number,
  /** Hosts cut off by the drill: their gateways are not asked (the host drill). */
  unreachable: string[] = [],
): Promise<EtcdDrillChecks> {
  const inv = input.inventory;
  const ticker = keepHeartbeating();
  const routeId = `api7-ha-drill-${randomUUID().slice(0, 8)}`;
  const drillHost = `${routeId}.verify.test`;
  const out: EtcdDrillChecks = {
    routeWritten: false,
    routeReadBack: false,
    gatewaysRouted: false,
    healthyMembers: 0,
    leader: false,
    problems: [],
  };
  try {
    const access = etcdAccess(input);
    const health = await Promise.all(access.endpoints.map((e) => memberHealth(access, e)));
    out.healthyMembers = health.filter((m) => m.healthy).length;
    out.leader = health.some((m) => m.healthy && m.leader && m.leader !== '0');
    const down = etcdEndpoint(inv, findHost(inv, downHost));
    if (health.find((m) => m.endpoint === down)?.healthy)
      out.problems.push(`the member on ${downHost} still answers (it should be down or cut off)`);
    const api = await dashboardLogin(input);
    const route = { ...smokeRoute(input), id: routeId, host: drillHost };
    await api.putRoute(clusterId, route);
    out.routeWritten = true;
    out.routeReadBack = (await api.getRoute(clusterId, routeId)).host === drillHost;
    // Every gateway, asked directly, must route it (the load balancer would hide a laggard).
    const gateways = [
      new URL(inv.smokeTest.uri, inv.loadBalancers.dataPlane).toString(),
      ...hostsWith(inv, 'data-plane')
        .filter((h) => !unreachable.includes(h.name))
        .map((h) => `http://${h.address}:${inv.gateway.httpPort}${inv.smokeTest.uri}`),
    ];
    out.gatewaysRouted = await pollUntil(
      `the data-plane load balancer and every gateway to route ${drillHost}`,
      async () => {
        const codes = await Promise.all(
          gateways.map(
            async (u) =>
              (await httpRequest(u, { headers: { host: drillHost }, timeoutMs: 3000 })).status,
          ),
        );
        return codes.every((c) => c === 200) ? true : undefined;
      },
      timeoutMs,
      250,
    ).catch((e: unknown) => {
      out.problems.push(errorText(e));
      return false;
    });
    await api
      .deleteRoute(clusterId, routeId)
      .catch((e: unknown) => out.problems.push(`could not delete ${routeId}: ${errorText(e)}`));
  } catch (e) {
    out.problems.push(errorText(e));
  } finally {
    clearInterval(ticker);
  }
  return out;
}
