// VerifyHA's effectful steps: look at the cluster, inject one fault, measure through the
// load balancers, restore, and check recovery. Restores are idempotent and safe to repeat.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { composePluginArgv } from '../commands/docker';
import { faultArgv, restoreArgv } from '../commands/drills';
import { etcdMembers } from '../commands/etcd';
import { findHost } from '../commands/layout';
import { hostsWith, type ComponentName } from '../model/components';
import { clusterHealth, memberHealth, memberKvHash } from '../etcd/health';
import { runningRuns, sharedClient } from '../temporal/lookup';
import { httpRequest } from '../util/http';
import type { ProbeStats } from '../workflows/journal';
import { heartbeat, keepHeartbeating, pollUntil, withHost, type DeployInput } from './context';
import { dashboardLogin, smokeRoute } from './data-plane';
import { etcdAccess } from './etcd';
import { dashboardProblem, gatewayProblem } from './health';
import { errorText } from '../util/errors';
import type { ComposeFlavor } from '../commands/compose';

/** Which compose tool a host has (the drills run the guide's `docker compose down/up`). */
async function composeFlavor(
  ssh: Parameters<Parameters<typeof withHost>[2]>[0],
): Promise<ComposeFlavor> {
  return (await ssh.execRaw(composePluginArgv())).code === 0 ? 'plugin' : 'standalone';
}

/** The gateway cluster the deploy created (by name), or the fixed one. */
export async function findGatewayClusterId(input: DeployInput): Promise<string> {
  const inv = input.inventory;
  if (inv.dashboard.gatewayClusterId) return inv.dashboard.gatewayClusterId;
  const api = await dashboardLogin(input);
  const found = (await api.clusters()).find((c) => c.name === inv.dashboard.gatewayClusterName);
  if (!found)
    throw ApplicationFailure.nonRetryable(
      `no gateway cluster "${inv.dashboard.gatewayClusterName}" in the dashboard: deploy first`,
      'NotDeployed',
    );
  return found.id;
}

export interface Exclusion {
  /** Why a verification must not run now, if it must not. */
  blockedBy?: string;
  /** How many verifications of this cluster ran before (for rotating the faulted host). */
  previousRuns: number;
}

export async function checkExclusion(cluster: string, selfWorkflowId: string): Promise<Exclusion> {
  const client = await sharedClient();
  const deploys = await runningRuns(client, 'deployHA', cluster);
  const verifies = await runningRuns(client, 'verifyHA', cluster, selfWorkflowId);
  const previousRuns =
    (await client.workflow.count(`WorkflowType = 'verifyHA' AND Api7Cluster = '${cluster}'`))
      .count - 1;
  const backups = await runningRuns(client, 'backupEtcd', cluster);
  const blockedBy = deploys.length
    ? `a deploy of ${cluster} is running (${deploys.join(', ')}); drills never run during a deploy`
    : verifies.length
      ? `another verification of ${cluster} is running (${verifies.join(', ')})`
      : backups.length
        ? `a backup of ${cluster} is running (${backups.join(', ')}); the etcd drill would stop its member`
        : undefined;
  return { blockedBy, previousRuns: Math.max(0, previousRuns) };
}

export interface SteadyState {
  ok: boolean;
  problems: string[];
  clusterId?: string;
}

async function gatewayServing(input: DeployInput, hostName: string): Promise<string | undefined> {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  try {
    const notReady = await gatewayProblem(input, hostName);
    if (notReady) return notReady;
    const r = await httpRequest(
      `http://${host.address}:${inv.gateway.httpPort}${inv.smokeTest.uri}`,
      { headers: { host: inv.smokeTest.host }, timeoutMs: 3000 },
    );
    return r.status === 200
      ? undefined
      : `gateway on ${hostName} answers the test route with HTTP ${r.status}`;
  } catch (e) {
    return `gateway on ${hostName} is not serving: ${errorText(e)}`;
  }
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

/** One request for the test route through the data-plane LB; a problem text or undefined. */
async function dataPlaneOnce(input: DeployInput, agent?: http.Agent): Promise<string | undefined> {
  const inv = input.inventory;
  const url = new URL(inv.smokeTest.uri, inv.loadBalancers.dataPlane).toString();
  const r = await httpRequest(url, {
    headers: { host: inv.smokeTest.host },
    timeoutMs: 3000,
    agent,
  });
  return r.status === 200 ? undefined : `HTTP ${r.status}`;
}

/** Inject the guide's fault (see commands/drills.ts); returns the command run. */
export async function stopComponent(
  input: DeployInput,
  hostName: string,
  component: ComponentName,
): Promise<string> {
  return withHost(input, hostName, async (ssh) => {
    const argv = faultArgv(input.inventory, await composeFlavor(ssh), component);
    await ssh.exec(argv);
    return argv.join(' ');
  });
}

/** Undo stopComponent; safe to repeat. */
export async function startComponent(
  input: DeployInput,
  hostName: string,
  component: ComponentName,
): Promise<string> {
  return withHost(input, hostName, async (ssh) => {
    const argv = restoreArgv(input.inventory, await composeFlavor(ssh), component);
    await ssh.exec(argv);
    return argv.join(' ');
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Probe a load balancer at `rate` requests per second for `durationMs`: the data plane
 * with the test route, the control plane with login + read routes. Cancellable.
 */
export async function probeLoadBalancer(
  input: DeployInput,
  target: 'data-plane' | 'control-plane',
  rate: number,
  durationMs: number,
  clusterId: string,
): Promise<ProbeStats> {
  const ctx = Context.current();
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let failures = 0;
  const lb =
    target === 'data-plane'
      ? input.inventory.loadBalancers.dataPlane
      : input.inventory.loadBalancers.controlPlane;
  const agent = lb.startsWith('https:')
    ? new https.Agent({ keepAlive: true, maxSockets: 16 })
    : new http.Agent({ keepAlive: true, maxSockets: 16 });
  const once = async () => {
    const t0 = performance.now();
    try {
      let problem: string | undefined;
      if (target === 'data-plane') problem = await dataPlaneOnce(input, agent);
      else {
        const api = await dashboardLogin(input);
        await api.routes(clusterId);
      }
      if (problem) throw new Error(problem);
    } catch (e) {
      failures++;
      const why = errorText(e).slice(0, 160);
      errors.set(why, (errors.get(why) ?? 0) + 1);
    } finally {
      latencies.push(performance.now() - t0);
    }
  };
  const inFlight = new Set<Promise<void>>();
  const start = Date.now();
  const interval = 1000 / rate;
  try {
    for (let i = 0; Date.now() - start < durationMs; i++) {
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      const p = once().finally(() => inFlight.delete(p));
      inFlight.add(p);
      heartbeat({ requests: i + 1, failures });
      const next = start + (i + 1) * interval;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    await Promise.all(inFlight);
  } finally {
    agent.destroy();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    target:
      target === 'data-plane'
        ? `GET ${input.inventory.smokeTest.host}${input.inventory.smokeTest.uri} via ${input.inventory.loadBalancers.dataPlane}`
        : `login + read routes via ${input.inventory.loadBalancers.controlPlane}`,
    requests: latencies.length,
    failures,
    failedRatio: latencies.length ? failures / latencies.length : 1,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    errors: [...errors].map(([why, n]) => `${n}× ${why}`).slice(0, 5),
  };
}

/** Wait until the restored component is healthy again; returns how long that took. */
export async function waitRecovered(
  input: DeployInput,
  hostName: string,
  component: ComponentName,
  timeoutMs: number,
): Promise<number> {
  const t0 = Date.now();
  const host = findHost(input.inventory, hostName);
  if (component === 'data-plane')
    await pollUntil(
      `the gateway on ${hostName} to serve again`,
      async () => ((await gatewayServing(input, hostName)) ? undefined : true),
      timeoutMs,
      250,
    );
  else if (component === 'control-plane')
    await pollUntil(
      `the dashboard on ${hostName} to be ready again`,
      async () =>
        (await withHost(input, hostName, (ssh) => dashboardProblem(ssh, input, hostName)))
          ? undefined
          : true,
      timeoutMs,
      250,
    );
  else {
    const endpoint = `${host.address}:${input.inventory.etcd.clientPort}`;
    await pollUntil(
      `etcd on ${hostName} to rejoin and catch up`,
      async () => ((await etcdCaughtUp(input, endpoint)) ? true : undefined),
      timeoutMs,
      250,
    );
  }
  return Date.now() - t0;
}

/** The member is healthy and has the same revision and KV hash as the others. */
async function etcdCaughtUp(input: DeployInput, endpoint: string): Promise<boolean> {
  const access = etcdAccess(input);
  const me = await memberHealth(access, endpoint);
  if (!me.healthy || !me.leader || me.leader === '0') return false;
  // Every member healthy, at the same revision, with the same backend hash.
  const members = await Promise.all(access.endpoints.map((e) => memberHealth(access, e)));
  if (members.some((m) => !m.healthy) || new Set(members.map((m) => m.revision)).size !== 1)
    return false;
  const revision = members[0]!.revision!;
  const hashes = await Promise.all(access.endpoints.map((e) => memberKvHash(access, e, revision)));
  return new Set(hashes).size === 1;
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
    const down = `${findHost(inv, downHost).address}:${inv.etcd.clientPort}`;
    if (health.find((m) => m.endpoint === down)?.healthy)
      out.problems.push(`the stopped member ${downHost} still answers`);
    const api = await dashboardLogin(input);
    const route = { ...smokeRoute(input), id: routeId, host: drillHost };
    await api.putRoute(clusterId, route);
    out.routeWritten = true;
    out.routeReadBack = (await api.getRoute(clusterId, routeId)).host === drillHost;
    // Every gateway, asked directly, must route it (the load balancer would hide a laggard).
    const gateways = [
      new URL(inv.smokeTest.uri, inv.loadBalancers.dataPlane).toString(),
      ...hostsWith(inv, 'data-plane').map(
        (h) => `http://${h.address}:${inv.gateway.httpPort}${inv.smokeTest.uri}`,
      ),
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
