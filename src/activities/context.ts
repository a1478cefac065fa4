// What every deploy activity receives and the plumbing they share: the inventory (with
// secret references only), SSH to one host, and errors classified for Temporal retries.
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Inventory } from '../config/inventory';
import { resolveSecret } from '../config/secrets';
import { findHost } from '../commands/layout';
import { RemoteCommandError, type SshSession } from '../ssh/session';
import { sshTarget } from '../ssh/targets';
import { activityDeps } from './deps';
import { errorText } from '../util/errors';
import { NON_RETRYABLE_ERRORS } from '../model/errors';

export interface DeployInput {
  inventory: Inventory;
  /** Directory relative file references (keys, bundles) are resolved against on the worker. */
  baseDir: string;
  /** Replace an etcd container whose settings differ instead of stopping with an error. */
  replaceEtcd?: boolean;
  /** Skip the etcd backup a deploy takes before it changes a bundle version. */
  noBackup?: boolean;
}

/** A step's report: what it found and whether it changed anything. */
export interface StepResult {
  host: string;
  changed: boolean;
  detail: string;
  /** A serving component needs a restart that was left to the rolling pass. */
  restartDeferred?: boolean;
}

/** How a dashboard or gateway step may treat a container that is serving. */
export interface StartOptions {
  /**
   * Start what is not running, but leave a running container whose config changed for a
   * later call without this flag (the deploy restarts those at most half at a time).
   */
  deferRestart?: boolean;
}

/**
 * Resolve a secret reference. A missing secret throws a SecretError, which the retry
 * policies list as non-retryable (src/model/errors.ts).
 */
export function secret(input: DeployInput, ref: string, field: string): string {
  return resolveSecret(ref, field, input.baseDir);
}

/**
 * Run fn with an SSH session to the host, from the worker's pool (src/ssh/pool.ts): the
 * connection is shared with other steps on the same host and stays open after this one.
 */
export async function withHost<T>(
  input: DeployInput,
  hostName: string,
  fn: (ssh: SshSession) => Promise<T>,
): Promise<T> {
  const { ssh: sessions } = activityDeps();
  let session: SshSession | undefined;
  const ticker = keepHeartbeating();
  try {
    const host = findHost(input.inventory, hostName);
    session = await sessions.session(sshTarget(input.inventory, host, input.baseDir));
    const open = session;
    // A cancelled deploy (or a timed-out step) stops this step's commands and channels,
    // not the other steps sharing the connection; the connection is not reused, in case
    // a hung link is why the step timed out.
    activityCancelled()?.catch((e: unknown) => {
      open.abort(e instanceof Error ? e : new Error(`${hostName}: the step was cancelled`));
      sessions.retire(open);
    });
    return await fn(session);
  } catch (e) {
    // A command's own failure says nothing about the link; anything else may be its fault.
    if (session && !(e instanceof RemoteCommandError || e instanceof ApplicationFailure))
      sessions.retire(session);
    throw e;
  } finally {
    clearInterval(ticker);
    session?.close();
  }
}

/**
 * Heartbeat every few seconds while a step runs, so a worker that dies is noticed within
 * the heartbeat timeout (not the much longer start-to-close timeout) and the step retried.
 */
export function keepHeartbeating(): NodeJS.Timeout {
  return setInterval(() => heartbeat(), 3000);
}

function activityCancelled(): Promise<never> | undefined {
  try {
    return Context.current().cancelled;
  } catch {
    return undefined;
  }
}

/** What long steps heartbeat besides staying alive; `deploy --follow` shows it as it happens. */
export type LiveDetail =
  { host: string; file: string; bytes: number; total: number } | { host: string; loading: string };

const lastDetails = new WeakMap<Context, unknown>();

/**
 * Heartbeat if running inside an activity (helpers are also used by the CLI and tests).
 * Without details, the last ones are repeated so resumable progress is never lost.
 */
export function heartbeat(details?: unknown): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return; // not in an activity
  }
  if (details !== undefined) lastDetails.set(ctx, details);
  ctx.heartbeat(lastDetails.get(ctx));
}

export function activityLog(msg: string): void {
  try {
    Context.current().log.info(msg);
  } catch {
    /* not in an activity */
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The activity context's sleep (which a cancellation ends), or a plain one outside activities. */
export function activitySleep(ms: number): Promise<void> {
  try {
    return Context.current().sleep(ms);
  } catch {
    return sleep(ms);
  }
}

/** An error no retry (and no further polling) can cure. */
export const isNonRetryable = (e: unknown) =>
  (e instanceof ApplicationFailure && e.nonRetryable) ||
  (e instanceof Error && (NON_RETRYABLE_ERRORS as readonly string[]).includes(e.name));

/**
 * Poll inside an activity, heartbeating, until check() gives a value or time runs out.
 * It waits with the activity's own sleep, so a cancelled step stops polling at once.
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      if (isNonRetryable(e)) throw e;
      last = errorText(e);
    }
    heartbeat();
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (last error: ${last})` : ''}`,
      );
    await activitySleep(intervalMs);
  }
}

/** The etcd password when etcd auth is on (resolved here, on the worker, never passed on). */
export function etcdPassword(input: DeployInput): string | undefined {
  const auth = input.inventory.etcd.auth;
  return auth.enabled && auth.password
    ? secret(input, auth.password, 'etcd.auth.password')
    : undefined;
}
