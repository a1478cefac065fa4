// The traffic probe of the drills: requests at a fixed rate through a load balancer while
// a fault lasts, with failures and latency percentiles.
import http from 'node:http';
import https from 'node:https';
import { Context } from '@temporalio/activity';
import { errorText } from '../util/errors';
import { httpRequest } from '../util/http';
import type { ProbeSeries, ProbeStats } from '../workflows/journal';
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

/** One probe request: when it started (ms after the probe's start), how long it took, whether it failed. */
interface Sample {
  atMs: number;
  latencyMs: number;
  failed: boolean;
}

/** Tenths of a millisecond are all a chart shows; fewer digits keep history small. */
const tenths = (ms: number) => Math.round(ms * 10) / 10;

/** The samples bucketed per second of the probe, `seconds` entries at least. */
export function probeSeries(startedAt: Date, samples: Sample[], seconds: number): ProbeSeries {
  const last = samples.reduce((n, s) => Math.max(n, Math.floor(s.atMs / 1000)), -1);
  const buckets = Array.from({ length: Math.max(seconds, last + 1) }, () => ({
    latencies: [] as number[],
    failures: 0,
  }));
  for (const s of samples) {
    const b = buckets[Math.max(0, Math.floor(s.atMs / 1000))]!;
    b.latencies.push(s.latencyMs);
    if (s.failed) b.failures++;
  }
  const sorted = buckets.map((b) => b.latencies.sort((x, y) => x - y));
  return {
    startedAt: startedAt.toISOString(),
    requests: sorted.map((l) => l.length),
    failures: buckets.map((b) => b.failures),
    p50Ms: sorted.map((l) => tenths(percentile(l, 50))),
    p95Ms: sorted.map((l) => tenths(percentile(l, 95))),
  };
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
  const samples: Sample[] = [];
  const errors = new Map<string, number>();
  let failures = 0;
  const lb =
    target === 'data-plane'
      ? input.inventory.loadBalancers.dataPlane
      : input.inventory.loadBalancers.controlPlane;
  const agent = lb.startsWith('https:')
    ? new https.Agent({ keepAlive: true, maxSockets: 16 })
    : new http.Agent({ keepAlive: true, maxSockets: 16 });
  const startedAt = new Date();
  const startPerf = performance.now();
  const once = async () => {
    const t0 = performance.now();
    let failed = false;
    try {
      let problem: string | undefined;
      if (target === 'data-plane') problem = await dataPlaneOnce(input, agent);
      else {
        const api = await dashboardLogin(input);
        await api.routes(clusterId);
      }
      if (problem) throw new Error(problem);
    } catch (e) {
      failed = true;
      failures++;
      const why = errorText(e).slice(0, 160);
      errors.set(why, (errors.get(why) ?? 0) + 1);
    } finally {
      samples.push({ atMs: t0 - startPerf, latencyMs: performance.now() - t0, failed });
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
  const sorted = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  const requests = samples.length;
  return {
    target:
      target === 'data-plane'
        ? `GET ${input.inventory.smokeTest.host}${input.inventory.smokeTest.uri} via ${input.inventory.loadBalancers.dataPlane}`
        : `login + read routes via ${input.inventory.loadBalancers.controlPlane}`,
    requests,
    failures,
    failedRatio: requests ? failures / requests : 1,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    errors: [...errors].map(([why, n]) => `${n}× ${why}`).slice(0, 5),
    series: probeSeries(startedAt, samples, Math.ceil(durationMs / 1000)),
  };
}
