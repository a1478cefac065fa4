// Phase 1: the inventory's meaning and the artifacts on the worker's disk, before any host.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { InventoryError, validateInventory } from '../config/load';
import { inventoryArtifacts, inventoryWarnings, type Inventory } from '../config/inventory';
import { LocalFileError, readLocalTextIfExists } from '../config/local-files';
import { checkGzip } from '../config/bundle-index';
import { localFile, resolveSecret, SecretError } from '../config/secrets';
import { checkSshKey, sshKeyRefs } from '../config/ssh-key';
import { checkEtcdTls } from '../config/tls-check';
import { bundleEntryProblems, bundleLayoutProblems } from '../commands/bundle-contents';
import { bundledComponents, bundleTopDir } from '../model/components';
import { clusterBlocker, type ClusterOperation } from '../temporal/cluster-lock';
import { activityDeps } from './deps';
import { heartbeat, keepHeartbeating, type DeployInput } from './context';

/** sha256 of a local file, opened safely; heartbeats while it reads. Remembered per worker (config/file-facts.ts). */
export function sha256File(file: string, field = 'artifact'): Promise<string> {
  return activityDeps().localFiles.sha256(file, field, () => heartbeat({ hashing: file }));
}

/** Each artifact: a regular file of bounded size with the pinned sha256; bundles also by their index. */
async function checkArtifacts(inv: Inventory, baseDir: string, problems: string[]) {
  for (const { field, artifact } of inventoryArtifacts(inv)) {
    const file = localFile(artifact.path, baseDir);
    const kind = bundledComponents(inv).find((b) => b.bundleField === field);
    try {
      if (kind) await checkGzip(file, `${field}.path`);
      const actual = await sha256File(file, `${field}.path`);
      if (actual !== artifact.sha256) {
        problems.push(
          `${field}.sha256: ${file} has sha256 ${actual}, the inventory says ${artifact.sha256}`,
        );
        continue;
      }
      if (!kind) continue;
      const entries = await activityDeps().localFiles.bundleEntries(file, `${field}.path`);
      const top = bundleTopDir(artifact);
      const unsafe = bundleEntryProblems(`${field}.path`, top, kind, entries);
      problems.push(
        ...(unsafe.length ? unsafe : bundleLayoutProblems(field, file, top, kind, entries)),
      );
    } catch (e) {
      if (!(e instanceof LocalFileError)) throw e;
      problems.push(e.message);
    }
  }
}

/** The failure type of a deploy refused by a run of the given kind (ClusterBusy for the rest). */
const REFUSAL_TYPES: Partial<Record<ClusterOperation, string>> = {
  verifyHA: 'VerificationRunning',
  backupEtcd: 'BackupRunning',
};

export interface ValidateResult {
  warnings: string[];
}

export async function validateDeploy(input: DeployInput): Promise<ValidateResult> {
  const ticker = keepHeartbeating();
  try {
    return await validate(input);
  } finally {
    clearInterval(ticker);
  }
}

async function validate(input: DeployInput): Promise<ValidateResult> {
  const result = await checkInventoryLocally(input);
  await refuseWhenClusterBusy(
    input.inventory.cluster,
    Context.current().info.workflowExecution?.workflowId ?? '',
  );
  return result;
}

/**
 * The per-cluster lock: a deploy never runs beside a drill, a backup, a restore or any
 * other day-2 operation of the same cluster (another deploy is refused by its workflow id).
 */
export async function refuseWhenClusterBusy(cluster: string, workflowId: string): Promise<void> {
  const blocked = await clusterBlocker({
    cluster,
    workflowId,
    type: 'deployHA',
    because: {
      verifyHA:
        'deploys are refused during drills — wait for it to finish, or cancel it in the UI or with `temporal workflow cancel -w <id>`',
      backupEtcd:
        'deploys are refused while a snapshot is taken — it takes seconds to minutes, try again when it has finished',
      removeHost: 'deploys are refused while a host is taken out — try again when it has finished',
      teardownCluster:
        'deploys are refused while the cluster is torn down — deploy again when it has finished',
    },
  });
  if (blocked)
    throw ApplicationFailure.nonRetryable(
      blocked.message,
      REFUSAL_TYPES[blocked.type] ?? 'ClusterBusy',
    );
}

/**
 * What every workflow's activities read on the worker: secret references (which must
 * resolve, and SSH keys parse), known_hosts and the etcd certificates. Values are
 * dropped at once; messages name fields and files only.
 */
export function referenceProblems(inv: Inventory, baseDir: string): string[] {
  const problems: string[] = [];
  const refs: Array<[string, string | undefined]> = [
    ['dashboard.password', inv.dashboard.password],
    ['dashboard.tokenSecret', inv.dashboard.tokenSecret],
    ['etcd.auth.password', inv.etcd.auth.enabled ? inv.etcd.auth.password : undefined],
  ];
  for (const [field, ref] of refs) {
    if (!ref) continue;
    try {
      resolveSecret(ref, field, baseDir);
    } catch (e) {
      problems.push(e instanceof SecretError ? e.message : `${field}: cannot be read`);
    }
  }
  for (const [field, ref] of sshKeyRefs(inv)) {
    const problem = checkSshKey(ref, field, baseDir);
    if (problem) problems.push(problem);
  }
  if (inv.ssh.knownHosts)
    try {
      readLocalTextIfExists(localFile(inv.ssh.knownHosts, baseDir), 'ssh.knownHosts', 'knownHosts');
    } catch (e) {
      problems.push(e instanceof LocalFileError ? e.message : 'ssh.knownHosts: cannot be read');
    }
  problems.push(...checkEtcdTls(inv, baseDir));
  return problems;
}

/** Schema, meaning, secret references and artifacts: everything checkable on this machine. */
export async function checkInventoryLocally(input: DeployInput): Promise<ValidateResult> {
  let inv;
  try {
    inv = validateInventory(input.inventory);
  } catch (e) {
    if (e instanceof InventoryError)
      throw ApplicationFailure.nonRetryable(e.message, 'InventoryError');
    throw e;
  }
  const problems = referenceProblems(inv, input.baseDir);
  await checkArtifacts(inv, input.baseDir, problems);
  if (problems.length)
    throw ApplicationFailure.nonRetryable(
      `the inventory cannot be deployed:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      'InventoryError',
    );
  return { warnings: inventoryWarnings(inv) };
}
