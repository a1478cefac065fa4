// Where the operator's etcd TLS files go on hosts and inside containers (pure). The
// activities read the local files and write them; this only says what goes where.
import type { Inventory } from '../config/inventory';

type EtcdTls = NonNullable<Inventory['etcd']['tls']>;

/** The TLS settings when TLS is on, else undefined. */
export function etcdTls(inv: Inventory): EtcdTls | undefined {
  const tls = inv.etcd.tls;
  return tls?.enabled ? tls : undefined;
}

export const etcdScheme = (inv: Inventory) => (etcdTls(inv) ? 'https' : 'http');

/** Inside the etcd container the cert dir is mounted read-only here. */
export const ETCD_CERTS_IN_CONTAINER = '/etcd_certs';

/**
 * Dashboards and gateways see the client files through an extra compose file that
 * mounts <bundle dir>/CLIENT_TLS_DIR here, so the vendor's compose file stays untouched.
 * It has compose's standard override name, so the bundle's cli.sh and a hand-run
 * `docker compose up -d` in the bundle dir load it too; api7-ha names it explicitly.
 */
export const CLIENT_TLS_DIR = 'api7-ha-etcd-tls';
export const CLIENT_TLS_IN_CONTAINER = '/etc/api7-ha/etcd-tls';
export const COMPOSE_OVERRIDE_FILE = 'docker-compose.override.yaml';
export const COMPOSE_OVERRIDE_HEADER =
  '# Written by api7-ha: mounts the etcd client certificates (etcd.tls in the inventory).';

/** One file to put on a host: `source` is a local path, or a secret reference for keys. */
export interface TlsFile {
  /** The inventory field, for error messages. */
  field: string;
  source: string;
  secret: boolean;
  remote: string;
  /** The directory of api7-ha's that holds it: written only inside, never through a link. */
  root: string;
}

const forHost = (p: string, hostName: string) => p.replaceAll('{host}', hostName);

/** The CA, the member's certificate and key, for one etcd host. */
export function memberTlsFiles(inv: Inventory, hostName: string): TlsFile[] {
  const tls = etcdTls(inv);
  if (!tls) return [];
  return [
    {
      field: 'etcd.tls.ca',
      source: tls.ca,
      secret: false,
      remote: `${tls.certDir}/ca.crt`,
      root: tls.certDir,
    },
    {
      field: 'etcd.tls.memberCert',
      source: forHost(tls.memberCert, hostName),
      secret: false,
      remote: `${tls.certDir}/member.crt`,
      root: tls.certDir,
    },
    {
      field: 'etcd.tls.memberKey',
      source: forHost(tls.memberKey, hostName),
      secret: true,
      remote: `${tls.certDir}/member.key`,
      root: tls.certDir,
    },
  ];
}

/** The CA and the client certificate and key, in a dashboard or gateway bundle dir. */
export function clientTlsFiles(inv: Inventory, bundleDir: string): TlsFile[] {
  const tls = etcdTls(inv);
  if (!tls) return [];
  const dir = `${bundleDir}/${CLIENT_TLS_DIR}`;
  return [
    {
      field: 'etcd.tls.ca',
      source: tls.ca,
      secret: false,
      remote: `${dir}/ca.crt`,
      root: bundleDir,
    },
    {
      field: 'etcd.tls.clientCert',
      source: tls.clientCert,
      secret: false,
      remote: `${dir}/client.crt`,
      root: bundleDir,
    },
    {
      field: 'etcd.tls.clientKey',
      source: tls.clientKey,
      secret: true,
      remote: `${dir}/client.key`,
      root: bundleDir,
    },
  ];
}

/**
 * The CA, client certificate and key as sources only (no host): what api7-ha itself
 * presents to etcd, and what the local checks read. Empty without TLS.
 */
export const clientTlsSources = (inv: Inventory): TlsFile[] => clientTlsFiles(inv, '');

/** The same files as the dashboard or gateway container sees them. */
export const clientTlsInContainer = {
  ca: `${CLIENT_TLS_IN_CONTAINER}/ca.crt`,
  cert: `${CLIENT_TLS_IN_CONTAINER}/client.crt`,
  key: `${CLIENT_TLS_IN_CONTAINER}/client.key`,
};

/**
 * Compose file given after the vendor's: adds the client TLS mount to one service. It
 * repeats the vendor file's `version`, as docker-compose 1.x refuses files that differ.
 */
export function renderComposeOverride(service: string, vendorCompose: string): string {
  const version = /^version:\s*["']?([0-9.]+)["']?\s*$/m.exec(vendorCompose)?.[1];
  return [
    COMPOSE_OVERRIDE_HEADER,
    ...(version ? [`version: "${version}"`] : []),
    'services:',
    `  ${service}:`,
    '    volumes:',
    `      - ./${CLIENT_TLS_DIR}:${CLIENT_TLS_IN_CONTAINER}:ro`,
    '',
  ].join('\n');
}

/** Extra compose files (after docker-compose.yaml) for a bundle dir. */
export const composeOverrides = (inv: Inventory, bundleDir: string): string[] =>
  etcdTls(inv) ? [`${bundleDir}/${COMPOSE_OVERRIDE_FILE}`] : [];
