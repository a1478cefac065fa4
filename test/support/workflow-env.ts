// A TestWorkflowEnvironment for workflow-logic tests: one local dev server per test file
// (the Temporal CLI that setup builds, with the project's search attributes), the
// workflows bundled once, and a fresh worker with fake activities per test.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { Inventory } from '../../src/config/inventory';
import { parseInventoryText } from '../../src/config/load';
import { projectRoot, temporalBinary } from '../../src/paths';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes';
import type { VerifyInput } from '../../src/workflows/verify';

export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
}

export async function startWorkflowEnv(): Promise<WorkflowTestEnv> {
  // These tests fail activities and workflows on purpose: the SDK's warnings about each
  // one would bury the test output. Real errors still reach the assertions.
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    /* installed already */
  }
  const [env, bundle] = await Promise.all([
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalBinary },
        searchAttributes: ALL_SEARCH_ATTRIBUTES,
      },
    }),
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    }),
  ]);
  return { env, bundle };
}

/**
 * The calling test file's environment: started before its tests, torn down after them
 * (the returned object is filled in by then). With `lookups`, activities that look up
 * other runs (the exclusions between deploy, verify and backup) reach this server as a
 * worker would: through TEMPORAL_ADDRESS, with a throw-away codec key.
 */
export function workflowEnvForFile(opts: { lookups?: boolean } = {}): WorkflowTestEnv {
  const t = {} as WorkflowTestEnv;
  before(async () => {
    Object.assign(t, await startWorkflowEnv());
    if (opts.lookups) {
      process.env.TEMPORAL_ADDRESS = t.env.address;
      process.env.API7HA_CODEC_KEYS = `test ${randomBytes(32).toString('base64')}`;
    }
  });
  after(async () => {
    await t.env?.teardown();
  });
  return t;
}

let queues = 0;

/**
 * Run `fn` against a new worker (own task queue) that has `activities`; the worker shuts
 * down when fn settles. fn gets the task queue to start workflows on.
 */
export async function withWorker<T>(
  { env, bundle }: WorkflowTestEnv,
  activities: object,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `wftest-${process.pid}-${++queues}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities,
    // Workflows run in this thread: starting a worker then takes milliseconds instead of
    // most of a second (no deadlock detector; the suites have timeouts instead).
    debugMode: true,
    // Fake activities heartbeat; deliver cancellations to them at once.
    maxHeartbeatThrottleInterval: '50ms',
    defaultHeartbeatThrottleInterval: '50ms',
  });
  return worker.runUntil(fn(taskQueue));
}

const exampleText = readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8');

/**
 * The documented five-node inventory (ha1, ha2: etcd + control plane; ha3: etcd; ha4, ha5:
 * data plane), with extra data-plane hosts ha6.. when `dataPlaneHosts` > 2.
 */
export function inventory(
  opts: { cluster?: string; dataPlaneHosts?: number; parallelism?: number } = {},
): Inventory {
  const inv = parseInventoryText(exampleText, 'docs/inventory.example.yaml');
  if (opts.cluster) inv.cluster = opts.cluster;
  if (opts.parallelism) inv.deploy.parallelism = opts.parallelism;
  const template = inv.hosts.find((h) => h.name === 'ha5')!;
  for (let i = 6; i <= 3 + (opts.dataPlaneHosts ?? 2); i++)
    inv.hosts.push({ ...template, name: `ha${i}`, address: `10.0.0.${10 + i}` });
  return inv;
}

export const deployInput = (inv: Inventory = inventory()) => ({ inventory: inv, baseDir: '/none' });

export const verifyInput = (
  inv: Inventory = inventory(),
  options: VerifyInput['options'] = {},
): VerifyInput => ({
  inventory: inv,
  baseDir: '/none',
  // Short faults: the drills' own sleeps are real time in a local environment.
  options: { holdMs: 1000, rate: 5, ...options },
});
