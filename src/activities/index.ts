// Activities registered by the worker: the thin effectful steps the workflows call.
import { activityDeps, runWithDeps, type ActivityDeps } from './deps';
import { preflightHost } from './preflight';
import { validateDeploy } from './validate';
import { prepareHost } from './prepare';
import { shipArtifacts } from './ship';
import { enableEtcdAuth, startEtcdMember, waitForQuorum } from './etcd';
import { loadImages } from './images';
import { startDashboard } from './dashboard';
import { ensureGatewayCluster, proveTraffic, startGateway } from './gateway';
import { etcdDrillChecks, startComponent, steadyState, stopComponent } from './faults';
import { waitRecovered } from './health';
import { probeLoadBalancer } from './probe';
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
};

export const backupActivities = {
  checkBackupExclusion,
  pickBackupMember,
  takeSnapshot,
  storeSnapshot,
  removeRemoteSnapshot,
  pruneLocalBackups,
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
export type VerifyActivities = typeof verifyActivities;
export type BackupActivities = typeof backupActivities;
export type RestoreActivities = typeof restoreActivities;

/**
 * The activities a worker registers, each run with the worker's dependencies (deps.ts):
 * its SSH pool and Temporal client. Missing ones are the defaults (a connection per step).
 */
export function createActivities(
  deps: Partial<ActivityDeps> = {},
): DeployActivities & VerifyActivities & BackupActivities & RestoreActivities {
  const full: ActivityDeps = { ...activityDeps(), ...deps };
  const all: Record<string, (...args: never[]) => Promise<unknown>> = {
    ...deployActivities,
    ...verifyActivities,
    ...backupActivities,
    ...restoreActivities,
  };
  return Object.fromEntries(
    Object.entries(all).map(([name, fn]) => [
      name,
      (...args: never[]) => runWithDeps(full, () => fn(...args)),
    ]),
  ) as DeployActivities & VerifyActivities & BackupActivities & RestoreActivities;
}
