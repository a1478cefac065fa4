// How long activities may take and how they are retried, named once with the reason for
// each number. Errors no retry can cure are never retried (src/model/errors.ts).
import type { ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERRORS } from '../model/errors';

/** Activities heartbeat every 3 s (activities/context.ts): a lost worker is noticed in 20 s. */
export const HEARTBEAT_TIMEOUT = '20s';

/** Exponential backoff from 1 s, capped at `maximumInterval`. */
export function retryPolicy(
  maximumAttempts: number,
  maximumInterval: '5s' | '10s',
): NonNullable<ActivityOptions['retry']> {
  return {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval,
    maximumAttempts,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS],
  };
}

export const activityOptions = (
  startToCloseTimeout: ActivityOptions['startToCloseTimeout'],
  retry: ActivityOptions['retry'],
): ActivityOptions => ({ startToCloseTimeout, heartbeatTimeout: HEARTBEAT_TIMEOUT, retry });

/** Deploy steps: 40 attempts at most 10 s apart ride out a host rebooting (about 6 min). */
export const DEPLOY_ATTEMPTS = 40;
/** Preflight reports problems; a host still away after 3 tries is one of them. */
export const PREFLIGHT_ATTEMPTS = 3;
/** waitForQuorum polls for minutes inside one attempt; a few attempts cover a worker loss. */
export const QUORUM_ATTEMPTS = 5;
/** One host step; uploads get longer (a bundle of GBs over a slow link). */
export const STEP_TIMEOUT = '10m';
export const UPLOAD_TIMEOUT = '2h';

/** Drill steps are short and measured: a few quick retries only. */
export const DRILL_ATTEMPTS = 5;
export const DRILL_STEP_TIMEOUT = '5m';
/** A restore must get through: it is retried for minutes, also after cancellation. */
export const RESTORE_ATTEMPTS = 30;
/** Waiting for recovery already polls for minutes inside one attempt. */
export const RECOVERY_ATTEMPTS = 2;

/** Backup steps: a handful of retries ride out a brief SSH or etcd hiccup; the next scheduled run tries again. */
export const BACKUP_ATTEMPTS = 5;
/** A snapshot is taken again at most this often when the host's copy changed under the download. */
export const BACKUP_SNAPSHOT_TRIES = 3;

/** Day-2 host steps (teardown, remove): a handful of retries ride out a brief SSH hiccup; a host away longer is reported. */
export const TEARDOWN_ATTEMPTS = 5;
