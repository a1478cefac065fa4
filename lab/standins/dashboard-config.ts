// conf.yaml of API7-Dashboard (manager-api): the guide's keys plus apisix-dashboard's.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { EtcdTlsOptions } from './etcd-http';
import { bool, num, readYamlFile, str, strList, tree } from './yaml-config';

export const DASHBOARD_HOME = '/usr/local/apisix-dashboard';
export const DEFAULT_DASHBOARD_CONF = `${DASHBOARD_HOME}/conf/conf.yaml`;

export interface DashboardUser {
  username: string;
  password: string;
}

export interface DashboardConfig {
  listenHost: string;
  listenPort: number;
  etcd: {
    endpoints: string[];
    prefix: string;
    username?: string;
    password?: string;
    tls?: EtcdTlsOptions;
  };
  /** Client addresses or CIDRs allowed in; empty = everyone (manager-api's rule). */
  allowList: string[];
  auth: {
    secret: string;
    expireSeconds: number;
    users: DashboardUser[];
  };
  logLevel: string;
  errorLogFile: string;
  accessLogFile: string;
}

function underHome(p: string): string {
  return path.isAbsolute(p) ? p : path.join(DASHBOARD_HOME, p);
}

export function loadDashboardConfig(file: string): DashboardConfig {
  const doc = readYamlFile(file);
  const conf = tree(doc.conf);
  const listen = tree(conf.listen);
  const etcd = tree(conf.etcd);
  const mtls = tree(etcd.mtls);
  const log = tree(conf.log);
  const authentication = tree(doc.authentication);

  const endpoints = strList(etcd.endpoints);
  // API7's conf.yaml has enable_auth / mtls.enable switches; apisix-dashboard's has none and
  // uses the credentials / files whenever they are filled in.
  const username = str(etcd.username);
  const authOn = bool(etcd.enable_auth) ?? Boolean(username);
  const keyFile = str(mtls.key_file) || undefined;
  const certFile = str(mtls.cert_file) || undefined;
  const caFile = str(mtls.ca_file) || undefined;
  const mtlsOn = bool(mtls.enable) ?? Boolean(keyFile || certFile || caFile);

  // manager-api replaces the sample secret "secret" with a random one at start, so two
  // dashboards left with it do NOT accept each other's tokens. A missing secret is treated
  // the same way here.
  const configuredSecret = str(authentication.secret, '');
  const secret =
    configuredSecret === '' || configuredSecret === 'secret'
      ? randomBytes(24).toString('hex')
      : configuredSecret;

  const users: DashboardUser[] = [];
  if (Array.isArray(authentication.users)) {
    for (const u of authentication.users) {
      const user = tree(u);
      const name = str(user.username);
      if (name) users.push({ username: name, password: str(user.password, '') });
    }
  }

  return {
    listenHost: str(listen.host, '0.0.0.0'),
    listenPort: num(listen.port, 9000),
    etcd: {
      endpoints: endpoints.length > 0 ? endpoints : ['127.0.0.1:2379'],
      prefix: (str(etcd.prefix, '') || '/api7').replace(/\/+$/, ''),
      username: authOn ? username : undefined,
      password: authOn ? str(etcd.password, '') : undefined,
      tls: mtlsOn ? { keyFile, certFile, caFile } : undefined,
    },
    allowList: strList(conf.allow_list),
    auth: {
      secret,
      expireSeconds: num(authentication.expire_time, 3600),
      users,
    },
    logLevel: str(tree(log.error_log).level, 'warn'),
    errorLogFile: underHome(str(tree(log.error_log).file_path, '') || 'logs/error.log'),
    accessLogFile: underHome(str(tree(log.access_log).file_path, '') || 'logs/access.log'),
  };
}
