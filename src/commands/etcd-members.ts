// etcd runtime reconfiguration (pure): the etcdctl commands of the vendor's runbook for
// changing members (member list / add [--learner] / promote / remove, endpoint status and
// hashkv, all with `-w json`), the parsers of their output, and the quorum rule every
// membership change obeys. etcdctl runs in the member's own container, as the guide does
// (`docker exec etcd etcdctl ...`), with the member's certificate when etcd.tls is on and
// the root password read from stdin (PASSWORD_FROM_STDIN), so it is in no command line.
//
// etcdctl prints member and cluster ids as JSON numbers that do not fit a double; the
// parsers read them as decimal strings and give them in hex, as `member list` (table)
// and `member remove <id>` use them.
import type { Inventory } from '../config/inventory';
import { PASSWORD_FROM_STDIN } from './backup';
import { etcdMember } from './etcd';
import { ETCD_CERTS_IN_CONTAINER, etcdTls } from './etcd-tls';

export interface EtcdctlOptions {
  /** Log in as etcd.auth.username, password on stdin (false before auth is turned on). */
  withAuth: boolean;
  /** Client URLs to talk to; the member on the host itself by default. */
  endpoints?: string[];
}

/** `docker exec` of etcdctl inside the etcd container on `hostName`. */
export function etcdctlArgv(
  inv: Inventory,
  hostName: string,
  args: string[],
  opts: EtcdctlOptions,
): string[] {
  const endpoints = opts.endpoints ?? [etcdMember(inv, hostName).clientUrl];
  const flags = [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=5s'];
  if (etcdTls(inv)) {
    const f = (name: string) => `${ETCD_CERTS_IN_CONTAINER}/${name}`;
    // The member's own certificate: it has clientAuth (docs/inventory.md, etcd.tls).
    flags.push(`--cacert=${f('ca.crt')}`, `--cert=${f('member.crt')}`, `--key=${f('member.key')}`);
  }
  if (opts.withAuth) flags.push(`--user=${inv.etcd.auth.username}`);
  const argv = ['docker', 'exec', '-e', 'ETCDCTL_API=3'];
  if (opts.withAuth)
    argv.push('-i', inv.etcd.containerName, '/bin/sh', '-c', PASSWORD_FROM_STDIN, 'sh');
  else argv.push(inv.etcd.containerName, 'etcdctl');
  return [...argv, ...flags, ...args];
}

export const memberListArgv = (inv: Inventory, hostName: string, opts: EtcdctlOptions) =>
  etcdctlArgv(inv, hostName, ['member', 'list', '-w', 'json'], opts);

export const memberRemoveArgv = (
  inv: Inventory,
  hostName: string,
  hexId: string,
  opts: EtcdctlOptions,
) => etcdctlArgv(inv, hostName, ['member', 'remove', checkHexId(hexId)], opts);

export const memberAddArgv = (
  inv: Inventory,
  hostName: string,
  member: { name: string; peerUrl: string; learner: boolean },
  opts: EtcdctlOptions,
) =>
  etcdctlArgv(
    inv,
    hostName,
    [
      'member',
      'add',
      member.name,
      `--peer-urls=${member.peerUrl}`,
      ...(member.learner ? ['--learner'] : []),
      '-w',
      'json',
    ],
    opts,
  );

export const memberPromoteArgv = (
  inv: Inventory,
  hostName: string,
  hexId: string,
  opts: EtcdctlOptions,
) => etcdctlArgv(inv, hostName, ['member', 'promote', checkHexId(hexId), '-w', 'json'], opts);

/** Status of each of `opts.endpoints` (or the host's own member). */
export const endpointStatusArgv = (inv: Inventory, hostName: string, opts: EtcdctlOptions) =>
  etcdctlArgv(inv, hostName, ['endpoint', 'status', '-w', 'json'], opts);

/** HashKV of each endpoint at its latest revision. */
export const endpointHashKvArgv = (inv: Inventory, hostName: string, opts: EtcdctlOptions) =>
  etcdctlArgv(inv, hostName, ['endpoint', 'hashkv', '-w', 'json'], opts);

function checkHexId(id: string): string {
  if (!/^[0-9a-f]{1,16}$/.test(id)) throw new Error(`not an etcd member id in hex: ${id}`);
  return id;
}

/** A decimal uint64 (etcd's JSON, etcd3's strings) in hex, as etcdctl's table shows ids. */
export const hexId = (decimal: string | number | bigint) => BigInt(decimal).toString(16);
/** A hex id back in decimal, as etcd3's requests want it. */
export const decimalId = (hex: string) => BigInt(`0x${checkHexId(hex)}`).toString(10);

export interface MemberInfo {
  /** hex */
  id: string;
  /** Empty until the member has started once. */
  name: string;
  peerURLs: string[];
  /** Empty until the member has started once. */
  clientURLs: string[];
  isLearner: boolean;
}

/** JSON whose big integer fields (ids, "hash" is safe) are kept as decimal strings. */
function parseJsonWithIds(stdout: string, what: string): unknown {
  const text = stdout.slice(Math.max(0, firstJson(stdout)));
  const quoted = text.replace(
    /"(ID|cluster_id|member_id|leader)":\s*(\d+)/g,
    (_m, k: string, v: string) => `"${k}":"${v}"`,
  );
  try {
    return JSON.parse(quoted);
  } catch {
    throw new Error(`etcdctl ${what} gave no JSON: ${stdout.trim().slice(0, 200)}`);
  }
}

const firstJson = (s: string) => {
  const i = s.search(/[[{]/);
  return i < 0 ? s.length : i;
};

type RawMember = {
  ID?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
};

export function toMemberInfo(m: RawMember): MemberInfo {
  if (!m.ID) throw new Error(`etcd member without ID: ${JSON.stringify(m)}`);
  return {
    id: hexId(m.ID),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    isLearner: m.isLearner ?? false,
  };
}

/** `member list -w json` (and `member promote -w json`, which returns the same list). */
export function parseMemberList(stdout: string): { clusterId: string; members: MemberInfo[] } {
  const v = parseJsonWithIds(stdout, 'member list') as {
    header?: { cluster_id?: string };
    members?: RawMember[];
  };
  if (!Array.isArray(v.members)) throw new Error(`etcdctl member list gave no members`);
  return { clusterId: hexId(v.header?.cluster_id ?? 0), members: v.members.map(toMemberInfo) };
}

/** `member add -w json`: the new member (no name yet) and the membership with it. */
export function parseMemberAdd(stdout: string): { added: MemberInfo; members: MemberInfo[] } {
  const v = parseJsonWithIds(stdout, 'member add') as {
    member?: RawMember;
    members?: RawMember[];
  };
  if (!v.member || !Array.isArray(v.members)) throw new Error('etcdctl member add gave no member');
  return { added: toMemberInfo(v.member), members: v.members.map(toMemberInfo) };
}

export interface EndpointStatus {
  endpoint: string;
  /** hex */
  memberId: string;
  /** hex; '0' when the member sees no leader */
  leader: string;
  revision: number;
  raftIndex: number;
  raftAppliedIndex: number;
  isLearner: boolean;
  version: string;
}

/** `endpoint status -w json`: one entry per endpoint that answered. */
export function parseEndpointStatus(stdout: string): EndpointStatus[] {
  const v = parseJsonWithIds(stdout, 'endpoint status') as Array<{
    Endpoint?: string;
    Status?: {
      header?: { member_id?: string; revision?: number };
      leader?: string;
      raftIndex?: number;
      raftAppliedIndex?: number;
      isLearner?: boolean;
      version?: string;
    };
  }>;
  if (!Array.isArray(v)) throw new Error('etcdctl endpoint status gave no list');
  return v.map((e) => ({
    endpoint: e.Endpoint ?? '',
    memberId: hexId(e.Status?.header?.member_id ?? 0),
    leader: hexId(e.Status?.leader ?? 0),
    revision: e.Status?.header?.revision ?? 0,
    raftIndex: e.Status?.raftIndex ?? 0,
    raftAppliedIndex: e.Status?.raftAppliedIndex ?? 0,
    isLearner: e.Status?.isLearner ?? false,
    version: e.Status?.version ?? '',
  }));
}

export interface EndpointHashKv {
  endpoint: string;
  hash: number;
  revision: number;
}

/** `endpoint hashkv -w json`: each endpoint's KV hash at its revision. */
export function parseEndpointHashKv(stdout: string): EndpointHashKv[] {
  const v = parseJsonWithIds(stdout, 'endpoint hashkv') as Array<{
    Endpoint?: string;
    HashKV?: { header?: { revision?: number }; hash?: number };
  }>;
  if (!Array.isArray(v)) throw new Error('etcdctl endpoint hashkv gave no list');
  return v.map((e) => {
    if (typeof e.HashKV?.hash !== 'number')
      throw new Error(`etcdctl endpoint hashkv gave no hash for ${e.Endpoint}`);
    return {
      endpoint: e.Endpoint ?? '',
      hash: e.HashKV.hash,
      revision: e.HashKV.header?.revision ?? 0,
    };
  });
}

/**
 * Whether the cluster keeps quorum after removing `removeId` (hex; undefined: nothing
 * removed): the voting members that are left and answer must be a majority of the voting
 * members that are left. Learners never vote.
 */
export function quorumAfterRemoval(
  members: MemberInfo[],
  answering: ReadonlySet<string>,
  removeId?: string,
): { ok: boolean; voters: number; answering: number; needed: number } {
  const voters = members.filter((m) => !m.isLearner && m.id !== removeId);
  const up = voters.filter((m) => answering.has(m.id)).length;
  const needed = Math.floor(voters.length / 2) + 1;
  return { ok: voters.length > 0 && up >= needed, voters: voters.length, answering: up, needed };
}

/**
 * ETCD_INITIAL_CLUSTER for a member joining a running cluster: every current member
 * (named; the joining one, not started yet, under its own name) with its peer URLs.
 */
export function joiningInitialCluster(members: MemberInfo[], joiner: MemberInfo, name: string) {
  return members
    .flatMap((m) => {
      const n = m.id === joiner.id ? name : m.name;
      return m.peerURLs.map((u) => `${n}=${u}`);
    })
    .join(',');
}

/** etcd has learners (`member add --learner`, `member promote`) from 3.4 on. */
export function supportsLearners(version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 3 || (major === 3 && minor >= 4);
}
