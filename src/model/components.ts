// The three components of the guide's layout, each described once: which role carries
// it, its ports, where its bundle unpacks, its compose service and config file, and how
// to tell it is ready. Components are named by the inventory's roles, which are also the
// drills' names, so roles, drills and UI text share one vocabulary. Pure and free of Node
// built-ins: workflows import it too.
import type { FileArtifact, Host, Inventory, Role } from '../config/inventory';

export type ComponentName = Role;
export const COMPONENTS: readonly ComponentName[] = ['etcd', 'control-plane', 'data-plane'];

export interface ComponentPort {
  port: number;
  /** The inventory field that sets it. */
  field: string;
  what: string;
}

/** A component the vendor ships as a bundle and runs with docker compose. */
export interface BundledComponent {
  bundle: FileArtifact;
  /** The inventory field of the bundle (`dashboard.bundle`). */
  bundleField: string;
  installDir: string;
  /** `<installDir>/<bundle top directory>`: api7-ha reads and writes only inside it. */
  dir: string;
  composeService: string;
  image: string;
  /** The config file the guide edits, relative to `dir`. */
  configFile: string;
  /** What the guide's layout needs in the bundle, relative to `dir`. */
  layout: readonly string[];
}

/** How each component tells it is ready; activities/health.ts runs it. */
export type Readiness =
  | { kind: 'etcd'; path: '/health' }
  | { kind: 'dashboard'; logLine: string; path: '/ping'; body: 'pong'; port: number }
  | { kind: 'gateway'; path: '/apisix/prometheus/metrics'; port: number };

export interface ComponentFacts {
  name: ComponentName;
  /** In messages, summaries and the UI. */
  noun: 'etcd member' | 'dashboard' | 'gateway';
  ports: ComponentPort[];
  /** etcd runs from an image by `docker run`, the others from their bundles. */
  bundled?: BundledComponent;
  readiness: Readiness;
}

export const DASHBOARD_SERVICE = 'api7-dashboard';
export const GATEWAY_SERVICE = 'api7-gateway';
export const DASHBOARD_CONF = 'dashboard_conf/conf.yaml';
export const GATEWAY_CONFIG = 'gateway_conf/config.yaml';
/** What the dashboard logs once it serves (the guide checks for it). */
export const DASHBOARD_READY_LINE = 'The manager-api is running successfully!';

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);
/** api7-2.13.2209.1-cp.tar.gz unpacks to api7-2.13.2209.1-cp/ (checked at validation). */
export const bundleTopDir = (bundle: FileArtifact) =>
  basename(bundle.path).replace(/\.(tar\.gz|tgz)$/, '');
/** Where a bundle is unpacked. */
export const bundleDir = (bundle: FileArtifact, installDir: string) =>
  `${installDir}/${bundleTopDir(bundle)}`;

export function componentFacts(inv: Inventory, name: ComponentName): ComponentFacts {
  switch (name) {
    case 'etcd':
      return {
        name,
        noun: 'etcd member',
        ports: [
          { port: inv.etcd.clientPort, field: 'etcd.clientPort', what: 'etcd client' },
          { port: inv.etcd.peerPort, field: 'etcd.peerPort', what: 'etcd peer' },
        ],
        readiness: { kind: 'etcd', path: '/health' },
      };
    case 'control-plane':
      return {
        name,
        noun: 'dashboard',
        ports: [{ port: inv.dashboard.port, field: 'dashboard.port', what: 'dashboard' }],
        bundled: bundledFacts(inv.dashboard, 'dashboard', DASHBOARD_SERVICE, DASHBOARD_CONF),
        readiness: {
          kind: 'dashboard',
          logLine: DASHBOARD_READY_LINE,
          path: '/ping',
          body: 'pong',
          port: inv.dashboard.port,
        },
      };
    case 'data-plane':
      return {
        name,
        noun: 'gateway',
        ports: [
          { port: inv.gateway.httpPort, field: 'gateway.httpPort', what: 'gateway HTTP' },
          { port: inv.gateway.httpsPort, field: 'gateway.httpsPort', what: 'gateway HTTPS' },
          { port: inv.gateway.metricsPort, field: 'gateway.metricsPort', what: 'gateway metrics' },
        ],
        bundled: bundledFacts(inv.gateway, 'gateway', GATEWAY_SERVICE, GATEWAY_CONFIG),
        readiness: {
          kind: 'gateway',
          path: '/apisix/prometheus/metrics',
          port: inv.gateway.metricsPort,
        },
      };
  }
}

/** A bundle's facts from its inventory block (`dashboard` or `gateway`). */
function bundledFacts(
  block: { bundle: FileArtifact; installDir: string; image: string },
  field: 'dashboard' | 'gateway',
  composeService: string,
  configFile: string,
): BundledComponent {
  return {
    bundle: block.bundle,
    bundleField: `${field}.bundle`,
    installDir: block.installDir,
    dir: bundleDir(block.bundle, block.installDir),
    composeService,
    image: block.image,
    configFile,
    // The guide's layout: the compose file, the config file's directory, the images.
    layout: ['docker-compose.yaml', configFile.slice(0, configFile.indexOf('/')), 'images'],
  };
}

/** The bundled facts of a component that has them (control-plane, data-plane). */
export function bundled(inv: Inventory, name: 'control-plane' | 'data-plane'): BundledComponent {
  return componentFacts(inv, name).bundled!;
}

/** The config file's path on a host. */
export const configPath = (b: BundledComponent) => `${b.dir}/${b.configFile}`;

export const hasRole = (host: Host, role: ComponentName) => host.roles.includes(role);
export const hostsWith = (inv: Inventory, role: ComponentName) =>
  inv.hosts.filter((h) => hasRole(h, role));

/** A host's components, in the guide's order. */
export const componentsOn = (inv: Inventory, host: Host): ComponentFacts[] =>
  COMPONENTS.filter((c) => hasRole(host, c)).map((c) => componentFacts(inv, c));

/** The bundled components on a host (what it unpacks and configures). */
export const bundledOn = (
  inv: Inventory,
  host: Host,
): Array<BundledComponent & { name: ComponentName }> =>
  componentsOn(inv, host).flatMap((c) => (c.bundled ? [{ ...c.bundled, name: c.name }] : []));

/** Every bundled component of the inventory. */
export const bundledComponents = (inv: Inventory) =>
  (['control-plane', 'data-plane'] as const).map((n) => ({ ...bundled(inv, n), name: n }));

/** Ports a host's components listen on (its SSH port is not among them). */
export const componentPorts = (inv: Inventory, host: Host): ComponentPort[] =>
  componentsOn(inv, host).flatMap((c) => c.ports);
