// Phases 9-11: the gateway cluster in the dashboard, the gateways, and the proof that
// traffic flows through the data-plane load balancer.
import { ApplicationFailure } from '@temporalio/common';
import type { Route } from '../api/dashboard';
import type { ComposeFlavor } from '../commands/compose';
import { renderGatewayConfig } from '../commands/config-files';
import { httpRequest } from '../util/http';
import {
  etcdPassword,
  pollUntil,
  type DeployInput,
  type StartOptions,
  type StepResult,
} from './context';
import { configureAndStart } from './compose';
import { dashboardLogin } from './dashboard';
import { gatewayProblem } from './health';

/** A gateway waits for etcd at start; on a loaded host that takes a while. */
const GATEWAY_START_MS = 90_000;

/** Find the gateway cluster by name through the control-plane load balancer, or create it. */
export async function ensureGatewayCluster(
  input: DeployInput,
): Promise<{ id: string; created: boolean }> {
  const name = input.inventory.dashboard.gatewayClusterName;
  const fixed = input.inventory.dashboard.gatewayClusterId;
  return pollUntil(
    `the dashboard API through ${input.inventory.loadBalancers.controlPlane}`,
    async () => {
      const api = await dashboardLogin(input);
      const clusters = await api.clusters();
      if (fixed) {
        if (clusters.some((c) => c.id === fixed)) return { id: fixed, created: false };
        throw ApplicationFailure.nonRetryable(
          `dashboard.gatewayClusterId: the dashboard has no gateway cluster ${fixed}`,
          'InventoryError',
        );
      }
      const found = clusters.find((c) => c.name === name);
      if (found) return { id: found.id, created: false };
      return { id: (await api.createCluster(name)).id, created: true };
    },
    60_000,
    1000,
  );
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

/** Phase 10 on one host: the gateway's config.yaml, compose up, until it reaches etcd. */
export async function startGateway(
  input: DeployInput,
  hostName: string,
  flavor: ComposeFlavor,
  clusterId: string,
  options: StartOptions = {},
): Promise<StepResult> {
  const inv = input.inventory;
  const secrets = { etcdPassword: etcdPassword(input) };
  return configureAndStart(input, hostName, {
    component: 'data-plane',
    flavor,
    render: (current) => renderGatewayConfig(inv, clusterId, secrets, current),
    deferRestart: options.deferRestart,
    problem: () => gatewayProblem(input, hostName),
    awaiting: `the gateway on ${hostName} to report apisix_etcd_reachable 1`,
    readyWithinMs: GATEWAY_START_MS,
  });
}

export function smokeRoute(input: DeployInput): Route {
  const t = input.inventory.smokeTest;
  return {
    id: t.routeId,
    uri: t.uri,
    host: t.host,
    upstream: { type: 'roundrobin', nodes: Object.fromEntries(t.upstream.map((u) => [u, 1])) },
  };
}

export interface ProofResult {
  /** Whether the test route had to be created or updated. */
  routeChanged: boolean;
  route: string;
  status: number;
  attempts: number;
  answer: string;
}

/** Create the test route via the control plane; GET it via the data plane until it answers. */
export async function proveTraffic(input: DeployInput, clusterId: string): Promise<ProofResult> {
  const inv = input.inventory;
  const route = smokeRoute(input);
  const api = await dashboardLogin(input);
  const current = await api.getRoute(clusterId, route.id).catch(() => undefined);
  const same =
    current?.uri === route.uri &&
    current.host === route.host &&
    JSON.stringify(current.upstream?.nodes) === JSON.stringify(route.upstream.nodes);
  if (!same) await api.putRoute(clusterId, route);
  let attempts = 0;
  const url = new URL(inv.smokeTest.uri, inv.loadBalancers.dataPlane).toString();
  const answer = await pollUntil(
    `GET ${url} with Host ${inv.smokeTest.host} through the data-plane load balancer`,
    async () => {
      attempts++;
      const r = await httpRequest(url, { headers: { host: inv.smokeTest.host }, timeoutMs: 3000 });
      return r.status === 200 ? r : undefined;
    },
    60_000,
  );
  let parsed: { url?: string } = {};
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    throw ApplicationFailure.nonRetryable(
      `the data plane answered ${url} with something that is not the upstream's JSON: ${answer.body.slice(0, 200)}`,
      'ProofFailed',
    );
  }
  return {
    routeChanged: !same,
    route: `${inv.smokeTest.host}${inv.smokeTest.uri}`,
    status: answer.status,
    attempts,
    answer: parsed.url ?? answer.body.slice(0, 200),
  };
}
