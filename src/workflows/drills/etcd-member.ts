// The guide's etcd drill: `docker stop etcd` on one member; reads and writes through the
// control plane must keep working, and the gateways must pick up a route written meanwhile.
import { sleep } from '@temporalio/workflow';
import type { EtcdDrillChecks } from '../../activities/faults';
import { hostsWith } from '../../model/components';
import { act, base } from './activities';
import { restartComponent } from './component-stop';
import type { Drill } from './fault';

export function etcdMemberDrill(host: string): Drill {
  return {
    host,
    component: 'etcd',
    targets: [{ host, component: 'etcd' }],
    async fault({ input, options, record, clusterId, now, injected }) {
      injected();
      await act.stopComponent.executeWithOptions(
        { ...base, summary: `${host}: stop etcd member` },
        [input, host, 'etcd'],
      );
      record.faultAt = now();
      const checks = await act.etcdDrillChecks.executeWithOptions(
        {
          ...base,
          summary: `write, read and route through the control plane with ${host}'s etcd down`,
        },
        [input, clusterId, host, options.holdMs],
      );
      record.checks = { ...checks, problems: checks.problems.join('; ') };
      await sleep(Math.max(0, options.holdMs - 1000));
      const members = hostsWith(input.inventory, 'etcd').length - 1;
      record.reasons.push(...controlPlaneReasons(checks, members));
    },
    restore: (ctx) => restartComponent(ctx, host, 'etcd'),
  };
}

/** What etcdDrillChecks found wrong, with `members` members expected healthy with a leader. */
export function controlPlaneReasons(checks: EtcdDrillChecks, members: number): string[] {
  const out: string[] = [];
  if (!checks.routeWritten || !checks.routeReadBack)
    out.push('could not write and read back a route through the control plane');
  if (!checks.gatewaysRouted) out.push('the gateways did not pick up the new route');
  if (checks.healthyMembers !== members || !checks.leader)
    out.push(
      `expected ${members} healthy members with a leader, saw ${checks.healthyMembers}${checks.leader ? '' : ' and no leader'}`,
    );
  out.push(...checks.problems);
  return out;
}
