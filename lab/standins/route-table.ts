// The gateway's in-memory copy of <prefix>/routes/: matching a request by Host and URI, and
// weighted round-robin over a route's upstream nodes. This copy is what keeps traffic
// flowing while etcd is away.
import type { Route, UpstreamNode } from './apisix-route';

/** nginx's smooth weighted round-robin: weights 1:1 alternate, 2:1 gives a a b a a b ... */
export class RoundRobin {
  private readonly current: number[];

  constructor(readonly nodes: UpstreamNode[]) {
    this.current = nodes.map(() => 0);
  }

  /** Index of the next node, skipping `exclude` (nodes already tried); undefined if none left. */
  pick(exclude: ReadonlySet<number> = new Set()): number | undefined {
    let best: number | undefined;
    let total = 0;
    this.nodes.forEach((node, i) => {
      if (node.weight <= 0 || exclude.has(i)) return;
      this.current[i]! += node.weight;
      total += node.weight;
      if (best === undefined || this.current[i]! > this.current[best]!) best = i;
    });
    if (best !== undefined) this.current[best]! -= total;
    return best;
  }
}

export interface RouteEntry {
  route: Route;
  balancer?: RoundRobin;
}

export interface Match {
  entry: RouteEntry;
  /** The route's uri pattern that matched (the metrics label matched_uri). */
  matchedUri: string;
  /** The route's host that matched, "" for a route without host (label matched_host). */
  matchedHost: string;
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.'))
    return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

/** Exact uri, or a prefix when the route uri ends in "*"; returns a specificity score. */
function uriScore(pattern: string, path: string): number | undefined {
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return path.startsWith(prefix) ? prefix.length : undefined;
  }
  // Exact matches always beat prefix matches, whatever the lengths.
  return pattern === path ? 1_000_000 + pattern.length : undefined;
}

export class RouteTable {
  private readonly entries = new Map<string, RouteEntry>();

  get size(): number {
    return this.entries.size;
  }

  replaceAll(routes: Array<[key: string, route: Route]>): void {
    this.entries.clear();
    for (const [key, route] of routes) this.set(key, route);
  }

  set(key: string, route: Route): void {
    const up = route.upstream;
    this.entries.set(key, { route, balancer: up ? new RoundRobin(up.nodes) : undefined });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /**
   * The best route for a request: exact uri before prefix, longer prefix first, then the
   * route's priority, then a route naming the host before a route for any host.
   */
  match(hostHeader: string, path: string, method: string): Match | undefined {
    const host = hostHeader
      .replace(/:\d+$/, '')
      .replace(/^\[(.*)\]$/, '$1')
      .toLowerCase();
    let best: { match: Match; rank: [number, number, number] } | undefined;
    for (const entry of this.entries.values()) {
      const r = entry.route;
      if (!r.enabled) continue;
      if (r.methods.length > 0 && !r.methods.includes(method)) continue;
      let matchedHost: string | undefined = '';
      if (r.hosts.length > 0) matchedHost = r.hosts.find((h) => hostMatches(h, host));
      if (matchedHost === undefined) continue;
      for (const uri of r.uris) {
        const score = uriScore(uri, path);
        if (score === undefined) continue;
        const rank: [number, number, number] = [score, r.priority, matchedHost ? 1 : 0];
        if (!best || compareRank(rank, best.rank) > 0) {
          best = { match: { entry, matchedUri: uri, matchedHost }, rank };
        }
      }
    }
    return best?.match;
  }
}

function compareRank(a: [number, number, number], b: [number, number, number]): number {
  for (let i = 0; i < 3; i++) {
    if (a[i]! !== b[i]!) return a[i]! - b[i]!;
  }
  return 0;
}
