// The dashboard's admin API (APISIX dashboard style), used through the control-plane
// load balancer: login, gateway clusters, routes.
import { httpRequest } from '../util/http';
export interface Route {
  id: string;
  uri: string;
  host?: string;
  upstream: { type: 'roundrobin'; nodes: Record<string, number> };
  [key: string]: unknown;
}

export class DashboardApiError extends Error {
  override name = 'DashboardApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class DashboardClient {
  private token?: string;
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await httpRequest(new URL(path, this.baseUrl).toString(), {
      method,
      headers: {
        'content-type': 'application/json',
        ...(this.token ? { authorization: this.token } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: this.timeoutMs,
    });
    const text = res.body;
    let json: { code?: number; message?: string; data?: T } = {};
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON: reported below */
    }
    if (res.status < 200 || res.status > 299 || (json.code !== undefined && json.code !== 0))
      throw new DashboardApiError(
        `${method} ${path} via ${this.baseUrl}: HTTP ${res.status} ${json.message ?? text.slice(0, 200)}`,
        res.status,
      );
    return json.data as T;
  }

  /** The password goes in the request body only; it is never part of an error message. */
  async login(username: string, password: string): Promise<void> {
    const data = await this.call<{ token: string }>('POST', '/apisix/admin/user/login', {
      username,
      password,
    });
    this.token = data.token;
  }

  async clusters(): Promise<Array<{ id: string; name: string }>> {
    return (
      (
        await this.call<{ rows: Array<{ id: string; name: string }> }>(
          'GET',
          '/apisix/admin/clusters',
        )
      ).rows ?? []
    );
  }

  async createCluster(name: string): Promise<{ id: string; name: string }> {
    return this.call('POST', '/apisix/admin/clusters', { name });
  }

  async routes(clusterId: string): Promise<Route[]> {
    return (
      (
        await this.call<{ rows: Route[] }>(
          'GET',
          `/apisix/admin/routes?cluster_id=${encodeURIComponent(clusterId)}`,
        )
      ).rows ?? []
    );
  }

  async getRoute(clusterId: string, id: string): Promise<Route> {
    return this.call(
      'GET',
      `/apisix/admin/routes/${encodeURIComponent(id)}?cluster_id=${encodeURIComponent(clusterId)}`,
    );
  }

  async putRoute(clusterId: string, route: Route): Promise<Route> {
    return this.call(
      'PUT',
      `/apisix/admin/routes/${encodeURIComponent(route.id)}?cluster_id=${encodeURIComponent(clusterId)}`,
      route,
    );
  }

  async deleteRoute(clusterId: string, id: string): Promise<void> {
    await this.call(
      'DELETE',
      `/apisix/admin/routes/${encodeURIComponent(id)}?cluster_id=${encodeURIComponent(clusterId)}`,
    );
  }
}
