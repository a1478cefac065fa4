// The inventory: what an operator writes to describe one API7 Enterprise HA cluster.
// Every value that can reach a remote shell is constrained here, so nothing hostile
// gets past validation; secrets appear only as references (env:NAME or file:PATH).
import { z } from 'zod';

export const ROLES = ['etcd', 'control-plane', 'data-plane'] as const;
export type Role = (typeof ROLES)[number];

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const hostname =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ipv4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export const name = z
  .string()
  .regex(dnsLabel, { error: 'must be lower-case letters, digits and dashes (a DNS label)' });

export const address = z
  .string()
  // All-numeric dotted names are meant as addresses, so they must be valid ones.
  .refine((v) => ipv4.test(v) || (hostname.test(v) && !/^[0-9.]+$/.test(v)), {
    error: 'must be an IPv4 address or a host name',
  });

export const port = z
  .number({ error: 'must be a number' })
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be between 1 and 65535' })
  .max(65535, { error: 'must be between 1 and 65535' });

/** env:NAME or file:PATH — the value is looked up only by the activity that needs it. */
export const secretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]{0,127}|file:[^\0\n]{1,4096})$/, {
    error: 'must be a secret reference: env:VARIABLE or file:/path (never the secret itself)',
  });

const safePathChars = /^[A-Za-z0-9._/@+-]+$/;
const noDotDot = (p: string) => !p.split('/').includes('..');

/** An absolute path on a remote host; it reaches shells, so only plain characters. */
export const remotePath = z
  .string()
  .regex(/^\//, { error: 'must be an absolute path' })
  .regex(safePathChars, { error: 'may contain only letters, digits and . _ / @ + -' })
  .refine(noDotDot, { error: 'must not contain ".." segments' })
  .refine((p) => p !== '/', { error: 'must not be the root directory' });

/** A path on the operator's machine, absolute or relative to the inventory file. */
export const localPath = z
  .string()
  .min(1, { error: 'must not be empty' })
  .refine((p) => !p.includes('\0') && !p.includes('\n'), {
    error: 'must not contain NUL or newlines',
  });

export const sha256 = z
  .string()
  .regex(/^[a-f0-9]{64}$/, { error: 'must be 64 lower-case hex digits (a sha256)' });

export const imageReference = z
  .string()
  .regex(
    /^([a-z0-9.-]+(:[0-9]{1,5})?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
    { error: 'must be an image reference with a tag, e.g. bitnami/etcd:3.4.13' },
  );

export const hostKeyFingerprint = z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, {
  error: 'must be an OpenSSH fingerprint like SHA256:<43 base64 characters>',
});

const httpUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      return false;
    }
  },
  { error: 'must be an http:// or https:// URL without credentials' },
);

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:[0-9]{1,5}$/, { error: 'must be host:port' })
  .refine((v) => Number(v.split(':')[1]) >= 1 && Number(v.split(':')[1]) <= 65535, {
    error: 'port must be between 1 and 65535',
  });

const unixUser = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'must be a Unix user name' });

/**
 * A jump host (bastion) on the way to the hosts. Its own host key is checked like a
 * host's: the pinned fingerprint, else ssh.knownHosts. User and key default to ssh's.
 */
const jumpHost = z.strictObject({
  /** Used in messages; the address when left out. */
  name: name.optional(),
  address,
  port: port.default(22),
  user: unixUser.optional(),
  privateKey: secretRef.optional(),
  hostKey: hostKeyFingerprint.optional(),
});

/**
 * The jump hosts on the way, in the order they are passed through (nearest to api7-ha
 * first). An empty list means a direct connection.
 */
const jumpChain = z.array(jumpHost).max(8, { error: 'must list at most 8 jump hosts' });

const sshSettings = z.strictObject({
  user: unixUser.default('root'),
  port: port.default(22),
  privateKey: secretRef,
  /** known_hosts file on the operator's machine; host keys are always checked. */
  knownHosts: localPath.optional(),
  /** Run privileged commands with sudo -n (for a non-root user). */
  sudo: z.boolean().default(false),
  /** Reach every host through these jump hosts (hosts[].ssh.jump overrides). */
  jump: jumpChain.optional(),
});

const hostSsh = z.strictObject({
  user: sshSettings.shape.user.unwrap().optional(),
  port: port.optional(),
  privateKey: secretRef.optional(),
  hostKey: hostKeyFingerprint.optional(),
  sudo: z.boolean().optional(),
  /** This host's own jump hosts instead of ssh.jump; `[]` reaches it directly. */
  jump: jumpChain.optional(),
});

const hostSchema = z.strictObject({
  name,
  address,
  roles: z
    .array(z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }))
    .min(1, { error: 'must list at least one role' })
    .refine((r) => new Set(r).size === r.length, { error: 'must not repeat a role' }),
  ssh: hostSsh.optional(),
});

const fileArtifact = z.strictObject({ path: localPath, sha256 });

const etcdSchema = z.strictObject({
  image: imageReference.default('bitnami/etcd:3.4.13'),
  /** `docker save` tarball of the image, shipped and loaded when hosts cannot pull. */
  imageTarball: fileArtifact.optional(),
  containerName: name.default('etcd'),
  /** Members are named <prefix>-1, <prefix>-2, ... in host order, as in the guide. */
  memberNamePrefix: name.default('api7-etcd'),
  clientPort: port.default(2379),
  peerPort: port.default(2380),
  dataDir: remotePath.default('/usr/local/etcd/etcd_data'),
  clusterToken: name.default('etcd-cluster'),
  auth: z
    .strictObject({
      enabled: z.boolean().default(false),
      username: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be letters, digits, _ or -' })
        .default('root'),
      password: secretRef.optional(),
    })
    .refine((a) => !a.enabled || a.password !== undefined, {
      error: 'password is required when auth is enabled',
      path: ['password'],
    })
    .default({ enabled: false, username: 'root' }),
  /**
   * TLS for client and peer traffic, with the operator's certificates. `{host}` in
   * memberCert / memberKey is replaced by each etcd host's name.
   */
  tls: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** CA that signed every certificate below (a local file). */
      ca: localPath,
      /** Serving and peer certificate of a member; needs serverAuth and clientAuth usage. */
      memberCert: localPath,
      memberKey: secretRef,
      /** Presented by the dashboards, the gateways and api7-ha itself. */
      clientCert: localPath,
      clientKey: secretRef,
      /** Where the member's files go on etcd hosts. */
      certDir: remotePath.default('/usr/local/etcd/certs'),
    })
    .optional(),
  /** A single member has no fault tolerance; refuse it unless the operator says so. */
  allowSingleMember: z.boolean().default(false),
});

const dashboardSchema = z.strictObject({
  bundle: fileArtifact,
  /** Image inside the bundle's images/ directory. */
  image: imageReference,
  port: port.default(9000),
  installDir: remotePath.default('/root'),
  username: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be letters, digits, _ . or -' })
    .default('admin'),
  password: secretRef,
  /** Signs login tokens; every dashboard shares it so tokens work behind the load balancer. */
  tokenSecret: secretRef,
  gatewayClusterName: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be letters, digits, _ . or -' })
    .default('default'),
  /** Fix the gateway cluster id instead of creating one through the dashboard. */
  gatewayClusterId: z
    .string()
    .regex(/^[0-9]{18}$/, { error: 'must be an 18-digit number' })
    .optional(),
});

const gatewaySchema = z.strictObject({
  bundle: fileArtifact,
  image: imageReference,
  installDir: remotePath.default('/root'),
  httpPort: port.default(80),
  httpsPort: port.default(443),
  metricsPort: port.default(9091),
});

const smokeTestSchema = z.strictObject({
  routeId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be letters, digits, _ or -' })
    .default('api7-ha-smoke'),
  host: z.string().regex(hostname, { error: 'must be a host name' }).default('test.com'),
  uri: z
    .string()
    .regex(/^\/[A-Za-z0-9._~/-]*$/, { error: 'must be a URI path starting with /' })
    .default('/get'),
  upstream: z.array(hostPort).min(1, { error: 'must list at least one upstream host:port' }),
});

export const inventorySchema = z
  .strictObject({
    apiVersion: z.literal('api7-ha/v1', { error: 'must be "api7-ha/v1"' }),
    cluster: name,
    ssh: sshSettings,
    hosts: z.array(hostSchema).min(1, { error: 'must list at least one host' }),
    etcd: etcdSchema.default(() => etcdSchema.parse({})),
    dashboard: dashboardSchema,
    gateway: gatewaySchema,
    loadBalancers: z.strictObject({ controlPlane: httpUrl, dataPlane: httpUrl }),
    smokeTest: smokeTestSchema,
    deploy: z
      .strictObject({
        /** How many hosts are worked on at once within a phase. */
        parallelism: z
          .number()
          .int()
          .min(1, { error: 'must be at least 1' })
          .max(64, { error: 'must be at most 64' })
          .default(5),
        /**
         * Seconds to wait after a running dashboard or gateway was restarted, before the
         * next one goes down, so the load balancer's health checks take it back first.
         */
        restartPauseSeconds: z
          .number({ error: 'must be a number' })
          .min(0, { error: 'must be between 0 and 300' })
          .max(300, { error: 'must be between 0 and 300' })
          .default(5),
      })
      .default({ parallelism: 5, restartPauseSeconds: 5 }),
  })
  .superRefine((inv, ctx) => {
    const seen = (key: 'name' | 'address') => {
      const first = new Map<string, number>();
      inv.hosts.forEach((h, i) => {
        const prior = first.get(h[key]);
        if (prior !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['hosts', i, key],
            message: `duplicates hosts[${prior}].${key} (${h[key]})`,
          });
        else first.set(h[key], i);
      });
    };
    seen('name');
    seen('address');

    // Artifacts are staged on hosts by file name, so two must not share one.
    const artifacts: Array<[string, string]> = [
      ['dashboard.bundle.path', inv.dashboard.bundle.path],
      ['gateway.bundle.path', inv.gateway.bundle.path],
      ...(inv.etcd.imageTarball
        ? [['etcd.imageTarball.path', inv.etcd.imageTarball.path] as [string, string]]
        : []),
    ];
    const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
    artifacts.forEach(([field, p], i) => {
      const clash = artifacts.slice(0, i).find(([, q]) => base(q) === base(p));
      if (clash)
        ctx.addIssue({
          code: 'custom',
          path: field.split('.'),
          message: `has the same file name as ${clash[0]} (${base(p)})`,
        });
    });

    const withRole = (r: Role) => inv.hosts.filter((h) => h.roles.includes(r));
    const etcd = withRole('etcd').length;
    if (etcd === 0)
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'no host has the etcd role' });
    else if (etcd % 2 === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['hosts'],
        message: `${etcd} hosts have the etcd role; etcd needs an odd number of members (3 tolerates one failure)`,
      });
    else if (etcd === 1 && !inv.etcd.allowSingleMember)
      ctx.addIssue({
        code: 'custom',
        path: ['hosts'],
        message:
          'only 1 host has the etcd role; HA needs 3 (set etcd.allowSingleMember: true to accept no fault tolerance)',
      });
    if (withRole('control-plane').length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['hosts'],
        message: 'no host has the control-plane role',
      });
    if (withRole('data-plane').length === 0)
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'no host has the data-plane role' });

    // Ports that share a host must not collide.
    inv.hosts.forEach((h, i) => {
      const used = new Map<number, string>();
      const claim = (p: number, what: string) => {
        const other = used.get(p);
        if (other)
          ctx.addIssue({
            code: 'custom',
            path: ['hosts', i, 'roles'],
            message: `port ${p} is used by both ${other} and ${what} on ${h.name}`,
          });
        else used.set(p, what);
      };
      if (h.roles.includes('etcd')) {
        claim(inv.etcd.clientPort, 'etcd.clientPort');
        claim(inv.etcd.peerPort, 'etcd.peerPort');
      }
      if (h.roles.includes('control-plane')) claim(inv.dashboard.port, 'dashboard.port');
      if (h.roles.includes('data-plane')) {
        claim(inv.gateway.httpPort, 'gateway.httpPort');
        claim(inv.gateway.httpsPort, 'gateway.httpsPort');
        claim(inv.gateway.metricsPort, 'gateway.metricsPort');
      }
    });
  });

export type InventoryInput = z.input<typeof inventorySchema>;
export type Inventory = z.output<typeof inventorySchema>;
export type Host = Inventory['hosts'][number];
export type FileArtifact = z.output<typeof fileArtifact>;
export type JumpHost = z.output<typeof jumpHost>;

/** Non-fatal advice about an inventory that validates. */
export function inventoryWarnings(inv: Inventory): string[] {
  const warnings: string[] = [];
  const gateways = inv.hosts.filter((h) => h.roles.includes('data-plane')).length;
  if (gateways < 2)
    warnings.push(
      `only ${gateways} data-plane host: a gateway failure will stop traffic (the guide asks for 2 or more)`,
    );
  if (inv.etcd.auth.enabled && !inv.etcd.tls?.enabled)
    warnings.push(
      'etcd.auth is on without etcd.tls: the etcd password and all configuration cross the network in clear text',
    );
  const dashboards = inv.hosts.filter((h) => h.roles.includes('control-plane')).length;
  if (dashboards < 2)
    warnings.push(
      'only 1 control-plane host: configuration changes stop while it is down (optional in the guide)',
    );
  return warnings;
}
