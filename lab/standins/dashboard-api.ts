// manager-api's HTTP API as the orchestrator uses it: /ping, login, gateway clusters and
// routes. Every read and write goes to etcd, so the answers show etcd's state: when etcd
// cannot be reached the request fails with a 5xx instead of being served from memory.
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { validateRouteBody } from './apisix-route';
import type { DashboardConfig } from './dashboard-config';
import { EtcdError, EtcdUnavailableError, type EtcdHttpClient } from './etcd-http';
import { flakeId } from './flake-id';
import { BodyTooLarge, peerAddress, readBody, sendJson } from './http-helpers';
import { signToken, verifyToken } from './jwt';
import { isTree, type Tree } from './yaml-config';

// manager-api's codes: 0 = ok; 010013 (a Go octal literal, so 4107) = not logged in.
const CODE_UNAUTHORIZED = 4107;
const CODE_BAD_REQUEST = 10000;
const CODE_LOGIN_FAILED = 10001;
const CODE_NOT_FOUND = 10002;
const CODE_IP_NOT_ALLOWED = 20002;
const CODE_ETCD = 10003;

/** An answer other than success, thrown from handlers and turned into the envelope. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string) => new ApiError(400, CODE_BAD_REQUEST, message);
const notFound = (message = 'data not found') => new ApiError(404, CODE_NOT_FOUND, message);

/** APISIX object ids: letters, digits, - _ . and at most 64 characters. */
const OBJECT_ID = /^[A-Za-z0-9._-]{1,64}$/;

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** manager-api's allow_list: exact addresses and CIDRs; an empty list lets everyone in. */
export function ipAllowed(ip: string, allowList: string[]): boolean {
  if (allowList.length === 0) return true;
  for (const entry of allowList) {
    const [base, bitsText] = entry.split('/') as [string, string | undefined];
    if (bitsText === undefined) {
      if (base === ip) return true;
      continue;
    }
    const a = ipv4ToInt(ip);
    const b = ipv4ToInt(base);
    const bits = Number(bitsText);
    if (a === undefined || b === undefined || !(bits >= 0 && bits <= 32)) {
      if (base === ip) return true;
      continue;
    }
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((a & mask) >>> 0 === (b & mask) >>> 0) return true;
  }
  return false;
}

export class DashboardApi {
  constructor(
    private readonly cfg: DashboardConfig,
    private readonly etcd: EtcdHttpClient,
    private readonly version: { version: string; gitHash: string },
    private readonly logError: (message: string) => void,
  ) {}

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const method = req.method ?? 'GET';
    try {
      if (!ipAllowed(peerAddress(req.socket), this.cfg.allowList)) {
        throw new ApiError(403, CODE_IP_NOT_ALLOWED, 'IP address not allowed');
      }
      if (url.pathname === '/ping') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('pong');
        return;
      }
      if (!url.pathname.startsWith('/apisix/admin/')) throw notFound('404 page not found');
      const path = url.pathname.slice('/apisix/admin'.length).replace(/\/+$/, '');

      if (path === '/user/login' && method === 'POST') return this.ok(res, await this.login(req));
      if (path === '/tool/version' && method === 'GET') {
        return this.ok(res, { commit_hash: this.version.gitHash, version: this.version.version });
      }
      this.authenticate(req);

      const segments = path.split('/').filter(Boolean);
      const [collection, id, extra] = segments;
      if (extra !== undefined) throw notFound('404 page not found');
      if (collection === 'clusters') return this.ok(res, await this.clusters(req, method, id));
      if (collection === 'routes') {
        return this.ok(res, await this.routes(req, method, id, url.searchParams));
      }
      throw notFound('404 page not found');
    } catch (err) {
      this.fail(res, err);
    }
  }

  // ------------------------------------------------------------ auth

  private async login(req: http.IncomingMessage): Promise<unknown> {
    const body = await this.jsonBody(req);
    const user = this.cfg.auth.users.find(
      (u) => u.username === body.username && u.password === body.password,
    );
    if (!user || typeof body.username !== 'string') {
      throw new ApiError(401, CODE_LOGIN_FAILED, 'username or password error');
    }
    const token = signToken(this.cfg.auth.secret, user.username, this.cfg.auth.expireSeconds);
    return { token, username: user.username };
  }

  /** `Authorization: <token>` (no "Bearer"), a JWT of a user still in conf.yaml. */
  private authenticate(req: http.IncomingMessage): void {
    const token = req.headers.authorization ?? '';
    const claims = verifyToken(this.cfg.auth.secret, token);
    if (!claims || !this.cfg.auth.users.some((u) => u.username === claims.sub)) {
      throw new ApiError(401, CODE_UNAUTHORIZED, 'request unauthorized');
    }
  }

  // ------------------------------------------------------------ clusters

  private clusterKey(id: string): string {
    return `${this.cfg.etcd.prefix}/clusters/${id}`;
  }

  private async clusters(
    req: http.IncomingMessage,
    method: string,
    id: string | undefined,
  ): Promise<unknown> {
    if (id === undefined && method === 'GET') {
      const { kvs } = await this.etcd.range(`${this.cfg.etcd.prefix}/clusters/`, { prefix: true });
      return listOutput(kvs.map((kv) => parseStored(kv.value)).filter(isTree));
    }
    if (id === undefined && method === 'POST') {
      const body = await this.jsonBody(req);
      if (typeof body.name !== 'string' || body.name.trim() === '')
        throw badRequest('name is required');
      const now = Math.floor(Date.now() / 1000);
      let newId = flakeId();
      if (await this.etcd.get(this.clusterKey(newId))) newId = flakeId();
      const fields = withoutId(body);
      const cluster = { id: newId, ...fields, name: body.name, create_time: now, update_time: now };
      await this.etcd.put(this.clusterKey(newId), JSON.stringify(cluster));
      return cluster;
    }
    if (id !== undefined && method === 'GET') return this.loadCluster(id);
    throw new ApiError(405, CODE_BAD_REQUEST, `method ${method} not allowed here`);
  }

  private async loadCluster(id: string): Promise<Tree> {
    if (!OBJECT_ID.test(id)) throw notFound();
    const kv = await this.etcd.get(this.clusterKey(id));
    const cluster = kv ? parseStored(kv.value) : undefined;
    if (!isTree(cluster)) throw notFound();
    return cluster;
  }

  // ------------------------------------------------------------ routes

  private async routes(
    req: http.IncomingMessage,
    method: string,
    id: string | undefined,
    query: URLSearchParams,
  ): Promise<unknown> {
    const clusterId = query.get('cluster_id') ?? '';
    if (!OBJECT_ID.test(clusterId)) throw badRequest('cluster_id is required');
    try {
      await this.loadCluster(clusterId);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404)
        throw badRequest(`cluster ${clusterId} not found`);
      throw err;
    }
    const base = `${this.cfg.etcd.prefix}/${clusterId}/routes/`;

    if (id === undefined && method === 'GET') {
      const { kvs } = await this.etcd.range(base, { prefix: true });
      // The gateway's start writes "<prefix>/routes/" = "init_dir" (APISIX does); skip it.
      const rows = kvs.filter((kv) => kv.value !== 'init_dir').map((kv) => parseStored(kv.value));
      return listOutput(rows.filter(isTree), query);
    }
    if (id === undefined && (method === 'POST' || method === 'PUT')) {
      const body = await this.jsonBody(req);
      if (method === 'PUT' && body.id === undefined) throw badRequest('id is required');
      const newId = body.id === undefined ? flakeId() : String(body.id);
      if (method === 'POST' && body.id !== undefined && (await this.etcd.get(base + newId))) {
        throw badRequest(`route id ${newId} exists`);
      }
      return this.saveRoute(base, newId, body);
    }
    if (id === undefined)
      throw new ApiError(405, CODE_BAD_REQUEST, `method ${method} not allowed here`);

    const ids = id.split(',');
    if (!ids.every((i) => OBJECT_ID.test(i))) throw badRequest(`invalid route id ${id}`);
    if (method === 'GET') {
      const kv = await this.etcd.get(base + id);
      const route = kv ? parseStored(kv.value) : undefined;
      if (!isTree(route)) throw notFound();
      return route;
    }
    if (method === 'PUT') {
      const body = await this.jsonBody(req);
      if (body.id !== undefined && String(body.id) !== id) {
        throw badRequest(`ID on path (${id}) doesn't match ID on body (${String(body.id)})`);
      }
      return this.saveRoute(base, id, body);
    }
    if (method === 'DELETE') {
      // manager-api deletes a comma-separated list and refuses when one of them is missing.
      for (const one of ids) {
        if (!(await this.etcd.get(base + one))) throw notFound(`key: ${one} is not found`);
      }
      for (const one of ids) await this.etcd.delete(base + one);
      return null;
    }
    throw new ApiError(405, CODE_BAD_REQUEST, `method ${method} not allowed here`);
  }

  private async saveRoute(base: string, id: string, body: Tree): Promise<Tree> {
    if (!OBJECT_ID.test(id)) throw badRequest(`invalid route id ${id}`);
    const problem = validateRouteBody({ ...body, id });
    if (problem) throw badRequest(`schema validate failed: ${problem}`);
    const existing = await this.etcd.get(base + id);
    const previous = existing ? parseStored(existing.value) : undefined;
    const now = Math.floor(Date.now() / 1000);
    // manager-api stamps create_time/update_time into the stored object.
    const createTime =
      isTree(previous) && typeof previous.create_time === 'number' ? previous.create_time : now;
    const fields = withoutId(body);
    const route: Tree = { id, ...fields, create_time: createTime, update_time: now };
    await this.etcd.put(base + id, JSON.stringify(route));
    return route;
  }

  // ------------------------------------------------------------ envelope

  private async jsonBody(req: http.IncomingMessage): Promise<Tree> {
    const raw = (await readBody(req, 1024 * 1024)).toString('utf8');
    let parsed: unknown;
    try {
      parsed = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch {
      throw badRequest('request body is not valid JSON');
    }
    if (!isTree(parsed)) throw badRequest('request body must be a JSON object');
    return parsed;
  }

  private ok(res: http.ServerResponse, data: unknown): void {
    sendJson(res, 200, { code: 0, message: '', data, request_id: randomUUID() });
  }

  private fail(res: http.ServerResponse, err: unknown): void {
    let status = 500;
    let code = CODE_ETCD;
    let message: string;
    if (err instanceof ApiError) {
      ({ status, code, message } = err);
    } else if (err instanceof BodyTooLarge) {
      status = 413;
      code = CODE_BAD_REQUEST;
      message = err.message;
    } else if (err instanceof EtcdUnavailableError || err instanceof EtcdError) {
      message = `etcd: ${err.message}`;
      this.logError(message);
    } else {
      message = err instanceof Error ? err.message : String(err);
      this.logError(`unexpected error: ${message}`);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, status, { code, message, data: null, request_id: randomUUID() });
  }
}

/** The body's own fields minus "id", so the stored object starts with the id we chose. */
function withoutId(body: Tree): Tree {
  const copy = { ...body };
  delete copy.id;
  return copy;
}

function parseStored(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** manager-api's list shape (rows + total_size), plus "total"; sorted by creation, paged. */
function listOutput(rows: Tree[], query?: URLSearchParams): Tree {
  const time = (r: Tree) => (typeof r.create_time === 'number' ? r.create_time : 0);
  rows.sort((a, b) => time(a) - time(b) || String(a.id).localeCompare(String(b.id)));
  const total = rows.length;
  const page = Number(query?.get('page') ?? 0);
  const size = Number(query?.get('page_size') ?? 0);
  const paged = page > 0 && size > 0 ? rows.slice((page - 1) * size, page * size) : rows;
  return { total, total_size: total, rows: paged };
}
