// config.yaml of API7-Gateway (APISIX 2.x layout): etcd.{host,prefix,user,password,tls},
// apisix.node_listen, apisix.ssl, plugin_attr.prometheus.export_addr.
import type { EtcdTlsOptions } from './etcd-http';
import { bool, isTree, num, readYamlFile, str, strList, tree, type Tree } from './yaml-config';

export const GATEWAY_HOME = '/usr/local/apisix';
export const DEFAULT_GATEWAY_CONF = `${GATEWAY_HOME}/conf/config.yaml`;

export interface ListenAddress {
  ip: string;
  port: number;
}

export interface GatewayConfig {
  etcd: {
    hosts: string[];
    prefix: string;
    user?: string;
    password?: string;
    tls?: EtcdTlsOptions;
    /** seconds per request (etcd.timeout) */
    timeoutSeconds: number;
    /** attempts per host in the start-up check (etcd.startup_retry) */
    startupRetry: number;
  };
  http: ListenAddress[];
  /** Empty when apisix.ssl.enable is false. */
  https: ListenAddress[];
  metrics: ListenAddress & { uri: string };
}

/** A port list as APISIX accepts it: 80, [80, 8080] or [{ip, port}, ...]. */
function listenList(v: unknown, fallback: number): ListenAddress[] {
  const items = v === undefined ? [fallback] : Array.isArray(v) ? v : [v];
  const out: ListenAddress[] = [];
  for (const item of items) {
    if (typeof item === 'number' || typeof item === 'string')
      out.push({ ip: '0.0.0.0', port: Number(item) });
    else if (isTree(item))
      out.push({ ip: str(item.ip, '0.0.0.0'), port: num(item.port, fallback) });
  }
  for (const l of out) {
    if (!Number.isInteger(l.port) || l.port < 1 || l.port > 65535)
      throw new Error(`invalid listen port ${l.port}`);
  }
  return out;
}

export function loadGatewayConfig(file: string): GatewayConfig {
  const doc = readYamlFile(file);
  // APISIX 2.x keeps etcd at the top level; 3.x moved it under deployment.
  const etcd: Tree = isTree(doc.etcd) ? doc.etcd : tree(tree(doc.deployment).etcd);
  const apisix = tree(doc.apisix);
  const ssl = tree(apisix.ssl);
  const tls = isTree(etcd.tls) ? etcd.tls : undefined;
  const prometheus = tree(tree(doc.plugin_attr).prometheus);
  const exportAddr = tree(prometheus.export_addr);

  const hosts = strList(etcd.host);
  if (hosts.length === 0)
    throw new Error('failed to read `etcd.host` from the yaml config: no etcd host');
  const user = str(etcd.user);
  const trusted = str(ssl.ssl_trusted_certificate);

  const sslEnabled = bool(ssl.enable) ?? true;
  let https: ListenAddress[] = [];
  if (sslEnabled)
    https =
      ssl.listen !== undefined ? listenList(ssl.listen, 443) : listenList(ssl.listen_port, 443);

  return {
    etcd: {
      hosts,
      prefix: (str(etcd.prefix, '') || '/apisix').replace(/\/+$/, ''),
      user: user || undefined,
      password: user ? str(etcd.password, '') : undefined,
      tls:
        tls || hosts.some((h) => h.startsWith('https://'))
          ? {
              certFile: str(tls?.cert) || undefined,
              keyFile: str(tls?.key) || undefined,
              caFile: trusted && trusted !== 'system' ? trusted : undefined,
              verify: bool(tls?.verify) ?? true,
              servername: str(tls?.sni) || undefined,
            }
          : undefined,
      timeoutSeconds: num(etcd.timeout, 30),
      startupRetry: num(etcd.startup_retry, 2),
    },
    http: listenList(apisix.node_listen, 80),
    https,
    metrics: {
      ip: str(exportAddr.ip, '0.0.0.0'),
      port: num(exportAddr.port, 9091),
      uri: str(prometheus.export_uri, '/apisix/prometheus/metrics'),
    },
  };
}
