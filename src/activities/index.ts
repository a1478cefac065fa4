// Activities registered by the worker: the thin effectful steps the workflows call.
import { preflightHost } from './preflight';
import { validateDeploy } from './validate';
import { prepareHost } from './prepare';
import { shipArtifacts } from './ship';
import { startEtcdMember, waitForQuorum } from './etcd';
import { loadImages, startDashboard } from './control-plane';
import { ensureGatewayCluster, proveTraffic, startGateway } from './data-plane';

export const deployActivities = {
  validateDeploy,
  preflightHost,
  prepareHost,
  shipArtifacts,
  startEtcdMember,
  waitForQuorum,
  loadImages,
  startDashboard,
  ensureGatewayCluster,
  startGateway,
  proveTraffic,
};

export type DeployActivities = typeof deployActivities;

export function createActivities() {
  return { ...deployActivities };
}
