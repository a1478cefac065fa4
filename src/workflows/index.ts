// Workflow entry points registered by the worker. Deterministic code only.
export { deployHA, deployProgressQuery } from './deploy';
export { verifyHA, verifyProgressQuery } from './verify';
export { backupEtcd } from './backup';
export { replaceHost } from './replace';
export { teardownCluster } from './teardown';
export { removeHost } from './remove';
export { restoreEtcd, restoreProgressQuery } from './restore';
