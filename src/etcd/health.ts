// etcd cluster health as the operator means it: every member listed and started, a
// leader, a linearizable write/read/delete round trip, and /health true on each member.
import { randomUUID } from 'node:crypto';
import { Etcd3, type IOptions } from 'etcd3';

export interface EtcdAccess {
  /** host:port client endpoints */
  endpoints: string[];
  auth?: { username: string; password: string };
}

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

function client(access: EtcdAccess, endpoints = access.endpoints): Etcd3 {
  const opts: IOptions = {
    hosts: endpoints.map((e) => `http://${e}`),
    dialTimeout: 3000,
    defaultCallOptions: () => ({ deadline: Date.now() + 4000 }),
  };
  if (access.auth) opts.auth = access.auth;
  return new Etcd3(opts);
}

async function healthEndpoint(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${endpoint}/health`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

export async function memberHealth(access: EtcdAccess, endpoint: string): Promise<MemberHealth> {
  const c = client(access, [endpoint]);
  try {
    const status = await c.maintenance.status();
    const healthy = await healthEndpoint(endpoint);
    return { endpoint, healthy, leader: status.leader, revision: status.header.revision };
  } catch (e) {
    return {
      endpoint,
      healthy: false,
      error: e instanceof Error ? e.message.split('\n')[0] : String(e),
    };
  } finally {
    c.close();
  }
}

export async function clusterHealth(
  access: EtcdAccess,
  expectedMembers: string[],
): Promise<ClusterHealth> {
  const problems: string[] = [];
  const c = client(access);
  let members: ClusterHealth['members'] = [];
  let roundTrip = false;
  try {
    const list = await c.cluster.memberList({});
    members = list.members.map((m) => ({ name: m.name, id: m.ID, clientURLs: m.clientURLs }));
    for (const name of expectedMembers) {
      const m = members.find((x) => x.name === name);
      if (!m) problems.push(`member ${name} is not in the member list`);
      else if (!m.clientURLs.length) problems.push(`member ${name} is listed but has not started`);
    }
    const key = `/api7-ha/probe/${randomUUID()}`;
    await c.put(key).value('ok');
    roundTrip = (await c.get(key).string()) === 'ok'; // linearizable by default
    await c.delete().key(key);
    if (!roundTrip) problems.push('a written key did not read back');
  } catch (e) {
    problems.push(
      `cluster request failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
    );
  } finally {
    c.close();
  }
  const perEndpoint = await Promise.all(access.endpoints.map((e) => memberHealth(access, e)));
  for (const m of perEndpoint) {
    if (!m.healthy) problems.push(`${m.endpoint} is not healthy${m.error ? ` (${m.error})` : ''}`);
    else if (!m.leader || m.leader === '0') problems.push(`${m.endpoint} sees no leader`);
  }
  return { members, perEndpoint, roundTrip, problems };
}
