// The etcd-partition drill (the Jepsen fault): one member is cut off from its peers and
// its clients by packet filtering on its host while its process keeps running. Writes
// and linearizable reads through the control plane keep working; the cut member answers
// no linearizable read; no gateway sees its stale data (each one routes a route written
// during the fault); after healing the member catches up to the same HashKV.
import { sleep } from '@temporalio/workflow';
import type { Inventory } from '../../config/inventory';
import { hostsWith } from '../../model/components';
import { act, base, restore } from './activities';
import { controlPlaneReasons } from './etcd-member';
import { waitRecovered, type Drill } from './fault';

export function etcdPartitionDrill(inv: Inventory, host: string): Drill {
  return {
    host,
    component: 'etcd',
    targets: [{ host, component: 'etcd' }],
    async fault({ input, options, record, clusterId, now, injected }) {
      injected();
      await act.cutOffHost.executeWithOptions(
        { ...base, summary: `${host}: cut etcd's client and peer ports off (iptables)` },
        [input, host, 'etcd'],
      );
      record.faultAt = now();
      const checks = await act.etcdDrillChecks.executeWithOptions(
        {
          ...base,
          summary: `write, read and route through the control plane with ${host}'s member cut off`,
        },
        [input, clusterId, host, options.holdMs],
      );
      const reads = await act.partitionReads.executeWithOptions(
        { ...base, summary: `linearizable reads on ${host}'s cut-off member and on the majority` },
        [input, host],
      );
      record.checks = {
        ...checks,
        isolatedAnsweredLinearizableRead: reads.isolatedAnswered,
        isolatedReadError: reads.isolatedError ?? '',
        majorityAnsweredLinearizableRead: reads.majorityAnswered,
        problems: [...checks.problems, ...reads.problems].join('; '),
      };
      await sleep(Math.max(0, options.holdMs - 1000));
      record.reasons.push(...controlPlaneReasons(checks, hostsWith(inv, 'etcd').length - 1));
      record.reasons.push(...reads.problems);
    },
    async restore(ctx) {
      await restore.reconnectHost.executeWithOptions(
        { ...base, summary: `${host}: remove etcd's packet filter` },
        [ctx.input, host, 'etcd'],
      );
      ctx.record.restoredAt = ctx.now();
      // Recovered = every member healthy at the same revision with the same HashKV.
      await waitRecovered(ctx, host, 'etcd');
      ctx.record.checks = { ...ctx.record.checks, hashKvEqualAfterHeal: true };
    },
  };
}
