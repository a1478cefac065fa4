// The one HTTP client of api7-ha (dashboard API, gateway metrics, etcd's HTTP endpoint,
// probes), on node:http: unlike fetch, it lets us set the Host header (routes are matched
// by Host), present client certificates, and measure each request. A body larger than
// MAX_BODY_BYTES is cut off, so no endpoint can exhaust the worker's memory.
import http from 'node:http';
import https from 'node:https';

export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function httpRequest(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    timeoutMs?: number;
    agent?: http.Agent;
  } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? https.request : http.request;
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: opts.agent,
        timeout: opts.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES)
            return req.destroy(new Error(`${url} answered more than ${MAX_BODY_BYTES} bytes`));
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
