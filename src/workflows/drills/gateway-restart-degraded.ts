// The gateway-restart-degraded drill (apache/apisix #5115, #3878: a gateway exits at start
// when too few etcd members answer): with one etcd member down, restart one gateway. It
// must come back, take traffic through the data-plane load balancer again, and route a
// route written during the fault. When it does not, the verdict says so, with the cause
// read from its container. Two components are faulted on purpose (never more), and etcd
// keeps its quorum.
import { sleep } from '@temporalio/workflow';
import { act, base, restore } from './activities';
import { restartComponent } from './component-stop';
import { controlPlaneReasons } from './etcd-member';
import { probeReason, waitRecovered, type Drill } from './fault';
import { hostsWith } from '../../model/components';
import type { Inventory } from '../../config/inventory';

export function gatewayRestartDegradedDrill(
  inv: Inventory,
  gatewayHost: string,
  etcdHost: string,
): Drill {
  return {
    host: gatewayHost,
    component: `data-plane (etcd on ${etcdHost} down)`,
    targets: [
      { host: etcdHost, component: 'etcd' },
      { host: gatewayHost, component: 'data-plane' },
    ],
    async fault({ input, options, record, clusterId, now, injected }) {
      const probe = act.probeLoadBalancer.executeWithOptions(
        {
          ...base,
          startToCloseTimeout: options.holdMs + 120_000,
          summary: `probe the data-plane load balancer at ${options.rate}/s`,
        },
        [input, 'data-plane', options.rate, options.holdMs + 1000, clusterId],
      );
      probe.catch(() => undefined);
      await sleep(1000);
      injected();
      await act.stopComponent.executeWithOptions(
        { ...base, summary: `${etcdHost}: stop etcd member` },
        [input, etcdHost, 'etcd'],
      );
      record.faultAt = now();
      await act.stopComponent.executeWithOptions(
        { ...base, summary: `${gatewayHost}: docker compose down (data-plane)` },
        [input, gatewayHost, 'data-plane'],
      );
      await act.startComponent.executeWithOptions(
        {
          ...base,
          summary: `${gatewayHost}: docker compose up (data-plane), etcd on ${etcdHost} down`,
        },
        [input, gatewayHost, 'data-plane'],
      );
      const back = await act.gatewayRestartChecks.executeWithOptions(
        {
          ...base,
          startToCloseTimeout: options.tolerances.maxRecoveryMs + 120_000,
          summary: `${gatewayHost}: is the restarted gateway back and taking traffic?`,
        },
        [input, gatewayHost, options.tolerances.maxRecoveryMs],
      );
      record.checks = {
        gatewayBack: back.back,
        gatewayBackAfterMs: back.backAfterMs ?? -1,
        takesLbTraffic: back.takesLbTraffic,
        cause: back.cause ?? '',
      };
      if (!back.back)
        record.reasons.push(
          `the gateway on ${gatewayHost} did not come back within ${options.tolerances.maxRecoveryMs / 1000} s of its restart while the etcd member on ${etcdHost} was down: ${back.cause ?? 'cause unknown'} (a gateway that exits at start when etcd members are missing: apache/apisix #5115, #3878)`,
        );
      else {
        if (!back.takesLbTraffic)
          record.reasons.push(
            `the data-plane load balancer sent no requests to the restarted gateway on ${gatewayHost}`,
          );
        const checks = await act.etcdDrillChecks.executeWithOptions(
          {
            ...base,
            summary: `a route written with ${etcdHost}'s etcd down reaches every gateway, ${gatewayHost}'s too`,
          },
          [input, clusterId, etcdHost, options.holdMs],
        );
        record.checks = { ...record.checks, ...checks, problems: checks.problems.join('; ') };
        record.reasons.push(...controlPlaneReasons(checks, hostsWith(inv, 'etcd').length - 1));
      }
      record.reasons.push(...back.problems);
      record.probe = await probe;
      const why = probeReason(options, record.probe);
      if (why) record.reasons.push(why);
    },
    async restore(ctx) {
      await restartComponent(ctx, etcdHost, 'etcd');
      // Idempotent: a gateway that came back is left as it is.
      await restore.startComponent.executeWithOptions(
        { ...base, summary: `${gatewayHost}: restore data-plane` },
        [ctx.input, gatewayHost, 'data-plane'],
      );
      await waitRecovered(ctx, gatewayHost, 'data-plane');
    },
  };
}
