// What activities get from the worker rather than make themselves (as in the
// dependency-injection sample of temporalio/samples-typescript): SSH sessions from the
// worker's pool, what it knows of local artifacts, and the Temporal client for lookups
// about other runs. createActivities
// (index.ts) runs each activity inside its worker's dependencies; steps reach them
// through activityDeps(), so tests and benchmarks can inject their own.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Client } from '@temporalio/client';
import { LocalFileFacts, workerFileFacts } from '../config/file-facts';
import { RemoteFileFacts, workerRemoteFileFacts } from '../ssh/remote-file-facts';
import { SshSession, type SshTarget } from '../ssh/session';
import { sharedClient } from '../temporal/connection';

/** Where SSH sessions come from: the worker's pool, or a new connection each time. */
export interface SshSessions {
  /** A session to `target`; the caller closes it when done. */
  session(target: SshTarget): Promise<SshSession>;
  /** Do not reuse the connection under `session` (a step on it failed in a way the link may cause). */
  retire(session: SshSession): void;
}

export interface ActivityDeps {
  ssh: SshSessions;
  /** What is known of local artifacts (sha256s, bundle indexes) by file identity. */
  localFiles: LocalFileFacts;
  /** What is known of staged artifacts on the hosts (sha256s) by remote file identity. */
  remoteFiles: RemoteFileFacts;
  /** The Temporal client for the exclusion between deploy and verify. */
  temporalClient: () => Promise<Client>;
}

/** A connection per session, ended with it: what activities called directly (no worker) use. */
export const connectEachTime: SshSessions = {
  session: (target) => SshSession.connect(target),
  retire: () => {},
};

const defaults: ActivityDeps = {
  ssh: connectEachTime,
  localFiles: workerFileFacts,
  remoteFiles: workerRemoteFileFacts,
  temporalClient: sharedClient,
};
const current = new AsyncLocalStorage<ActivityDeps>();

/** The dependencies of the running activity (the defaults outside createActivities). */
export function activityDeps(): ActivityDeps {
  return current.getStore() ?? defaults;
}

/** Run fn (an activity) with `deps`. */
export function runWithDeps<T>(deps: ActivityDeps, fn: () => Promise<T>): Promise<T> {
  return current.run(deps, fn);
}
