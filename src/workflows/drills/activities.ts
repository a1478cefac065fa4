// The drills' activity proxies, with their timeouts and retries named once.
import { proxyActivities } from '@temporalio/workflow';
import type { VerifyActivities } from '../../activities';
import {
  activityOptions,
  DRILL_ATTEMPTS,
  DRILL_STEP_TIMEOUT,
  RECOVERY_ATTEMPTS,
  RESTORE_ATTEMPTS,
  retryPolicy,
} from '../activity-options';

const retry = retryPolicy(DRILL_ATTEMPTS, '5s');
export const base = activityOptions(DRILL_STEP_TIMEOUT, retry);
export const act = proxyActivities<VerifyActivities>(base);
/** Restores run even after cancellation (in a non-cancellable scope), and are retried for minutes. */
export const restore = proxyActivities<VerifyActivities>(
  activityOptions(DRILL_STEP_TIMEOUT, retryPolicy(RESTORE_ATTEMPTS, '10s')),
);
export const recovery = proxyActivities<VerifyActivities>({
  ...base,
  retry: { ...retry, maximumAttempts: RECOVERY_ATTEMPTS },
});
