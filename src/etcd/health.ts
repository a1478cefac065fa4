// etcd cluster health as the operator means it: every member listed and started, a
// leader, a linearizable write/read/delete round trip, and /health true on each member.
import { randomUUID } from 'node:crypto';
import { EtcdAuthenticationFailedError } from 'etcd3';
import { etcdHttpGet, withEtcd, type EtcdAccess } from './client';
import { errorText } from '../util/errors';

export type { EtcdAccess } from './client';

export interface MemberHealth {
  endpoint: string;
  healthy: boolean;
  leader?: string;
  revision?: string;
  error?: string;
}

export interface ClusterHealth {
  members: Array<{ name: string; id: string; clientURLs: string[] }>;
  perEndpoint: MemberHealth[];
  roundTrip: boolean;
  problems: string[];
}

async function healthEndpoint(access: EtcdAccess, endpoint: string): Promise<boolean> {
  try {
    const res = await etcdHttpGet(access, endpoint, '/health');
    return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

export async function memberHealth(access: EtcdAccess, endpoint: string): Promise<MemberHealth> {
  try {
    const status = await withEtcd(access, [endpoint], (c) => c.maintenance.status());
    const healthy = await healthEndpoint(access, endpoint);
    return { endpoint, healthy, leader: status.leader, revision: status.header.revision };
  } catch (e) {
    return { endpoint, healthy: false, error: errorText(e) };
  }
}

export async function clusterHealth(
  access: EtcdAccess,
  expectedMembers: string[],
): Promise<ClusterHealth> {
  const problems: string[] = [];
  let members: ClusterHealth['members'] = [];
  let roundTrip = false;
  try {
    await withEtcd(access, access.endpoints, async (c) => {
      const list = await c.cluster.memberList({});
      members = list.members.map((m) => ({ name: m.name, id: m.ID, clientURLs: m.clientURLs }));
      const key = `/api7-ha/probe/${randomUUID()}`;
      await c.put(key).value('ok');
      roundTrip = (await c.get(key).string()) === 'ok'; // linearizable by default
      await c.delete().key(key);
    });
    for (const name of expectedMembers) {
      const m = members.find((x) => x.name === name);
      if (!m) problems.push(`member ${name} is not in the member list`);
      else if (!m.clientURLs.length) problems.push(`member ${name} is listed but has not started`);
    }
    if (!roundTrip) problems.push('a written key did not read back');
  } catch (e) {
    // A refused password is not a health problem that waiting would cure.
    if (e instanceof EtcdAuthenticationFailedError) throw e;
    problems.push(`cluster request failed: ${errorText(e)}`);
  }
  const perEndpoint = await Promise.all(access.endpoints.map((e) => memberHealth(access, e)));
  for (const m of perEndpoint) {
    if (!m.healthy) problems.push(`${m.endpoint} is not healthy${m.error ? ` (${m.error})` : ''}`);
    else if (!m.leader || m.leader === '0') problems.push(`${m.endpoint} sees no leader`);
  }
  return { members, perEndpoint, roundTrip, problems };
}

/** The connection pool etcd3 keeps behind its typed clients (see memberKvHash). */
interface RawCalls {
  exec(service: 'Maintenance', method: 'HashKV', req: { revision: string }): Promise<unknown>;
}

/**
 * The hash of the member's keys up to `revision` (Maintenance.HashKV; it needs the root
 * role when auth is on). Members at the same revision with the same hash hold the same
 * data. Neither the whole-backend Hash (it differs between members once auth is on) nor
 * the JSON gateway (which maps /v3/maintenance/hash to Hash only) can serve; and etcd3
 * 1.1.2's `maintenance.hashKV()` asks gRPC for a method name that does not exist, so
 * the call goes to the same pool under the proto's name.
 */
export function memberKvHash(
  access: EtcdAccess,
  endpoint: string,
  revision: string,
): Promise<string> {
  return withEtcd(access, [endpoint], async (c) => {
    const pool = (c.maintenance as unknown as { client: RawCalls }).client;
    const res = (await pool.exec('Maintenance', 'HashKV', { revision })) as { hash?: unknown };
    if (res.hash === undefined) throw new Error(`HashKV of ${endpoint} returned no hash`);
    return String(res.hash);
  });
}
