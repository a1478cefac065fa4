// Fake activities for workflow-logic tests: plain async functions with the real
// activities' signatures that answer like a healthy cluster and record every call, in
// order, with how many calls of the same activity were in flight at once.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { DeployActivities, ReplaceActivities, VerifyActivities } from '../../src/activities';
import type { StartOptions } from '../../src/activities/context';
import type { ProbeStats } from '../../src/workflows/journal';

export const CLUSTER_ID = '123456789012345678';

export interface Call {
  name: string;
  /** The host argument of per-host activities. */
  host?: string;
  args: unknown[];
  /** When it started and ended, on one counter shared by all calls (ended: once settled). */
  started: number;
  ended?: number;
}

/** Everything the fakes were asked to do, in call order. */
export class Calls {
  readonly list: Call[] = [];
  private inFlight = new Map<string, number>();
  private peak = new Map<string, number>();
  private clock = 0;

  names(): string[] {
    return [...new Set(this.list.map((c) => c.name))];
  }
  of(name: string): Call[] {
    return this.list.filter((c) => c.name === name);
  }
  hostsOf(name: string): string[] {
    return this.of(name).map((c) => c.host ?? '');
  }
  /** The call of `name` on `host` (the first, when retried). */
  one(name: string, host?: string): Call {
    const c = this.list.find((x) => x.name === name && x.host === host);
    if (!c) throw new Error(`${name}${host ? ` on ${host}` : ''} was never called`);
    return c;
  }
  /** Whether `a` had ended before `b` started. */
  endedBefore(a: Call, b: Call): boolean {
    return a.ended !== undefined && a.ended < b.started;
  }
  /** The most calls of `name` that were running at the same time. */
  maxConcurrent(name: string): number {
    return this.peak.get(name) ?? 0;
  }

  /** Wrap implementations so each call is recorded and its concurrency measured. */
  record<T extends object>(impls: T): T {
    const out: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(impls) as Array<
      [string, (...args: unknown[]) => Promise<unknown>]
    >) {
      out[name] = async (...args: unknown[]) => {
        const call: Call = { name, host: hostArg(name, args), args, started: ++this.clock };
        this.list.push(call);
        const now = (this.inFlight.get(name) ?? 0) + 1;
        this.inFlight.set(name, now);
        this.peak.set(name, Math.max(now, this.peak.get(name) ?? 0));
        try {
          return await fn(...args);
        } finally {
          this.inFlight.set(name, (this.inFlight.get(name) ?? 1) - 1);
          call.ended = ++this.clock;
        }
      };
    }
    return out as T;
  }
}

// The activities that work on one host take its name as their second argument.
const PER_HOST = new Set([
  'preflightHost',
  'prepareHost',
  'shipArtifacts',
  'startEtcdMember',
  'loadImages',
  'startDashboard',
  'startGateway',
  'stopComponent',
  'startComponent',
  'waitRecovered',
  'cutOffHost',
  'reconnectHost',
  'partitionReads',
  'gatewayRestartChecks',
  'retireEtcdMember',
  'addMember',
  'promoteMember',
  'waitEtcdCaughtUp',
  'teardownHost',
  'drainComponent',
  'leaveEtcdMembership',
]);
const hostArg = (name: string, args: unknown[]) =>
  PER_HOST.has(name) && typeof args[1] === 'string' ? args[1] : undefined;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A promise with its resolve exposed: a test opens it to let a blocked fake go on. */
export function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

/** What an activity throws for a failure that retrying cannot fix. */
export const fatal = (message: string, type = 'FakeFailure') =>
  ApplicationFailure.nonRetryable(message, type);

/** Heartbeat until the workflow cancels this activity, then end as cancelled. */
export async function untilCancelled(): Promise<never> {
  const ctx = Context.current();
  const ticker = setInterval(() => ctx.heartbeat(), 20);
  try {
    return await ctx.cancelled;
  } finally {
    clearInterval(ticker);
  }
}

const step = (host: string, detail: string) => ({ host, changed: true, detail });

/**
 * Dashboards and gateways that already serve on `serving` hosts: asked to defer, they
 * leave their restart owed; restarting (or starting one that does not serve) takes `ms`.
 */
export function servingComponents(serving: string[], ms = 300): Partial<DeployActivities> {
  const start = async (host: string, opts: StartOptions | undefined) => {
    if (opts?.deferRestart && serving.includes(host))
      return { host, changed: false, detail: 'restart owed', restartDeferred: true };
    await sleep(ms);
    return step(host, serving.includes(host) ? 'restarted' : 'started');
  };
  return {
    startDashboard: async (_input, host, _flavor, opts) => start(host, opts),
    startGateway: async (_input, host, _flavor, _clusterId, opts) => start(host, opts),
  };
}

export function fakeDeployActivities(
  calls: Calls,
  overrides: Partial<DeployActivities> = {},
): DeployActivities {
  return calls.record<DeployActivities>({
    validateDeploy: async () => ({ warnings: [] }),
    preflightHost: async (_input, host) => ({
      host,
      kernel: '6.1.0',
      docker: '20.10.24',
      compose: 'plugin',
      problems: [],
    }),
    prepareHost: async (_input, host) => step(host, 'directories made'),
    shipArtifacts: async (_input, host) => ({
      ...step(host, 'bundles uploaded'),
      bytesUploaded: 1000,
      files: [],
    }),
    etcdJoinPlan: async () => ({ joining: [] }),
    startEtcdMember: async (_input, host) => step(host, 'etcd member started'),
    waitForQuorum: async (input) => ({
      members: input.inventory.hosts
        .filter((h) => h.roles.includes('etcd'))
        .map((h, i) => ({ name: `api7-etcd-${i + 1}`, id: String(i + 1), clientURLs: [] })),
      perEndpoint: [],
      roundTrip: true,
      problems: [],
    }),
    enableEtcdAuth: async () => step('', 'auth on'),
    loadImages: async (_input, host) => step(host, 'images loaded'),
    startDashboard: async (_input, host) => step(host, 'dashboard started'),
    ensureGatewayCluster: async () => ({ id: CLUSTER_ID, created: true }),
    startGateway: async (_input, host) => step(host, 'gateway started'),
    bundleChanges: async () => [],
    proveTraffic: async () => ({
      routeChanged: true,
      route: 'test.com/get',
      status: 200,
      attempts: 1,
      answer: 'ok',
    }),
    ...overrides,
  });
}

/**
 * Membership changes on a cluster whose member on the replaced host is dead (ha3's,
 * api7-etcd-3): two of three answer, the swap goes through; every step records its call.
 */
export function fakeReplaceActivities(
  calls: Calls,
  overrides: Partial<ReplaceActivities> = {},
): ReplaceActivities {
  return calls.record<ReplaceActivities>({
    checkReplace: async () => ({ warnings: [] }),
    planEtcdReplace: async () => ({
      inPlace: false,
      oldMember: {
        name: 'api7-etcd-3',
        id: 'a3',
        peerURLs: ['http://10.0.0.13:2380'],
        answering: false,
      },
      voters: 3,
      answering: 2,
    }),
    listMembers: async () => [],
    removeMember: async (_input, name) => step(name, `removed ${name}`),
    retireEtcdMember: async (_input, host) => step(host, 'data dir aside'),
    addMember: async (_input, host) => ({
      ...step(host, 'learner added'),
      id: 'b3',
      learner: true,
      initialCluster: `api7-etcd-1=http://10.0.0.11:2380,api7-etcd-2=http://10.0.0.12:2380,joiner=${host}`,
    }),
    startEtcdMember: async (_input, host) => step(host, 'etcd member started'),
    promoteMember: async (_input, host) => step(host, 'promoted'),
    waitEtcdCaughtUp: async (_input, host) => step(host, 'caught up'),
    ...overrides,
  });
}

export const probeStats = (requests: number, failures: number): ProbeStats => ({
  target: 'fake load balancer',
  requests,
  failures,
  failedRatio: requests ? failures / requests : 1,
  p50Ms: 2,
  p95Ms: 5,
  p99Ms: 9,
  errors: failures ? [`${failures}× connection refused`] : [],
});

export function fakeVerifyActivities(
  calls: Calls,
  overrides: Partial<VerifyActivities> = {},
): VerifyActivities {
  return calls.record<VerifyActivities>({
    checkExclusion: async () => ({ previousRuns: 0 }),
    steadyState: async () => ({ ok: true, problems: [], clusterId: CLUSTER_ID }),
    stopComponent: async (_input, host, component) => `stop ${component} on ${host}`,
    startComponent: async (_input, host, component) => `start ${component} on ${host}`,
    probeLoadBalancer: async () => probeStats(1000, 0),
    etcdDrillChecks: async () => ({
      routeWritten: true,
      routeReadBack: true,
      gatewaysRouted: true,
      healthyMembers: 2,
      leader: true,
      problems: [],
    }),
    waitRecovered: async () => 5,
    cutOffHost: async (_input, host, what) => `cut ${what} off on ${host}`,
    reconnectHost: async (_input, host, what) => `reconnect ${what} on ${host}`,
    partitionReads: async (input, host) => ({
      isolatedAnswered: false,
      isolatedError: 'context deadline exceeded',
      majorityHost: input.inventory.hosts.find((h) => h.roles.includes('etcd') && h.name !== host)
        ?.name,
      majorityAnswered: true,
      problems: [],
    }),
    // Like the real one: watches until the hold ends (and cancels it), nothing trips.
    watchSafeguards: async () => {
      await untilCancelled();
      return undefined;
    },
    gatewayRestartChecks: async () => ({
      back: true,
      backAfterMs: 800,
      takesLbTraffic: true,
      problems: [],
    }),
    ...overrides,
  });
}
