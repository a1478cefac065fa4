// The host drill: every component on one host goes at once, as when a machine dies. The
// host is cut off from the network by its own packet filter, all but SSH (why not its
// Docker engine: see docs/verify.md), so api7-ha heals it over the same link. Both load
// balancers are probed, and a route is written and read through the control plane.
import { sleep } from '@temporalio/workflow';
import type { Inventory } from '../../config/inventory';
import { componentsOn, hostsWith } from '../../model/components';
import { findHostIn } from './hosts';
import { act, base, restore } from './activities';
import { controlPlaneReasons } from './etcd-member';
import { probeReason, waitRecovered, type Drill } from './fault';

export function hostDrill(inv: Inventory, host: string): Drill {
  const components = componentsOn(inv, findHostIn(inv, host)).map((c) => c.name);
  return {
    host,
    component: components.join('+'),
    targets: components.map((component) => ({ host, component })),
    async fault({ input, options, record, clusterId, now, injected }) {
      const probe = (target: 'data-plane' | 'control-plane') => {
        const p = act.probeLoadBalancer.executeWithOptions(
          {
            ...base,
            startToCloseTimeout: options.holdMs + 120_000,
            summary: `probe the ${target} load balancer at ${options.rate}/s`,
          },
          [input, target, options.rate, options.holdMs + 1000, clusterId],
        );
        p.catch(() => undefined);
        return p;
      };
      const dataPlane = probe('data-plane');
      const controlPlane = probe('control-plane');
      await sleep(1000);
      injected();
      await act.cutOffHost.executeWithOptions(
        { ...base, summary: `${host}: cut off from the network, all but SSH` },
        [input, host, 'host'],
      );
      record.faultAt = now();
      const checks = await act.etcdDrillChecks.executeWithOptions(
        {
          ...base,
          summary: `write, read and route through the control plane with ${host} gone`,
        },
        [input, clusterId, host, options.holdMs, [host]],
      );
      record.checks = { ...checks, problems: checks.problems.join('; ') };
      record.probe = await dataPlane;
      record.controlPlaneProbe = await controlPlane;
      const members =
        hostsWith(input.inventory, 'etcd').length - (components.includes('etcd') ? 1 : 0);
      for (const why of [
        probeReason(options, record.probe, ' through the data-plane load balancer'),
        probeReason(options, record.controlPlaneProbe, ' through the control-plane load balancer'),
      ])
        if (why) record.reasons.push(why);
      record.reasons.push(...controlPlaneReasons(checks, members));
    },
    async restore(ctx) {
      await restore.reconnectHost.executeWithOptions(
        { ...base, summary: `${host}: remove the packet filter` },
        [ctx.input, host, 'host'],
      );
      ctx.record.restoredAt = ctx.now();
      for (const c of components) await waitRecovered(ctx, host, c);
    },
  };
}
