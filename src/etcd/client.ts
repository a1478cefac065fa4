// How api7-ha itself reaches etcd: endpoints, optional user and password, optional TLS
// with the operator's CA and client certificate (mutual TLS). Values, not references:
// activities resolve the references and build this on the worker.
import https from 'node:https';
import { Etcd3, type IOptions } from 'etcd3';
import { httpRequest } from '../util/http';

export interface EtcdTlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface EtcdAccess {
  /** host:port client endpoints */
  endpoints: string[];
  auth?: { username: string; password: string };
  tls?: EtcdTlsMaterial;
}

export const endpointUrl = (access: EtcdAccess, endpoint: string) =>
  `${access.tls ? 'https' : 'http'}://${endpoint}`;

/** An etcd3 (gRPC) client; `withAuth: false` connects with the certificate alone. */
export function etcdClient(
  access: EtcdAccess,
  endpoints = access.endpoints,
  { withAuth = true } = {},
): Etcd3 {
  const opts: IOptions = {
    hosts: endpoints.map((e) => endpointUrl(access, e)),
    dialTimeout: 3000,
    defaultCallOptions: () => ({ deadline: Date.now() + 4000 }),
  };
  if (access.tls)
    opts.credentials = {
      rootCertificate: access.tls.ca,
      certChain: access.tls.cert,
      privateKey: access.tls.key,
    };
  if (withAuth && access.auth) opts.auth = access.auth;
  return new Etcd3(opts);
}

/** GET on a member's HTTP endpoint (/health), over TLS with the client certificate. */
export async function etcdHttpGet(access: EtcdAccess, endpoint: string, path: string) {
  const agent = access.tls
    ? new https.Agent({ ca: access.tls.ca, cert: access.tls.cert, key: access.tls.key })
    : undefined;
  try {
    return await httpRequest(`${endpointUrl(access, endpoint)}${path}`, { agent, timeoutMs: 3000 });
  } finally {
    agent?.destroy();
  }
}

const authOff = (e: unknown) =>
  e instanceof Error && /authentication is not enabled/.test(e.message);

/**
 * Run fn with a client that logs in when credentials are set. Before auth is turned on
 * (a new cluster, until the deploy enables it) etcd refuses logins, so fn runs again
 * with the certificate alone.
 */
export async function withEtcd<T>(
  access: EtcdAccess,
  endpoints: string[],
  fn: (c: Etcd3) => Promise<T>,
): Promise<T> {
  const c = etcdClient(access, endpoints);
  try {
    return await fn(c);
  } catch (e) {
    if (!access.auth || !authOff(e)) throw e;
  } finally {
    c.close();
  }
  const plain = etcdClient(access, endpoints, { withAuth: false });
  try {
    return await fn(plain);
  } finally {
    plain.close();
  }
}
