// The traffic probe of the drills: requests at a fixed rate through a load balancer while
// a fault lasts, with failures and latency percentiles.
import http from 'node:http';
import https from 'node:https';
import { Context } from '@temporalio/activity';
import { errorText } from '../util/errors';
import { httpRequest } from '../util/http';
import type { ProbeStats } from '../workflows/journal';
import { heartbeat, type DeployInput } from './context';
import { dashboardLogin } from './dashboard';

/** One request for the test route through the data-plane LB; a problem text or undefined. */
export async function dataPlaneOnce(
  input: DeployInput,
  agent?: http.Agent,
): Promise<string | undefined> {
  const inv = input.inventory;
  const url = new URL(inv.smokeTest.uri, inv.loadBalancers.dataPlane).toString();
  const r = await httpRequest(url, {
    headers: { host: inv.smokeTest.host },
    timeoutMs: 3000,
    agent,
  });
  return r.status === 200 ? undefined : `HTTP ${r.status}`;
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
