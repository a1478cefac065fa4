// The guide's etcd `docker run`, built from the inventory (pure).
import { createHash } from 'node:crypto';
import type { Host, Inventory } from '../config/inventory';
import { ETCD_CERTS_IN_CONTAINER, etcdScheme, etcdTls } from './etcd-tls';
import { hostsWith } from '../model/components';

export const LABEL_CONFIG = 'api7-ha.config';
export const LABEL_CLUSTER = 'api7-ha.cluster';

export interface EtcdMember {
  name: string;
  host: Host;
  peerUrl: string;
  clientUrl: string;
}

export function etcdMembers(inv: Inventory): EtcdMember[] {
  const scheme = etcdScheme(inv);
  return hostsWith(inv, 'etcd').map((host, i) => ({
    // Positional as in the guide, unless the host pins its name (config/inventory.ts).
    name: host.etcdMemberName ?? `${inv.etcd.memberNamePrefix}-${i + 1}`,
    host,
    peerUrl: `${scheme}://${host.address}:${inv.etcd.peerPort}`,
    clientUrl: `${scheme}://${host.address}:${inv.etcd.clientPort}`,
  }));
}

/** host:port list, as conf.yaml and config.yaml want it. */
/** Where the worker reaches one member (`address:clientPort`). */
export const etcdEndpoint = (inv: Inventory, host: Host) =>
  `${host.address}:${inv.etcd.clientPort}`;
export const etcdEndpoints = (inv: Inventory) =>
  etcdMembers(inv).map((m) => etcdEndpoint(inv, m.host));

export function etcdMember(inv: Inventory, hostName: string): EtcdMember {
  const m = etcdMembers(inv).find((x) => x.host.name === hostName);
  if (!m) throw new Error(`${hostName} has no etcd role`);
  return m;
}

/**
 * The settings of one member, in the guide's order; `existing` joins a running cluster.
 * Authentication is never set here: it is turned on through the running cluster once it
 * has quorum (see src/etcd/auth.ts), so ALLOW_NONE_AUTHENTICATION stays.
 */
export function etcdEnvironment(
  inv: Inventory,
  hostName: string,
  clusterState: 'new' | 'existing' = 'new',
  initialCluster = inventoryInitialCluster(inv),
): string[] {
  const member = etcdMember(inv, hostName);
  const e = inv.etcd;
  const scheme = etcdScheme(inv);
  const env = [
    'ALLOW_NONE_AUTHENTICATION=yes',
    `ETCD_NAME=${member.name}`,
    `ETCD_LISTEN_PEER_URLS=${scheme}://0.0.0.0:${e.peerPort}`,
    `ETCD_LISTEN_CLIENT_URLS=${scheme}://0.0.0.0:${e.clientPort}`,
    `ETCD_ADVERTISE_CLIENT_URLS=${member.clientUrl}`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=${member.peerUrl}`,
    `ETCD_INITIAL_CLUSTER_TOKEN=${e.clusterToken}`,
    `ETCD_INITIAL_CLUSTER=${initialCluster}`,
    'ETCD_DATA_DIR=/etcd_data',
    'ETCD_ENABLE_V2=true',
  ];
  if (etcdTls(inv)) {
    // Clients and peers must present a certificate signed by the operator's CA.
    const file = (f: string) => `${ETCD_CERTS_IN_CONTAINER}/${f}`;
    env.push(
      `ETCD_CERT_FILE=${file('member.crt')}`,
      `ETCD_KEY_FILE=${file('member.key')}`,
      `ETCD_TRUSTED_CA_FILE=${file('ca.crt')}`,
      'ETCD_CLIENT_CERT_AUTH=true',
      `ETCD_PEER_CERT_FILE=${file('member.crt')}`,
      `ETCD_PEER_KEY_FILE=${file('member.key')}`,
      `ETCD_PEER_TRUSTED_CA_FILE=${file('ca.crt')}`,
      'ETCD_PEER_CLIENT_CERT_AUTH=true',
    );
  }
  if (clusterState === 'existing') env.push('ETCD_INITIAL_CLUSTER_STATE=existing');
  return env;
}

/** Every member of the inventory with its peer URL: a new cluster's ETCD_INITIAL_CLUSTER. */
export const inventoryInitialCluster = (inv: Inventory) =>
  etcdMembers(inv)
    .map((m) => `${m.name}=${m.peerUrl}`)
    .join(',');

/**
 * A digest of everything that defines the member; stored as a container label. A member
 * that joined a running cluster started with that cluster's members as its initial
 * cluster, not the inventory's; and once a member has data it ignores the initial cluster
 * anyway. So a container is checked against the hash with its own ETCD_INITIAL_CLUSTER
 * (parseInspect), and members added later to the inventory change no existing member.
 */
export function etcdConfigHash(
  inv: Inventory,
  hostName: string,
  initialCluster = inventoryInitialCluster(inv),
): string {
  const parts = [
    inv.etcd.image,
    inv.etcd.containerName,
    inv.etcd.dataDir,
    ...etcdEnvironment(inv, hostName, 'new', initialCluster),
  ];
  // Added only with TLS, so hashes of existing plain members stay the same.
  const tls = etcdTls(inv);
  if (tls) parts.push(`certDir=${tls.certDir}`);
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

/**
 * The member's `docker run`. A member joining a running cluster (replace, scale-out) gets
 * `existing` and that cluster's members plus itself as its initial cluster.
 */
export function etcdRunArgv(
  inv: Inventory,
  hostName: string,
  clusterState: 'new' | 'existing' = 'new',
  initialCluster = inventoryInitialCluster(inv),
): string[] {
  const e = inv.etcd;
  const argv = [
    'docker',
    'run',
    '--restart',
    'always',
    '--name',
    e.containerName,
    '-u',
    'root',
    '-v',
    `${e.dataDir}:/etcd_data`,
  ];
  const tls = etcdTls(inv);
  if (tls) argv.push('-v', `${tls.certDir}:${ETCD_CERTS_IN_CONTAINER}:ro`);
  for (const kv of etcdEnvironment(inv, hostName, clusterState, initialCluster))
    argv.push('-e', kv);
  argv.push(
    '--label',
    `${LABEL_CONFIG}=${etcdConfigHash(inv, hostName, initialCluster)}`,
    '--label',
    `${LABEL_CLUSTER}=${inv.cluster}`,
    '--network=host',
    '-d',
    e.image,
  );
  return argv;
}

export const inspectArgv = (container: string) => [
  'docker',
  'inspect',
  '--type',
  'container',
  '--format',
  `{{.Id}}|{{.State.Running}}|{{index .Config.Labels "${LABEL_CONFIG}"}}|{{.State.StartedAt}}|{{json .Config.Env}}`,
  container,
];

export interface ContainerFacts {
  id: string;
  running: boolean;
  configHash: string;
  startedAt: string;
  /** The container's ETCD_INITIAL_CLUSTER, when it has one. */
  initialCluster?: string;
}

export function parseInspect(line: string): ContainerFacts {
  const [id = '', running = '', configHash = '', startedAt = '', ...rest] = line.trim().split('|');
  let env: unknown = [];
  try {
    env = JSON.parse(rest.join('|') || '[]');
  } catch {
    /* not an api7-ha etcd container: no initial cluster */
  }
  const prefix = 'ETCD_INITIAL_CLUSTER=';
  const initial = Array.isArray(env)
    ? (env as unknown[]).find((e): e is string => typeof e === 'string' && e.startsWith(prefix))
    : undefined;
  return {
    id,
    running: running === 'true',
    configHash: configHash === '<no value>' ? '' : configHash,
    startedAt,
    ...(initial ? { initialCluster: initial.slice(prefix.length) } : {}),
  };
}

/**
 * Privileged: the member's data dir moved aside to `<dataDir>.replaced-<UTC time>` (kept,
 * never deleted) when it holds anything, and an empty one made, for a member that joins
 * anew. Prints `moved <path>` when it moved one. Fixed arguments, so one sudo rule allows it.
 */
export const retireDataDirArgv = (dataDir: string) => [
  'sh',
  '-c',
  'if [ -d "$1" ] && [ -n "$(ls -A "$1")" ]; then to="$1.replaced-$(date -u +%Y%m%dT%H%M%SZ)"; mv "$1" "$to" && echo "moved $to"; fi; mkdir -p "$1"',
  'sh',
  dataDir,
];
