// A small etcd v3 client over etcd's HTTP/JSON gateway (/v3/kv/*, /v3/watch, /v3/auth/*).
// Real APISIX talks to etcd exactly this way (lua-resty-etcd), so the stand-ins see the same
// quirks the real gateway sees: base64 keys and values, int64 numbers as JSON strings,
// zero-valued fields left out, watch responses as newline-delimited JSON on one long POST.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

export interface EtcdTlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** false = do not verify the server certificate (APISIX etcd.tls.verify: false). */
  verify?: boolean;
  servername?: string;
}

export interface EtcdClientOptions {
  /** host:port or http(s)://host:port; scheme-less entries use https when tls is set. */
  endpoints: string[];
  username?: string;
  password?: string;
  tls?: EtcdTlsOptions;
  /** Per attempt on one endpoint; after it the next endpoint is tried. */
  requestTimeoutMs?: number;
  /** A watch is re-created after this long, as lua-resty-etcd does with watch_timeout. */
  watchSessionMs?: number;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

export interface RangeResult {
  revision: number;
  count: number;
  kvs: KeyValue[];
}

/** etcd answered, and the answer is an error (bad request, permission, ...). */
export class EtcdError extends Error {
  constructor(
    message: string,
    readonly grpcCode?: number,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

/** No endpoint could serve the request; `reasons` says why for each one. */
export class EtcdUnavailableError extends Error {
  constructor(readonly reasons: Array<{ endpoint: string; error: string }>) {
    super(
      `no etcd endpoint answered: ${reasons.map((r) => `${r.endpoint} (${r.error})`).join(', ')}`,
    );
    this.name = 'EtcdUnavailableError';
  }
}

/** The endpoint itself failed (connection, timeout, no leader): worth trying another one. */
class EndpointFailure extends Error {
  override name = 'EndpointFailure';
}

/** The auth token was missing, expired or issued by a restarted member: authenticate again. */
class TokenRejected extends Error {
  override name = 'TokenRejected';
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ERR_SOCKET_CLOSED',
]);

// gRPC codes that say "this member cannot serve right now" rather than "your request is wrong".
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAUTHENTICATED = 16;

export function normalizeEndpoint(raw: string, defaultScheme: 'http' | 'https' = 'http'): string {
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `${defaultScheme}://${raw}`;
  const url = new URL(withScheme);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`etcd endpoint ${raw}: only http:// and https:// are supported`);
  }
  if (!url.port) throw new Error(`etcd endpoint ${raw}: a port is required`);
  return `${url.protocol}//${url.host}`;
}

/** The smallest key greater than every key starting with `prefix` (etcd's range_end). */
export function prefixRangeEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = bytes[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]); // the whole keyspace
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: unknown) =>
  typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '';
// int64 fields arrive as strings, and are absent when zero.
const int = (v: unknown) => (v === undefined || v === null ? 0 : Number(v));

interface RawKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
}

function decodeKv(raw: RawKv): KeyValue {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    createRevision: int(raw.create_revision),
    modRevision: int(raw.mod_revision),
    version: int(raw.version),
  };
}

interface GatewayErrorBody {
  error?: string | { message?: string; grpc_code?: number };
  message?: string;
  code?: number;
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    (code !== undefined && NETWORK_ERROR_CODES.has(code)) ||
    err.message === 'socket hang up' ||
    err.name === 'TimeoutError' ||
    code?.startsWith('ERR_SSL') === true ||
    code?.startsWith('CERT_') === true ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'
  );
}

export class EtcdHttpClient {
  readonly endpoints: string[];
  private current = 0;
  private readonly tokens = new Map<string, string>();
  readonly requestTimeoutMs: number;
  readonly watchSessionMs: number;
  private readonly tlsOptions: ConnectionOptions;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent: https.Agent;

  constructor(private readonly options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new Error('at least one etcd endpoint is required');
    const tls = options.tls;
    const defaultScheme = tls ? 'https' : 'http';
    this.endpoints = options.endpoints.map((e) => normalizeEndpoint(e, defaultScheme));
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.watchSessionMs = options.watchSessionMs ?? 60_000;
    this.tlsOptions = {
      ca: tls?.caFile ? readFileSync(tls.caFile) : undefined,
      cert: tls?.certFile ? readFileSync(tls.certFile) : undefined,
      key: tls?.keyFile ? readFileSync(tls.keyFile) : undefined,
      rejectUnauthorized: tls?.verify !== false,
      servername: tls?.servername,
    };
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32, ...this.tlsOptions });
  }

  get usesAuth(): boolean {
    return Boolean(this.options.username);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // ---------------------------------------------------------------- key-value

  async range(
    key: string,
    opts: { prefix?: boolean; countOnly?: boolean; limit?: number } = {},
  ): Promise<RangeResult> {
    const body: Record<string, unknown> = { key: b64(key) };
    if (opts.prefix) body.range_end = b64(prefixRangeEnd(key));
    if (opts.countOnly) body.count_only = true;
    if (opts.limit) body.limit = String(opts.limit);
    const res = (await this.call('/v3/kv/range', body)) as {
      header?: { revision?: string };
      kvs?: RawKv[];
      count?: string;
    };
    return {
      revision: int(res.header?.revision),
      count: int(res.count),
      kvs: (res.kvs ?? []).map(decodeKv),
    };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return (await this.range(key)).kvs[0];
  }

  async put(key: string, value: string): Promise<number> {
    const res = (await this.call('/v3/kv/put', { key: b64(key), value: b64(value) })) as {
      header?: { revision?: string };
    };
    return int(res.header?.revision);
  }

  async delete(
    key: string,
    opts: { prefix?: boolean } = {},
  ): Promise<{ revision: number; deleted: number }> {
    const body: Record<string, unknown> = { key: b64(key) };
    if (opts.prefix) body.range_end = b64(prefixRangeEnd(key));
    const res = (await this.call('/v3/kv/deleterange', body)) as {
      header?: { revision?: string };
      deleted?: string;
    };
    return { revision: int(res.header?.revision), deleted: int(res.deleted) };
  }

  /** GET /version on one endpoint: what APISIX probes at start and on each metrics scrape. */
  async versionOf(
    endpoint: string,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<{ etcdserver: string; etcdcluster: string }> {
    const { status, text } = await this.send(
      endpoint,
      'GET',
      '/version',
      undefined,
      undefined,
      timeoutMs,
    );
    if (status !== 200) throw new EndpointFailure(`HTTP ${status} from ${endpoint}/version`);
    try {
      const body = JSON.parse(text) as { etcdserver?: string; etcdcluster?: string };
      return { etcdserver: body.etcdserver ?? '', etcdcluster: body.etcdcluster ?? '' };
    } catch {
      throw new EtcdError(`malformed version message "${text}" from ${endpoint}/version`);
    }
  }

  /** GET /version on the first endpoint that answers. */
  async version(
    timeoutMs = this.requestTimeoutMs,
  ): Promise<{ endpoint: string; etcdcluster: string }> {
    const reasons: Array<{ endpoint: string; error: string }> = [];
    for (const endpoint of this.rotation()) {
      try {
        const v = await this.versionOf(endpoint, timeoutMs);
        return { endpoint, etcdcluster: v.etcdcluster };
      } catch (err) {
        reasons.push({ endpoint, error: describeNetworkError(err) });
      }
    }
    throw new EtcdUnavailableError(reasons);
  }

  // ---------------------------------------------------------------- watch

  /** Watch every key under `prefix` from `startRevision`; survives endpoints going away. */
  watch(prefix: string, startRevision: number, handlers: WatchHandlers): PrefixWatch {
    return new PrefixWatch(this, prefix, startRevision, handlers, this.current);
  }

  /** List + watch + re-list on compaction: keeps a caller's copy of a prefix up to date. */
  sync(prefix: string, handlers: SyncHandlers): PrefixSync {
    return new PrefixSync(this, prefix, handlers);
  }

  // ---------------------------------------------------------------- plumbing

  /** Endpoints starting with the one that worked last. */
  private rotation(): string[] {
    const n = this.endpoints.length;
    return Array.from({ length: n }, (_, i) => this.endpoints[(this.current + i) % n]!);
  }

  /** POST a JSON body, failing over to the next endpoint when one cannot serve it. */
  private async call(path: string, body: unknown): Promise<unknown> {
    const reasons: Array<{ endpoint: string; error: string }> = [];
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const index = (this.current + i) % n;
      const endpoint = this.endpoints[index]!;
      try {
        const result = await this.callOne(endpoint, path, body);
        this.current = index;
        return result;
      } catch (err) {
        if (err instanceof EtcdError) throw err;
        reasons.push({ endpoint, error: describeNetworkError(err) });
      }
    }
    throw new EtcdUnavailableError(reasons);
  }

  private async callOne(endpoint: string, path: string, body: unknown): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.tokenFor(endpoint);
      try {
        return await this.postJson(endpoint, path, body, token);
      } catch (err) {
        // Tokens expire (simple tokens: 5 min idle) and die with a member restart.
        if (err instanceof TokenRejected && attempt === 0 && this.usesAuth) {
          this.tokens.delete(endpoint);
          continue;
        }
        if (err instanceof TokenRejected)
          throw new EtcdError(err.message, GRPC_UNAUTHENTICATED, 401);
        throw err;
      }
    }
  }

  /** Token for one endpoint; undefined when auth is not configured. */
  async tokenFor(endpoint: string): Promise<string | undefined> {
    if (!this.usesAuth) return undefined;
    const cached = this.tokens.get(endpoint);
    if (cached) return cached;
    const res = (await this.postJson(endpoint, '/v3/auth/authenticate', {
      name: this.options.username,
      password: this.options.password ?? '',
    })) as { token?: string };
    if (!res.token) throw new EtcdError(`etcd at ${endpoint} returned no auth token`);
    this.tokens.set(endpoint, res.token);
    return res.token;
  }

  forgetToken(endpoint: string): void {
    this.tokens.delete(endpoint);
  }

  private async postJson(
    endpoint: string,
    path: string,
    body: unknown,
    token?: string,
  ): Promise<unknown> {
    const { status, text } = await this.send(endpoint, 'POST', path, JSON.stringify(body), token);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // "404 page not found": the member runs without the gRPC gateway (or it is not etcd).
      throw new EndpointFailure(`HTTP ${status} from ${endpoint}${path}: ${text.slice(0, 200)}`);
    }
    if (status === 200) return parsed;
    throw classifyErrorBody(endpoint, status, parsed as GatewayErrorBody);
  }

  /** One HTTP exchange with a timeout; network trouble becomes EndpointFailure. */
  send(
    endpoint: string,
    method: string,
    path: string,
    body?: string,
    token?: string,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = this.request(endpoint, method, path, token, false);
      const timer = setTimeout(() => {
        const err = new Error(`timed out after ${timeoutMs} ms`);
        err.name = 'TimeoutError';
        req.destroy(err);
      }, timeoutMs);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(new EndpointFailure(describeNetworkError(err)));
        });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(isNetworkError(err) ? new EndpointFailure(describeNetworkError(err)) : err);
      });
      req.end(body);
    });
  }

  /** A raw request; watch streams use a fresh connection each (`dedicated`). */
  request(
    endpoint: string,
    method: string,
    path: string,
    token: string | undefined,
    dedicated: boolean,
  ): http.ClientRequest {
    const url = new URL(path, endpoint);
    const secure = url.protocol === 'https:';
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
    // The gateway maps the Authorization header to the gRPC "authorization" metadata.
    if (token) headers.authorization = token;
    const options: https.RequestOptions = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      headers,
      agent: dedicated ? false : secure ? this.httpsAgent : this.httpAgent,
      ...(secure ? this.tlsOptions : {}),
    };
    return secure ? https.request(options) : http.request(options);
  }
}

function classifyErrorBody(endpoint: string, status: number, body: GatewayErrorBody): Error {
  const message =
    body.message ??
    (typeof body.error === 'string' ? body.error : body.error?.message) ??
    `HTTP ${status}`;
  const code = body.code ?? (typeof body.error === 'object' ? body.error.grpc_code : undefined);
  if (
    code === GRPC_UNAUTHENTICATED ||
    status === 401 ||
    /invalid auth token|user name is empty/.test(message)
  ) {
    return new TokenRejected(message);
  }
  if (
    code === GRPC_UNAVAILABLE ||
    code === GRPC_DEADLINE_EXCEEDED ||
    status === 503 ||
    status === 504 ||
    /no leader|request timed out|leader changed|too many requests/.test(message)
  ) {
    return new EndpointFailure(`${endpoint}: ${message}`);
  }
  return new EtcdError(message, code, status);
}

// ------------------------------------------------------------------ watch

export interface WatchHandlers {
  onEvents(events: WatchEvent[]): void;
  /** The start revision was compacted away; the watch has stopped: re-list, then watch again. */
  onCompacted(compactRevision: number): void;
  onConnected?(endpoint: string, fromRevision: number): void;
  onDisconnected?(error: Error): void;
}

interface WatchMessage {
  result?: {
    header?: { revision?: string };
    created?: boolean;
    canceled?: boolean;
    compact_revision?: string;
    cancel_reason?: string;
    events?: Array<{ type?: string | number; kv?: RawKv }>;
  };
  error?: { message?: string; grpc_code?: number; http_code?: number };
}

const WATCH_BACKOFF_MIN_MS = 200;
const WATCH_BACKOFF_MAX_MS = 4000;

/**
 * One long POST /v3/watch at a time. When its endpoint goes away the watch resumes on the
 * next endpoint from the revision after the last event seen, so no event is lost or repeated.
 */
export class PrefixWatch {
  private nextRevision: number;
  private endpointIndex: number;
  private req: http.ClientRequest | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;
  private backoffMs = WATCH_BACKOFF_MIN_MS;
  private stopped = false;
  private connected = false;
  private authRetried = false;

  constructor(
    private readonly client: EtcdHttpClient,
    private readonly prefix: string,
    startRevision: number,
    private readonly handlers: WatchHandlers,
    startEndpointIndex: number,
  ) {
    this.nextRevision = startRevision;
    this.endpointIndex = startEndpointIndex;
    void this.connect();
  }

  get revision(): number {
    return this.nextRevision - 1;
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.sessionTimer);
    this.req?.destroy();
    this.req = undefined;
  }

  private endpoint(): string {
    return this.client.endpoints[this.endpointIndex % this.client.endpoints.length]!;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.connected = false;
    const endpoint = this.endpoint();
    let token: string | undefined;
    try {
      token = await this.client.tokenFor(endpoint);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.stopped) return;
    const req = this.client.request(endpoint, 'POST', '/v3/watch', token, true);
    this.req = req;
    let buffered = '';
    let settled = false;
    const finish = (err: Error | undefined) => {
      if (settled || this.req !== req) return;
      settled = true;
      clearTimeout(createTimer);
      clearTimeout(this.sessionTimer);
      req.destroy();
      this.req = undefined;
      if (err) this.fail(err);
    };
    // No "created" answer in time: the member is stuck; try another one.
    const createTimer = setTimeout(() => {
      if (!this.connected) finish(new Error(`watch on ${endpoint} not created in time`));
    }, this.client.requestTimeoutMs);
    req.on('socket', (s) => s.setKeepAlive(true, 5000));
    req.on('error', (err) =>
      finish(new Error(`watch on ${endpoint}: ${describeNetworkError(err)}`)),
    );
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(new Error(`watch on ${endpoint}: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line && !settled) this.handleLine(endpoint, line, finish);
        }
      });
      res.on('end', () => finish(new Error(`watch stream from ${endpoint} ended`)));
      res.on('error', (err) =>
        finish(new Error(`watch stream from ${endpoint}: ${describeNetworkError(err)}`)),
      );
    });
    req.end(
      JSON.stringify({
        create_request: {
          key: b64(this.prefix),
          range_end: b64(prefixRangeEnd(this.prefix)),
          start_revision: String(this.nextRevision),
        },
      }),
    );
  }

  private handleLine(
    endpoint: string,
    line: string,
    finish: (err: Error | undefined) => void,
  ): void {
    let msg: WatchMessage;
    try {
      msg = JSON.parse(line) as WatchMessage;
    } catch {
      finish(new Error(`watch on ${endpoint}: unparsable line ${line.slice(0, 200)}`));
      return;
    }
    if (msg.error) {
      finish(new Error(`watch on ${endpoint}: ${msg.error.message ?? 'error'}`));
      return;
    }
    const result = msg.result;
    if (!result) return;
    const compactRevision = int(result.compact_revision);
    if (compactRevision > 0) {
      finish(undefined);
      this.stopped = true;
      this.handlers.onCompacted(compactRevision);
      return;
    }
    if (result.canceled) {
      const reason = result.cancel_reason ?? 'canceled by server';
      // A stale token cancels the watch at creation; authenticate once more and retry at once.
      if (/auth token|user name is empty/.test(reason) && !this.authRetried) {
        this.authRetried = true;
        this.client.forgetToken(endpoint);
        finish(undefined);
        void this.connect();
        return;
      }
      finish(new Error(`watch on ${endpoint} canceled: ${reason}`));
      return;
    }
    if (result.created) {
      this.connected = true;
      this.authRetried = false;
      this.backoffMs = WATCH_BACKOFF_MIN_MS;
      this.handlers.onConnected?.(endpoint, this.nextRevision);
      // Re-create long-lived watches now and then so a silently dead connection cannot linger.
      clearTimeout(this.sessionTimer);
      this.sessionTimer = setTimeout(() => {
        finish(undefined);
        void this.connect();
      }, this.client.watchSessionMs);
    }
    const events = (result.events ?? []).map((e): WatchEvent => ({
      // PUT is enum value 0, so the gateway leaves "type" out for puts.
      type: e.type === 'DELETE' || e.type === 1 ? 'delete' : 'put',
      kv: decodeKv(e.kv ?? {}),
    }));
    if (events.length > 0) {
      this.nextRevision = Math.max(
        this.nextRevision,
        events[events.length - 1]!.kv.modRevision + 1,
      );
      this.handlers.onEvents(events);
    }
  }

  private fail(err: Error): void {
    if (this.stopped) return;
    this.connected = false;
    this.handlers.onDisconnected?.(err);
    this.endpointIndex++; // the next attempt goes to another member
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, WATCH_BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}

// ------------------------------------------------------------------ list + watch

export interface SyncHandlers {
  /** The full current content of the prefix (first load, and after every re-list). */
  onSnapshot(kvs: KeyValue[], revision: number): void;
  onEvents(events: WatchEvent[]): void;
  /** healthy = listed and watching; false while etcd cannot be reached. */
  onHealth?(healthy: boolean, detail: string): void;
}

/** Keeps a copy of one prefix: list, watch from the next revision, re-list after compaction. */
export class PrefixSync {
  private watcher: PrefixWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private backoffMs = WATCH_BACKOFF_MIN_MS;
  private firstList: Promise<void>;
  private resolveFirstList!: () => void;

  constructor(
    private readonly client: EtcdHttpClient,
    private readonly prefix: string,
    private readonly handlers: SyncHandlers,
  ) {
    this.firstList = new Promise((resolve) => (this.resolveFirstList = resolve));
    void this.list();
  }

  /** Resolves after the first successful list, or after `timeoutMs` regardless. */
  ready(timeoutMs: number): Promise<boolean> {
    return Promise.race([
      this.firstList.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref()),
    ]);
  }

  get revision(): number {
    return this.watcher?.revision ?? 0;
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watcher?.close();
  }

  private async list(): Promise<void> {
    if (this.stopped) return;
    try {
      const res = await this.client.range(this.prefix, { prefix: true });
      if (this.stopped) return;
      this.backoffMs = WATCH_BACKOFF_MIN_MS;
      this.handlers.onSnapshot(res.kvs, res.revision);
      this.resolveFirstList();
      this.watcher = this.client.watch(this.prefix, res.revision + 1, {
        onEvents: (events) => this.handlers.onEvents(events),
        onCompacted: (rev) => {
          this.handlers.onHealth?.(
            false,
            `watch revision compacted (compact_revision ${rev}); re-listing`,
          );
          void this.list();
        },
        onConnected: (endpoint, from) =>
          this.handlers.onHealth?.(
            true,
            `watching ${this.prefix} on ${endpoint} from revision ${from}`,
          ),
        onDisconnected: (err) => this.handlers.onHealth?.(false, err.message),
      });
    } catch (err) {
      if (this.stopped) return;
      this.handlers.onHealth?.(false, `listing ${this.prefix} failed: ${(err as Error).message}`);
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, WATCH_BACKOFF_MAX_MS);
      this.timer = setTimeout(() => void this.list(), delay);
    }
  }
}
