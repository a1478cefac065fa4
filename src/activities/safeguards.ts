// The safeguards of a held fault: while a drill holds its fault, keep checking what the
// steady state checked, and return as soon as one trips so the workflow restores at
// once. Two safeguards live here (the third, the operator's cancel, is the workflow's):
// the failed share through a load balancer passes its bound over a short window, or a
// component that is not the drill's target stays unhealthy for a while.
import { etcdHttpGet } from '../etcd/client';
import { findHost } from '../commands/layout';
import { etcdEndpoint } from '../commands/etcd';
import { componentFacts, COMPONENTS, hostsWith, type ComponentName } from '../model/components';
import { errorText } from '../util/errors';
import { httpRequest } from '../util/http';
import type { SafeguardLimits, SafeguardTrip } from '../workflows/journal';
import { activitySleep, heartbeat, type DeployInput } from './context';
import { etcdAccess } from './etcd';
import { dataPlaneOnce } from './probe';

/** A component a drill faults on purpose; the safeguards do not watch it. */
export interface DrillTarget {
  host: string;
  component: ComponentName;
}

const TICK_MS = 500;
const MIN_SAMPLES = 4;

/** One component's liveness, cheap enough for every tick: a problem, or undefined. */
async function componentProblem(
  input: DeployInput,
  host: string,
  component: ComponentName,
): Promise<string | undefined> {
  const inv = input.inventory;
  const h = findHost(inv, host);
  try {
    switch (component) {
      case 'etcd': {
        const r = await etcdHttpGet(etcdAccess(input), etcdEndpoint(inv, h), '/health');
        return r.status === 200 && (JSON.parse(r.body) as { health?: string }).health === 'true'
          ? undefined
          : `etcd member on ${host}: /health answered ${r.status} ${r.body.trim().slice(0, 80)}`;
      }
      case 'control-plane': {
        const r = componentFacts(inv, component).readiness;
        if (r.kind !== 'dashboard') throw new Error('the dashboard has a dashboard readiness');
        const res = await httpRequest(`http://${h.address}:${r.port}${r.path}`, {
          timeoutMs: 2000,
        });
        return res.status === 200 && res.body.trim() === r.body
          ? undefined
          : `dashboard on ${host}: ${r.path} answered HTTP ${res.status}`;
      }
      case 'data-plane': {
        // Serving the test route, not whether it reaches etcd: etcd drills cut that on purpose.
        const res = await httpRequest(
          `http://${h.address}:${inv.gateway.httpPort}${inv.smokeTest.uri}`,
          { headers: { host: inv.smokeTest.host }, timeoutMs: 2000 },
        );
        return res.status === 200 ? undefined : `gateway on ${host}: HTTP ${res.status}`;
      }
    }
  } catch (e) {
    return `${componentFacts(inv, component).noun} on ${host}: ${errorText(e)}`;
  }
}

async function controlPlaneOnce(input: DeployInput): Promise<string | undefined> {
  const r = componentFacts(input.inventory, 'control-plane').readiness;
  if (r.kind !== 'dashboard') throw new Error('the dashboard has a dashboard readiness');
  const res = await httpRequest(
    new URL(r.path, input.inventory.loadBalancers.controlPlane).toString(),
    {
      timeoutMs: 3000,
    },
  );
  return res.status === 200 ? undefined : `HTTP ${res.status}`;
}

/**
 * Watch for `durationMs` (or until cancelled, when the hold ends first): both load
 * balancers twice a second, and every component that is not a target. Returns the first
 * safeguard that trips, or undefined.
 */
export async function watchSafeguards(
  input: DeployInput,
  targets: DrillTarget[],
  limits: SafeguardLimits,
  durationMs: number,
): Promise<SafeguardTrip | undefined> {
  const inv = input.inventory;
  const isTarget = (host: string, c: ComponentName) =>
    targets.some((t) => t.host === host && t.component === c);
  const watched = COMPONENTS.flatMap((c) =>
    hostsWith(inv, c)
      .filter((h) => !isTarget(h.name, c))
      .map((h) => ({ host: h.name, component: c })),
  );
  const lbs = [
    { name: 'data-plane', url: inv.loadBalancers.dataPlane, once: () => dataPlaneOnce(input) },
    {
      name: 'control-plane',
      url: inv.loadBalancers.controlPlane,
      once: () => controlPlaneOnce(input),
    },
  ];
  const samples = new Map<string, Array<{ t: number; failed: boolean }>>(
    lbs.map((lb) => [lb.name, []]),
  );
  const unhealthySince = new Map<string, number>();
  const start = Date.now();
  const trip = (safeguard: SafeguardTrip['safeguard'], detail: string): SafeguardTrip => ({
    safeguard,
    at: new Date().toISOString(),
    detail,
  });
  while (Date.now() - start < durationMs) {
    const tick = Date.now();
    const [lbResults, health] = await Promise.all([
      Promise.all(lbs.map((lb) => lb.once().catch((e: unknown) => errorText(e)))),
      Promise.all(watched.map((w) => componentProblem(input, w.host, w.component))),
    ]);
    const now = Date.now();
    for (const [i, lb] of lbs.entries()) {
      const list = samples.get(lb.name)!;
      list.push({ t: now, failed: lbResults[i] !== undefined });
      while (list.length && list[0]!.t < now - limits.windowMs) list.shift();
      const failed = list.filter((s) => s.failed).length;
      // Enough samples to speak of a share.
      if (list.length >= MIN_SAMPLES && failed / list.length > limits.maxFailedShare)
        return trip(
          'failed-share',
          `${failed} of ${list.length} requests through the ${lb.name} load balancer (${lb.url}) failed in ${limits.windowMs / 1000} s (bound ${limits.maxFailedShare * 100} %); last: ${lbResults[i]}`,
        );
    }
    for (const [i, w] of watched.entries()) {
      const key = `${w.component}@${w.host}`;
      const problem = health[i];
      if (!problem) {
        unhealthySince.delete(key);
        continue;
      }
      const since = unhealthySince.get(key) ?? now;
      unhealthySince.set(key, since);
      if (now - since >= limits.unhealthyForMs)
        return trip(
          'second-component',
          `${problem} (not the drill's target; unhealthy for ${Math.round((now - since) / 1000)} s)`,
        );
    }
    heartbeat({ watched: watched.length, elapsedMs: now - start });
    await activitySleep(Math.max(0, tick + TICK_MS - Date.now()));
  }
  return undefined;
}
