// deployHA: the vendor's HA procedure as a durable workflow. Each step is an idempotent
// activity; after a crash the workflow resumes where it was without redoing finished steps.
//
// After the two global checks, every host runs its own chain in the vendor's order —
// prepare, ship, then its etcd member and/or images, then its dashboard or gateway — and a
// link waits only for what it really needs (deploy-pipelines.ts).
import { patched, upsertSearchAttributes } from '@temporalio/workflow';
import type { DeployInput } from '../activities/context';
import type { ProofResult } from '../activities/gateway';
import type { Inventory } from '../config/inventory';
import { CLUSTER } from '../temporal/search-attributes';
import { deployByPhases } from './deploy-by-phases';
import { deployInPipelines } from './deploy-pipelines';
import { DeployTracker } from './deploy-tracker';

export { deployProgressQuery } from './deploy-tracker';

export interface DeploySummary {
  cluster: string;
  clusterId: string;
  changes: number;
  bytesUploaded: number;
  etcdMembers: string[];
  proof: ProofResult;
  steps: Record<string, string[]>;
  warnings: string[];
  loadBalancers: Inventory['loadBalancers'];
}

export async function deployHA(input: DeployInput): Promise<DeploySummary> {
  // patched(): runs recorded with phase barriers replay as they ran.
  const pipelines = patched('per-host-pipelines');
  const t = new DeployTracker(input.inventory);
  upsertSearchAttributes([{ key: CLUSTER, value: input.inventory.cluster }]);
  try {
    return await (pipelines ? deployInPipelines(input, t) : deployByPhases(input, t));
  } catch (e) {
    t.failed(e);
    throw e;
  }
}
