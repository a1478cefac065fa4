// The APISIX route object as stored in etcd, e.g.
//   {"id":"1","uri":"/get","host":"test.com","upstream":{"type":"roundrobin","nodes":{"10.0.0.5:80":1}}}
// The dashboard validates it on write; the gateway turns it into something it can match
// and balance over. Only the subset the lab uses is understood; unknown fields are kept.
import { isTree, type Tree } from './yaml-config';

export interface UpstreamNode {
  host: string;
  port: number;
  weight: number;
}

export interface Upstream {
  type: string;
  scheme: 'http' | 'https';
  nodes: UpstreamNode[];
  /** pass = client's Host; node = the node's address; rewrite = upstreamHost. */
  passHost: 'pass' | 'node' | 'rewrite';
  upstreamHost?: string;
  /** seconds, as in APISIX's upstream.timeout */
  timeout: { connect: number; send: number; read: number };
  /** Extra tries on another node after a connection failure (default: nodes - 1). */
  retries: number;
}

export interface Route {
  id: string;
  uris: string[];
  hosts: string[];
  methods: string[];
  priority: number;
  enabled: boolean;
  upstream?: Upstream;
}

const UPSTREAM_TYPES = new Set(['roundrobin', 'chash', 'ewma', 'least_conn']);
const METHODS = new Set([
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'CONNECT',
  'TRACE',
  'PURGE',
]);

function parseNodeAddress(addr: string): { host: string; port?: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(addr);
  if (!m) return { host: addr };
  return { host: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) };
}

/** Nodes come as {"host:port": weight} or as [{"host","port","weight"}]. */
function parseNodes(raw: unknown, scheme: 'http' | 'https'): UpstreamNode[] | string {
  const defaultPort = scheme === 'https' ? 443 : 80;
  const nodes: UpstreamNode[] = [];
  if (Array.isArray(raw)) {
    for (const n of raw) {
      if (!isTree(n) || typeof n.host !== 'string' || n.host === '')
        return 'each upstream node needs a host';
      const weight = n.weight === undefined ? 1 : n.weight;
      if (typeof weight !== 'number' || weight < 0)
        return `node ${n.host}: weight must be a number >= 0`;
      const port = n.port === undefined ? defaultPort : n.port;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
        return `node ${n.host}: port must be 1-65535`;
      }
      nodes.push({ host: n.host, port, weight });
    }
    return nodes;
  }
  if (isTree(raw)) {
    for (const [addr, weight] of Object.entries(raw)) {
      if (typeof weight !== 'number' || weight < 0)
        return `node ${addr}: weight must be a number >= 0`;
      const { host, port } = parseNodeAddress(addr);
      if (port !== undefined && (port < 1 || port > 65535))
        return `node ${addr}: port must be 1-65535`;
      nodes.push({ host, port: port ?? defaultPort, weight });
    }
    return nodes;
  }
  return 'upstream.nodes must be an object {"host:port": weight} or a list of nodes';
}

function parseUpstream(raw: unknown): Upstream | string {
  if (!isTree(raw)) return 'upstream must be an object';
  const type = raw.type === undefined ? 'roundrobin' : raw.type;
  if (typeof type !== 'string' || !UPSTREAM_TYPES.has(type)) {
    return `upstream.type must be one of ${[...UPSTREAM_TYPES].join(', ')}`;
  }
  const scheme = raw.scheme === 'https' ? 'https' : 'http';
  if (raw.scheme !== undefined && raw.scheme !== 'http' && raw.scheme !== 'https') {
    return 'upstream.scheme must be http or https';
  }
  const nodes = parseNodes(raw.nodes, scheme);
  if (typeof nodes === 'string') return nodes;
  const passHost = raw.pass_host === undefined ? 'pass' : raw.pass_host;
  if (passHost !== 'pass' && passHost !== 'node' && passHost !== 'rewrite') {
    return 'upstream.pass_host must be pass, node or rewrite';
  }
  if (passHost === 'rewrite' && typeof raw.upstream_host !== 'string') {
    return 'upstream.upstream_host is required when pass_host is rewrite';
  }
  const t = isTree(raw.timeout) ? raw.timeout : {};
  const seconds = (v: unknown) => (typeof v === 'number' && v > 0 ? v : 60);
  const retries =
    typeof raw.retries === 'number' && raw.retries >= 0
      ? raw.retries
      : Math.max(0, nodes.length - 1);
  return {
    type,
    scheme,
    nodes,
    passHost,
    upstreamHost: typeof raw.upstream_host === 'string' ? raw.upstream_host : undefined,
    timeout: { connect: seconds(t.connect), send: seconds(t.send), read: seconds(t.read) },
    retries,
  };
}

function stringList(value: unknown, field: string): string[] | string {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((v) => typeof v === 'string' && v !== '')
  ) {
    return `${field} must be a non-empty list of strings`;
  }
  return value as string[];
}

/** Turn a stored route into its matching form; a string is the reason it is unusable. */
export function parseRoute(id: string, raw: unknown): Route | string {
  if (!isTree(raw)) return 'route must be a JSON object';
  let uris: string[];
  if (raw.uri !== undefined && raw.uris !== undefined) return 'use either uri or uris, not both';
  if (typeof raw.uri === 'string') uris = [raw.uri];
  else if (raw.uris !== undefined) {
    const list = stringList(raw.uris, 'uris');
    if (typeof list === 'string') return list;
    uris = list;
  } else return 'uri or uris is required';
  if (!uris.every((u) => u.startsWith('/') || u === '*')) return 'every uri must start with /';

  let hosts: string[] = [];
  if (raw.host !== undefined && raw.hosts !== undefined)
    return 'use either host or hosts, not both';
  if (typeof raw.host === 'string') hosts = [raw.host];
  else if (raw.host !== undefined) return 'host must be a string';
  else if (raw.hosts !== undefined) {
    const list = stringList(raw.hosts, 'hosts');
    if (typeof list === 'string') return list;
    hosts = list;
  }

  let methods: string[] = [];
  if (raw.methods !== undefined) {
    const list = stringList(raw.methods, 'methods');
    if (typeof list === 'string') return list;
    if (!list.every((m) => METHODS.has(m)))
      return `methods must be among ${[...METHODS].join(', ')}`;
    methods = list;
  }

  let upstream: Upstream | undefined;
  if (raw.upstream !== undefined) {
    const parsed = parseUpstream(raw.upstream);
    if (typeof parsed === 'string') return parsed;
    upstream = parsed;
  }
  if (raw.status !== undefined && raw.status !== 0 && raw.status !== 1)
    return 'status must be 0 or 1';

  return {
    id: typeof raw.id === 'string' || typeof raw.id === 'number' ? String(raw.id) : id,
    uris,
    hosts: hosts.map((h) => h.toLowerCase()),
    methods,
    priority: typeof raw.priority === 'number' ? raw.priority : 0,
    // The dashboard's "offline" switch: APISIX skips routes with status 0.
    enabled: raw.status !== 0,
    upstream,
  };
}

/** Dashboard-side check of a route body before it is written to etcd. */
export function validateRouteBody(body: Tree): string | undefined {
  const parsed = parseRoute(String(body.id ?? ''), body);
  if (typeof parsed === 'string') return parsed;
  if (body.name !== undefined && typeof body.name !== 'string') return 'name must be a string';
  const hasTarget =
    body.upstream !== undefined ||
    body.upstream_id !== undefined ||
    body.service_id !== undefined ||
    body.plugins !== undefined ||
    body.script !== undefined;
  if (!hasTarget) return 'a route needs an upstream, upstream_id, service_id or plugins';
  return undefined;
}
