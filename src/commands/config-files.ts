// The configuration files the guide edits by hand, rendered from the inventory (pure).
// Secret values are passed in by the activity that resolved them, never stored here.
import { stringify } from 'yaml';
import type { Inventory } from '../config/inventory';
import { etcdEndpoints } from './etcd';

export interface DashboardSecrets {
  dashboardPassword: string;
  tokenSecret: string;
  etcdPassword?: string;
}

/** dashboard_conf/conf.yaml — the guide's `conf.etcd` block plus listen and login users. */
export function renderDashboardConf(inv: Inventory, secrets: DashboardSecrets): string {
  const conf = {
    conf: {
      listen: { host: '0.0.0.0', port: 9000 },
      etcd: {
        name: 'default',
        endpoints: etcdEndpoints(inv),
        enable_auth: inv.etcd.auth.enabled,
        username: inv.etcd.auth.username,
        password: inv.etcd.auth.enabled ? (secrets.etcdPassword ?? '') : '',
        mtls: { enable: false, key_file: '', cert_file: '', ca_file: '' },
        prefix: '/api7',
      },
      log: { error_log: { level: 'warn', file_path: 'logs/error.log' } },
    },
    authentication: {
      secret: secrets.tokenSecret,
      expire_time: 3600,
      users: [{ username: inv.dashboard.username, password: secrets.dashboardPassword }],
    },
  };
  return `# Written by api7-ha; changes here are replaced on the next deploy.\n${stringify(conf)}`;
}

/** gateway_conf/config.yaml — etcd hosts and the cluster's prefix /api7/<cluster_id>. */
export function renderGatewayConfig(inv: Inventory, clusterId: string, secrets: { etcdPassword?: string } = {}): string {
  const etcd: Record<string, unknown> = { host: etcdEndpoints(inv), prefix: `/api7/${clusterId}`, timeout: 30 };
  if (inv.etcd.auth.enabled) {
    etcd.user = inv.etcd.auth.username;
    etcd.password = secrets.etcdPassword ?? '';
  }
  return `# Written by api7-ha; changes here are replaced on the next deploy.\n${stringify({ etcd })}`;
}

/** What `plan` shows instead of a secret. */
export const REDACTED = '<secret from inventory reference>';
