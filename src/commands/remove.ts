// `api7-ha remove --plan`: what taking one host out runs there (pure): the drain of its
// dashboard or gateway (the drills' own `compose down`), the wait for the load balancer,
// then the teardown of that host (commands/teardown.ts), etcd data kept.
import type { Inventory } from '../config/inventory';
import { componentFacts, hasRole } from '../model/components';
import type { ComposeFlavor } from './compose';
import { faultArgv } from './drills';
import { findHost } from './layout';
import type { PlanStep } from './plan';
import { teardownPlan } from './teardown';

export function removePlan(
  inv: Inventory,
  hostName: string,
  flavor: ComposeFlavor = 'plugin',
): Record<string, PlanStep[]> {
  const host = findHost(inv, hostName);
  const steps: PlanStep[] = [];
  for (const c of (['data-plane', 'control-plane'] as const).filter((r) => hasRole(host, r)))
    steps.push(
      {
        phase: 'drain',
        run: faultArgv(inv, flavor, c),
        when: `stop the ${componentFacts(inv, c).noun}`,
      },
      {
        phase: 'drain',
        request: `wait ${inv.deploy.restartPauseSeconds} s (deploy.restartPauseSeconds) for the load balancer's health checks to mark it down`,
      },
    );
  const cleanup = teardownPlan({ ...inv, hosts: [host] }, 'keep')[hostName]!.map((s) => ({
    ...s,
    phase: `cleanup ${s.phase}`,
  }));
  return {
    [hostName]: [...steps, ...cleanup],
    '(api7-ha)': [
      {
        phase: 'prove',
        request: `GET ${inv.smokeTest.host}${inv.smokeTest.uri} through ${inv.loadBalancers.dataPlane} with the remaining hosts`,
      },
    ],
  };
}
