// Phase 1: the inventory's meaning and the artifacts on the worker's disk, before any host.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { InventoryError, validateInventory } from '../config/load';
import { inventoryWarnings, type FileArtifact } from '../config/inventory';
import { localFile, resolveSecret, SecretError } from '../config/secrets';
import { checkEtcdTls } from '../config/tls-check';
import { bundleTopDir } from '../commands/layout';
import { jumpKeyRefs } from '../ssh/targets';
import { run } from '../util/exec';
import { runningRuns, sharedClient } from '../temporal/lookup';
import { heartbeat, keepHeartbeating, type DeployInput } from './context';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  let n = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    if (++n % 256 === 0) heartbeat({ hashing: file });
  }
  return hash.digest('hex');
}

async function checkArtifact(
  input: DeployInput,
  field: string,
  a: FileArtifact,
  problems: string[],
): Promise<void> {
  const file = localFile(a.path, input.baseDir);
  try {
    if (!(await stat(file)).isFile())
      return void problems.push(`${field}.path: ${file} is not a file`);
  } catch {
    return void problems.push(`${field}.path: ${file} does not exist`);
  }
  const actual = await sha256File(file);
  if (actual !== a.sha256)
    problems.push(`${field}.sha256: ${file} has sha256 ${actual}, the inventory says ${a.sha256}`);
}

async function checkBundleLayout(
  input: DeployInput,
  field: string,
  a: FileArtifact,
  needs: string[],
  problems: string[],
) {
  const file = localFile(a.path, input.baseDir);
  const listing = await run(['tar', '-tzf', file], { allowFailure: true });
  if (listing.code !== 0)
    return void problems.push(`${field}.path: ${file} is not a readable .tar.gz`);
  const entries = listing.stdout.split('\n').map((l) => l.replace(/^\.\//, ''));
  const top = bundleTopDir(a);
  // Directories may be listed only through the files in them.
  const has = (p: string) => entries.some((e) => e === p || e.startsWith(`${p}/`));
  for (const need of needs)
    if (!has(`${top}/${need}`))
      problems.push(
        `${field}.path: ${path.basename(file)} has no ${top}/${need} (is it the vendor bundle?)`,
      );
}

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
  // Mutual exclusion with the drills: a deploy never starts while a verification runs.
  const verifying = await runningRuns(await sharedClient(), 'verifyHA', input.inventory.cluster);
  if (verifying.length)
    throw ApplicationFailure.nonRetryable(
      `a verification of ${input.inventory.cluster} is running (${verifying.join(', ')}); deploys are refused during drills — wait for it to finish, or cancel it in the UI or with \`temporal workflow cancel -w <id>\``,
      'VerificationRunning',
    );
  return result;
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
  const problems: string[] = [];
  // References must resolve now; the values are dropped at once.
  const refs: Array<[string, string | undefined]> = [
    ['ssh.privateKey', inv.ssh.privateKey],
    ...inv.hosts.map((h, i): [string, string | undefined] => [
      `hosts[${i}].ssh.privateKey`,
      h.ssh?.privateKey,
    ]),
    ...jumpKeyRefs(inv),
    ['dashboard.password', inv.dashboard.password],
    ['dashboard.tokenSecret', inv.dashboard.tokenSecret],
    ['etcd.auth.password', inv.etcd.auth.enabled ? inv.etcd.auth.password : undefined],
  ];
  for (const [field, ref] of refs) {
    if (!ref) continue;
    try {
      resolveSecret(ref, field, input.baseDir);
    } catch (e) {
      problems.push(e instanceof SecretError ? e.message : `${field}: ${String(e)}`);
    }
  }
  problems.push(...checkEtcdTls(inv, input.baseDir));
  await checkArtifact(input, 'dashboard.bundle', inv.dashboard.bundle, problems);
  await checkArtifact(input, 'gateway.bundle', inv.gateway.bundle, problems);
  if (inv.etcd.imageTarball)
    await checkArtifact(input, 'etcd.imageTarball', inv.etcd.imageTarball, problems);
  if (!problems.length) {
    await checkBundleLayout(
      input,
      'dashboard.bundle',
      inv.dashboard.bundle,
      ['docker-compose.yaml', 'dashboard_conf', 'images'],
      problems,
    );
    await checkBundleLayout(
      input,
      'gateway.bundle',
      inv.gateway.bundle,
      ['docker-compose.yaml', 'gateway_conf', 'images'],
      problems,
    );
  }
  if (problems.length)
    throw ApplicationFailure.nonRetryable(
      `the inventory cannot be deployed:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      'InventoryError',
    );
  return { warnings: inventoryWarnings(inv) };
}
