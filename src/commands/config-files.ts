// The configuration files the guide edits by hand. api7-ha changes only the keys the
// guide changes and keeps everything else the vendor's file says (listen addresses,
// allow lists, plugins), so a newer bundle's defaults survive. Pure: the activity reads
// the current file and passes secret values in; nothing secret is kept here.
import { Document, parseDocument } from 'yaml';
import type { Inventory } from '../config/inventory';
import { etcdEndpoints } from './etcd';
import { clientTlsInContainer, etcdTls } from './etcd-tls';

export interface DashboardSecrets {
  dashboardPassword: string;
  tokenSecret: string;
  etcdPassword?: string;
}

const HEADER =
  ' api7-ha manages the keys the HA guide sets (etcd, login); the rest is the vendor default.';

function editable(current: string): Document {
  const doc = parseDocument(current || '{}');
  const usable =
    !doc.errors.length &&
    doc.contents !== null &&
    typeof doc.toJS() === 'object' &&
    !Array.isArray(doc.toJS());
  const out = usable ? doc : new Document({});
  if (!current.includes(HEADER))
    out.commentBefore = out.commentBefore ? `${HEADER}\n${out.commentBefore}` : HEADER;
  return out;
}

/** dashboard_conf/conf.yaml — the guide's `conf.etcd` block, plus the login users and token secret. */
export function renderDashboardConf(
  inv: Inventory,
  secrets: DashboardSecrets,
  current = '',
): string {
  const doc = editable(current);
  doc.setIn(['conf', 'etcd', 'name'], 'default');
  doc.setIn(['conf', 'etcd', 'endpoints'], etcdEndpoints(inv));
  doc.setIn(['conf', 'etcd', 'enable_auth'], inv.etcd.auth.enabled);
  doc.setIn(['conf', 'etcd', 'username'], inv.etcd.auth.username);
  doc.setIn(
    ['conf', 'etcd', 'password'],
    inv.etcd.auth.enabled ? (secrets.etcdPassword ?? '') : '',
  );
  if (etcdTls(inv))
    doc.setIn(['conf', 'etcd', 'mtls'], {
      enable: true,
      key_file: clientTlsInContainer.key,
      cert_file: clientTlsInContainer.cert,
      ca_file: clientTlsInContainer.ca,
    });
  else if (!doc.hasIn(['conf', 'etcd', 'mtls']) || doc.getIn(['conf', 'etcd', 'mtls', 'enable']))
    doc.setIn(['conf', 'etcd', 'mtls'], {
      enable: false,
      key_file: '',
      cert_file: '',
      ca_file: '',
    });
  doc.setIn(['conf', 'etcd', 'prefix'], '/api7');
  doc.setIn(['authentication', 'secret'], secrets.tokenSecret);
  if (!doc.hasIn(['authentication', 'expire_time']))
    doc.setIn(['authentication', 'expire_time'], 3600);
  doc.setIn(
    ['authentication', 'users'],
    [{ username: inv.dashboard.username, password: secrets.dashboardPassword }],
  );
  return doc.toString();
}

/** gateway_conf/config.yaml — etcd hosts and the cluster's prefix /api7/<cluster_id>. */
export function renderGatewayConfig(
  inv: Inventory,
  clusterId: string,
  secrets: { etcdPassword?: string } = {},
  current = '',
): string {
  const doc = editable(current);
  const tls = etcdTls(inv);
  // APISIX talks TLS to etcd when the host has the https scheme.
  doc.setIn(
    ['etcd', 'host'],
    etcdEndpoints(inv).map((e) => (tls ? `https://${e}` : e)),
  );
  doc.setIn(['etcd', 'prefix'], `/api7/${clusterId}`);
  if (tls) {
    doc.setIn(['etcd', 'tls'], {
      cert: clientTlsInContainer.cert,
      key: clientTlsInContainer.key,
      verify: true,
    });
    // APISIX 2.x verifies etcd's certificate against apisix.ssl.ssl_trusted_certificate.
    doc.setIn(['apisix', 'ssl', 'ssl_trusted_certificate'], clientTlsInContainer.ca);
  } else {
    // Undo only what api7-ha wrote; a vendor default stays.
    if (String(doc.getIn(['etcd', 'tls', 'cert'])) === clientTlsInContainer.cert)
      doc.deleteIn(['etcd', 'tls']);
    if (String(doc.getIn(['apisix', 'ssl', 'ssl_trusted_certificate'])) === clientTlsInContainer.ca)
      doc.deleteIn(['apisix', 'ssl', 'ssl_trusted_certificate']);
  }
  if (inv.etcd.auth.enabled) {
    doc.setIn(['etcd', 'user'], inv.etcd.auth.username);
    doc.setIn(['etcd', 'password'], secrets.etcdPassword ?? '');
  } else {
    doc.deleteIn(['etcd', 'user']);
    doc.deleteIn(['etcd', 'password']);
  }
  return doc.toString();
}

/** What `plan` shows instead of a secret. */
export const REDACTED = '<secret from inventory reference>';
