// Custom search attributes: deploys and verifications can be filtered by cluster, phase
// and verdict in the Temporal UI. The embedded server registers them at start.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CLUSTER = defineSearchAttributeKey('Api7Cluster', SearchAttributeType.KEYWORD);
export const PHASE = defineSearchAttributeKey('Api7Phase', SearchAttributeType.KEYWORD);
export const VERDICT = defineSearchAttributeKey('Api7Verdict', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [CLUSTER, PHASE, VERDICT];

export const TASK_QUEUE = 'api7-ha';
