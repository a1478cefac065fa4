// Activities registered by the worker: the thin effectful steps the workflows call.
import { activityDeps, runWithDeps, type ActivityDeps } from './deps';
import { preflightHost } from './preflight';
import { validateDeploy } from './validate';
import { prepareHost } from './prepare';
import { shipArtifacts } from './ship';
import { enableEtcdAuth, retireEtcdMember, startEtcdMember, waitForQuorum } from './etcd';
import {
  addMember,
  etcdJoinPlan,
  listMembers,
  promoteMember,
  removeMember,
  waitEtcdCaughtUp,
} from './etcd-members';
import { checkReplace, planEtcdReplace } from './replace';
import { loadImages } from './images';
import { startDashboard } from './dashboard';
import { ensureGatewayCluster, proveTraffic, startGateway } from './gateway';
import { etcdDrillChecks, startComponent, steadyState, stopComponent } from './faults';
import { waitRecovered } from './health';
import { probeLoadBalancer } from './probe';
import { cutOffHost, partitionReads, reconnectHost } from './cutoff';
import { watchSafeguards } from './safeguards';
import { gatewayRestartChecks } from './gateway-restart';
import { checkExclusion } from '../temporal/lookup';
import { bundleChanges } from './upgrade';
import {
  checkBackupExclusion,
  pickBackupMember,
  pruneLocalBackups,
  removeRemoteSnapshot,
  storeSnapshot,
  takeSnapshot,
} from './backup';
import { checkTeardownExclusion, teardownHost } from './teardown';
import { checkRemoveExclusion, drainComponent, leaveEtcdMembership } from './remove';
import {
  checkRestoredCluster,
  checkRestoreExclusion,
  checkRestoreSnapshot,
  readRestoreState,
  recordRestore,
  restartGateway,
  restoredGatewayCluster,
  restoreMember,
  startDashboardAgain,
  stopDashboard,
  stopEtcdMember,
  uploadSnapshot,
} from './restore';

export const deployActivities = {
  validateDeploy,
  preflightHost,
  prepareHost,
  shipArtifacts,
  etcdJoinPlan,
  startEtcdMember,
  waitForQuorum,
  enableEtcdAuth,
  loadImages,
  startDashboard,
  ensureGatewayCluster,
  startGateway,
  proveTraffic,
  bundleChanges,
};

export const verifyActivities = {
  checkExclusion,
  steadyState,
  stopComponent,
  startComponent,
  probeLoadBalancer,
  etcdDrillChecks,
  waitRecovered,
  cutOffHost,
  reconnectHost,
  partitionReads,
  watchSafeguards,
  gatewayRestartChecks,
};

export const backupActivities = {
  checkBackupExclusion,
  pickBackupMember,
  takeSnapshot,
  storeSnapshot,
  removeRemoteSnapshot,
  pruneLocalBackups,
};

/** Membership changes: replace, and the deploy's scale-out (they share startEtcdMember). */
export const replaceActivities = {
  checkReplace,
  planEtcdReplace,
  listMembers,
  removeMember,
  retireEtcdMember,
  addMember,
  startEtcdMember,
  promoteMember,
  waitEtcdCaughtUp,
};

export const teardownActivities = {
  checkTeardownExclusion,
  teardownHost,
};

export const removeActivities = {
  checkRemoveExclusion,
  leaveEtcdMembership,
  drainComponent,
};

export const restoreActivities = {
  checkRestoreExclusion,
  checkRestoreSnapshot,
  readRestoreState,
  uploadSnapshot,
  stopDashboard,
  stopEtcdMember,
  restoreMember,
  checkRestoredCluster,
  recordRestore,
  startDashboardAgain,
  restoredGatewayCluster,
  restartGateway,
};

export type DeployActivities = typeof deployActivities;
export type ReplaceActivities = typeof replaceActivities;
export type VerifyActivities = typeof verifyActivities;
export type BackupActivities = typeof backupActivities;
export type TeardownActivities = typeof teardownActivities;
export type RemoveActivities = typeof removeActivities;
type AllActivities = DeployActivities &
  ReplaceActivities &
  VerifyActivities &
  BackupActivities &
  TeardownActivities &
  RemoveActivities &
  RestoreActivities;
export type RestoreActivities = typeof restoreActivities;

/**
 * The activities a worker registers, each run with the worker's dependencies (deps.ts):
 * its SSH pool and Temporal client. Missing ones are the defaults (a connection per step).
 */
export function createActivities(deps: Partial<ActivityDeps> = {}): AllActivities {
  const full: ActivityDeps = { ...activityDeps(), ...deps };
  const all: Record<string, (...args: never[]) => Promise<unknown>> = {
    ...deployActivities,
    ...verifyActivities,
    ...backupActivities,
    ...replaceActivities,
    ...teardownActivities,
    ...removeActivities,
    ...restoreActivities,
  };
  return Object.fromEntries(
    Object.entries(all).map(([name, fn]) => [
      name,
      (...args: never[]) => runWithDeps(full, () => fn(...args)),
    ]),
  ) as AllActivities;
}
