// The guide's gateway and dashboard drills: `docker compose down` on one host, measured
// through that component's load balancer from a second before the stop to the fault's end.
// `docker compose down` itself takes seconds (3–4 s on the lab), and the probe's length is
// fixed when it starts, so the probe runs for the hold plus an allowance for the stop: the
// component is then down for at least the hold while the probe is still measuring.
import { sleep } from '@temporalio/workflow';
import { act, base, restore } from './activities';
import { probeReason, waitRecovered, type Drill } from './fault';

/** How long the stop may take and the component still be down for the whole hold. */
export const STOP_ALLOWANCE_MS = 10_000;

export function componentStopDrill(host: string, component: 'data-plane' | 'control-plane'): Drill {
  return {
    host,
    component,
    targets: [{ host, component }],
    async fault({ input, options, record, clusterId, now, injected }) {
      // Probe from just before the fault to its end, so the moment of failure is measured too.
      const probe = act.probeLoadBalancer.executeWithOptions(
        {
          ...base,
          startToCloseTimeout: options.holdMs + STOP_ALLOWANCE_MS + 120_000,
          summary: `probe the ${component} load balancer at ${options.rate}/s`,
        },
        [input, component, options.rate, 1000 + options.holdMs + STOP_ALLOWANCE_MS, clusterId],
      );
      probe.catch(() => undefined); // awaited below; never an unhandled rejection if the stop fails
      await sleep(1000);
      injected();
      await act.stopComponent.executeWithOptions(
        { ...base, summary: `${host}: docker compose down (${component})` },
        [input, host, component],
      );
      record.faultAt = now();
      record.probe = await probe;
      const why = probeReason(options, record.probe);
      if (why) record.reasons.push(why);
    },
    restore: (ctx) => restartComponent(ctx, host, component),
  };
}

/** Undo the guide's fault (`compose up -d` / `docker start etcd`) and wait until healthy. */
export async function restartComponent(
  ctx: Parameters<Drill['restore']>[0],
  host: string,
  component: 'data-plane' | 'control-plane' | 'etcd',
) {
  await restore.startComponent.executeWithOptions(
    { ...base, summary: `${host}: restore ${component}` },
    [ctx.input, host, component],
  );
  ctx.record.restoredAt ??= ctx.now();
  await waitRecovered(ctx, host, component);
}
