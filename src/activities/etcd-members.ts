// etcd membership changes, one member at a time and never below quorum (docs/day2.md):
// list the members, remove one by name, add one as a learner, promote it once it has
// caught up. The worker talks to etcd itself with etcd3 (auth and TLS as for the quorum
// check); the etcdctl equivalents are in commands/etcd-members.ts. Each step observes
// first, so repeating it after a crash changes nothing twice.
import { ApplicationFailure } from '@temporalio/common';
import type { Etcd3 } from 'etcd3';
import { etcdMember, etcdMembers } from '../commands/etcd';
import {
  decimalId,
  joiningInitialCluster,
  quorumAfterRemoval,
  supportsLearners,
  toMemberInfo,
  type MemberInfo,
} from '../commands/etcd-members';
import { withEtcd, type EtcdAccess } from '../etcd/client';
import { errorText } from '../util/errors';
import { type DeployInput, type StepResult, pollUntil } from './context';
import { etcdAccess, etcdCaughtUp } from './etcd';

/** What the cluster says of its members, and which voting members answer. */
export interface Membership {
  members: MemberInfo[];
  /** hex ids of the members whose client URL answered a status request */
  answering: string[];
  /** etcd server version, from a member that answered */
  version: string;
}

/** host:port of a client URL, as EtcdAccess wants endpoints. */
const endpointOf = (url: string) => url.replace(/^[a-z]+:\/\//, '');

/** Ask the endpoints one by one (a learner or a dead member refuses), the first answer wins. */
async function askAny<T>(
  access: EtcdAccess,
  endpoints: string[],
  fn: (c: Etcd3) => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (const e of endpoints) {
    try {
      return await withEtcd(access, [e], fn);
    } catch (err) {
      last = err;
    }
  }
  throw new Error(
    `no etcd member answered (${endpoints.join(', ')}): ${last ? errorText(last) : 'no endpoints'}`,
  );
}

async function statusOf(access: EtcdAccess, clientUrl: string) {
  try {
    const s = await withEtcd(access, [endpointOf(clientUrl)], (c) => c.maintenance.status());
    return s;
  } catch {
    return undefined;
  }
}

/** The current membership, asked of the inventory's members except `skipHosts`. */
export async function membership(
  input: DeployInput,
  skipHosts: string[] = [],
): Promise<Membership> {
  const access = etcdAccess(input);
  const inv = input.inventory;
  const endpoints = etcdMembers(inv)
    .filter((m) => !skipHosts.includes(m.host.name))
    .map((m) => endpointOf(m.clientUrl));
  // Asked side by side: a dead member would cost its dial timeout. Only a read.
  const list = await Promise.any(
    endpoints.map((e) => withEtcd(access, [e], (c) => c.cluster.memberList({}))),
  ).catch((e: unknown) => {
    const errs = e instanceof AggregateError ? e.errors : [e];
    throw new Error(
      `no etcd member answered (${endpoints.join(', ')}): ${errs.map(errorText).join('; ')}`,
    );
  });
  const members = list.members.map(toMemberInfo);
  const answering: string[] = [];
  let version = '';
  await Promise.all(
    members.map(async (m) => {
      const url = m.clientURLs[0];
      if (!url) return;
      const s = await statusOf(access, url);
      // The address may now belong to another member (a replaced host): the id must match.
      if (s && BigInt(s.header.member_id).toString(16) === m.id) {
        answering.push(m.id);
        version ||= s.version;
      }
    }),
  );
  return {
    members,
    answering: members.map((m) => m.id).filter((id) => answering.includes(id)),
    version,
  };
}

/** The members as etcd lists them (hex ids, names, URLs, learner or not). */
export async function listMembers(input: DeployInput, skipHosts: string[] = []) {
  return (await membership(input, skipHosts)).members;
}

const endpointsOfAnswering = (m: Membership) =>
  m.members
    .filter((x) => m.answering.includes(x.id) && !x.isLearner)
    .flatMap((x) => x.clientURLs.map(endpointOf));

/** Refuses, without changing anything, when the voters left would not be a quorum. */
export function refuseWithoutQuorum(
  m: Membership,
  removeId: string | undefined,
  what: string,
): void {
  const q = quorumAfterRemoval(m.members, new Set(m.answering), removeId);
  if (!q.ok)
    throw ApplicationFailure.nonRetryable(
      `${what} refused: only ${q.answering} of the ${q.voters} voting etcd members that would remain answer, ` +
        `and ${q.needed} are needed for quorum; nothing was changed. ` +
        'Bring members back, or rebuild the cluster from a backup (docs/backup.md)',
      'EtcdQuorumAtRisk',
    );
}

/**
 * Remove the member called `name` (or, when given, the one with `peerUrl`: a member added
 * but never started has no name yet). Already gone: nothing to do. Refused when the
 * remaining voting members that answer would not be a majority of the new membership.
 */
export async function removeMember(
  input: DeployInput,
  name: string,
  peerUrl?: string,
): Promise<StepResult & { removedId?: string }> {
  const view = await membership(input);
  const m = view.members.find(
    (x) => (x.name !== '' && x.name === name) || (!!peerUrl && x.peerURLs.includes(peerUrl)),
  );
  if (!m)
    return { host: name, changed: false, detail: `etcd member ${name} is not in the cluster` };
  refuseWithoutQuorum(view, m.id, `removing etcd member ${name}`);
  const access = etcdAccess(input);
  await askAny(access, endpointsOfAnswering(view), (c) =>
    c.cluster.memberRemove({ ID: decimalId(m.id) }),
  );
  return {
    host: name,
    changed: true,
    detail: `removed etcd member ${name} (${m.id})`,
    removedId: m.id,
  };
}

/** Check that the current members have quorum (a member of `hostName` may be dead). */
export async function checkQuorum(
  input: DeployInput,
  removing?: string,
): Promise<{ members: MemberInfo[]; answering: string[] }> {
  const view = await membership(input);
  const m = removing ? view.members.find((x) => x.name === removing) : undefined;
  refuseWithoutQuorum(view, undefined, `changing the etcd membership`);
  if (m) refuseWithoutQuorum(view, m.id, `removing etcd member ${removing}`);
  return { members: view.members, answering: view.answering };
}

export interface JoinPlan extends StepResult {
  /** hex id of the member added (or found) for this host */
  id: string;
  learner: boolean;
  /** ETCD_INITIAL_CLUSTER the joining member starts with */
  initialCluster: string;
}

/**
 * Add the inventory's member on `hostName` to the running cluster: as a learner when the
 * etcd version has learners (3.4+; a learner never counts toward quorum), else as a
 * voter. A member already listed with this peer URL is the one added before.
 */
export async function addMember(input: DeployInput, hostName: string): Promise<JoinPlan> {
  const me = etcdMember(input.inventory, hostName);
  const view = await membership(input, [hostName]);
  const found = view.members.find((x) => x.peerURLs.includes(me.peerUrl));
  if (found && found.name && found.name !== me.name)
    throw ApplicationFailure.nonRetryable(
      `${hostName}: etcd member ${found.name} already has peer URL ${me.peerUrl}; remove it first`,
      'EtcdConflict',
    );
  const sameName = view.members.find((x) => x.name === me.name && x !== found);
  if (sameName)
    throw ApplicationFailure.nonRetryable(
      `${hostName}: an etcd member named ${me.name} is still in the cluster at ${sameName.peerURLs.join(', ')}; remove it first`,
      'EtcdConflict',
    );
  if (found)
    return {
      host: hostName,
      changed: false,
      id: found.id,
      learner: found.isLearner,
      initialCluster: joiningInitialCluster(view.members, found, me.name),
      detail: `etcd member for ${me.peerUrl} already added (${found.id}${found.isLearner ? ', learner' : ''})`,
    };
  refuseWithoutQuorum(view, undefined, `adding etcd member ${me.name}`);
  const learner = supportsLearners(view.version);
  const access = etcdAccess(input);
  const res = await askAny(access, endpointsOfAnswering(view), (c) =>
    c.cluster.memberAdd({ peerURLs: [me.peerUrl], isLearner: learner }),
  );
  const added = toMemberInfo(res.member);
  const members = res.members.map(toMemberInfo);
  return {
    host: hostName,
    changed: true,
    id: added.id,
    learner,
    initialCluster: joiningInitialCluster(members, added, me.name),
    detail: `added etcd member ${me.name} (${added.id}) as ${learner ? 'a learner' : 'a voter'}`,
  };
}

const notInSync = (e: unknown) =>
  /in sync with leader|not ready|too many learner/i.test(errorText(e));

/**
 * Promote the learner on `hostName` to a voter. etcd refuses until the learner has caught
 * up with the leader; this waits (heartbeating) and the activity's retries wait longer.
 */
export async function promoteMember(
  input: DeployInput,
  hostName: string,
  timeoutMs = 120_000,
): Promise<StepResult> {
  const me = etcdMember(input.inventory, hostName);
  const access = etcdAccess(input);
  return pollUntil(
    `etcd to accept ${me.name} as a voter`,
    async () => {
      const view = await membership(input, [hostName]);
      const m = view.members.find((x) => x.peerURLs.includes(me.peerUrl));
      if (!m)
        throw ApplicationFailure.nonRetryable(
          `${hostName}: no etcd member with peer URL ${me.peerUrl} to promote`,
          'EtcdConflict',
        );
      if (!m.isLearner)
        return { host: hostName, changed: false, detail: `etcd member ${me.name} is a voter` };
      try {
        await askAny(access, endpointsOfAnswering(view), (c) =>
          c.cluster.memberPromote({ ID: decimalId(m.id) }),
        );
      } catch (e) {
        if (notInSync(e)) return undefined; // not caught up yet: ask again
        throw e;
      }
      return {
        host: hostName,
        changed: true,
        detail: `promoted etcd member ${me.name} to a voter`,
      };
    },
    timeoutMs,
    2000,
  );
}

/**
 * Scale-out: the inventory's etcd hosts whose member is not in the running cluster, in
 * inventory order. Empty when no member answers (a new cluster, which deploy starts as
 * the guide does) or when every member is listed (by its peer URL).
 */
export async function etcdJoinPlan(input: DeployInput): Promise<{ joining: string[] }> {
  let view: Membership;
  try {
    view = await membership(input);
  } catch {
    return { joining: [] };
  }
  const listed = new Set(view.members.flatMap((m) => m.peerURLs));
  const joining = etcdMembers(input.inventory)
    .filter((m) => !listed.has(m.peerUrl))
    .map((m) => m.host.name);
  if (joining.length)
    refuseWithoutQuorum(view, undefined, `adding etcd members ${joining.join(', ')}`);
  return { joining };
}

/**
 * Poll until the member on `hostName` is healthy with the same revision and KV hash as
 * every member of the cluster (as etcd lists them: in a scale-out, inventory hosts that
 * have not joined yet are not asked).
 */
export async function waitEtcdCaughtUp(
  input: DeployInput,
  hostName: string,
  timeoutMs = 120_000,
): Promise<StepResult> {
  await pollUntil(
    `etcd member on ${hostName} to catch up (same revision and KV hash as every member)`,
    async () => {
      const view = await membership(input);
      const endpoints = view.members.flatMap((m) => m.clientURLs.slice(0, 1).map(endpointOf));
      return (await etcdCaughtUp(input, hostName, endpoints)) ? true : undefined;
    },
    timeoutMs,
    1000,
  );
  return {
    host: hostName,
    changed: false,
    detail: 'caught up: same revision and KV hash as every member',
  };
}
