// The inventory: what an operator writes to describe one API7 Enterprise HA cluster.
// Every value that can reach a remote shell is constrained here, so nothing hostile
// gets past validation; secrets appear only as references (env:NAME or file:PATH).
import { z } from 'zod';
import { hostPorts } from '../model/hosts';
import { DEFAULT_APPROVAL_TIMEOUT_SECONDS } from '../workflows/journal';

export const ROLES = ['etcd', 'control-plane', 'data-plane'] as const;
export type Role = (typeof ROLES)[number];

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** RFC 1123 host names: labels of at most 63 characters, 253 in all (compared lower-cased). */
const hostname =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const octet = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
/** Dotted decimal only: inet_aton would also take 10.1, 0x0a.0.0.1 or 012.0.0.1. */
const ipv4 = new RegExp(`^${octet}(\\.${octet}){3}$`);
/** A last label that inet_aton and the URL standard read as a number makes it an IPv4 address. */
const numericLastLabel = /(^|\.)(0x[0-9a-f]*|[0-9]+)$/;

export const name = z
  .string()
  .regex(dnsLabel, { error: 'must be lower-case letters, digits and dashes (a DNS label)' });

/** Why an IPv4 address cannot be a cluster host's or an upstream's (undefined: it can). */
export function unusableIpv4(a: string): string | undefined {
  const [first = 0, ...rest] = a.split('.').map(Number);
  if (first === 0) return 'is an unspecified ("this network") address';
  if (a === '255.255.255.255') return 'is the broadcast address';
  if (first >= 224 && first <= 239) return 'is a multicast address';
  if (first >= 240) return 'is a reserved address';
  void rest;
  return undefined;
}

export const isLoopback = (a: string) =>
  a === 'localhost' || a.endsWith('.localhost') || (ipv4.test(a) && a.startsWith('127.'));

/** Why a (lower-cased) host address is not acceptable, or undefined. */
export function addressProblem(a: string): string | undefined {
  if (ipv4.test(a)) return unusableIpv4(a);
  if (numericLastLabel.test(a) || /^[0-9.]+$/.test(a))
    return 'must be an IPv4 address in dotted decimal (four numbers 0-255, no leading zeros; shorthand, hex and octal forms are refused) or a host name';
  if (!hostname.test(a))
    return 'must be an IPv4 address or a host name (letters, digits, dashes and dots; labels of at most 63 characters)';
  return undefined;
}

/** An IPv4 address or a host name, in canonical form (host names lower-cased). */
export const address = z
  .string()
  .toLowerCase()
  .superRefine((v, ctx) => {
    const problem = addressProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
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

/** `//a/./b/` is `/a/b`: every rule below is checked on, and every use sees, this form. */
export const normalizeRemotePath = (p: string) =>
  `/${p
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/')}`;

/** System directories: never a data or install directory, nor anything under them. */
export const SYSTEM_TREES = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib*',
  '/proc',
  '/run',
  '/sbin',
  '/sys',
  '/usr/bin',
  '/usr/include',
  '/usr/lib*',
  '/usr/libexec',
  '/usr/sbin',
  '/usr/share',
] as const;
const systemTree = (p: string) =>
  SYSTEM_TREES.find((t) =>
    t.endsWith('*')
      ? new RegExp(`^${t.slice(0, -1)}[^/]*(/|$)`).test(p)
      : p === t || p.startsWith(`${t}/`),
  );
/** Shared directories that may hold ours, but must never be ours themselves. */
export const SHARED_DIRS = [
  '/',
  '/home',
  '/media',
  '/mnt',
  '/srv',
  '/tmp',
  '/usr',
  '/usr/local',
  '/var',
  '/var/lib',
  '/var/log',
] as const;

export const within = (p: string, dir: string) =>
  dir === '/' || p === dir || p.startsWith(`${dir}/`);

/** Why a normalized remote directory cannot be one api7-ha owns, or undefined. */
export function remoteDirProblem(p: string): string | undefined {
  if (p === '/') return 'must not be the root directory';
  const tree = systemTree(p);
  if (tree) return `must not be a system directory or inside one (${tree})`;
  if ((SHARED_DIRS as readonly string[]).includes(p))
    return `must not be ${p} itself (a shared directory); name a directory of its own under it`;
  return undefined;
}

/** An absolute directory on a remote host; it reaches shells, so only plain characters. */
export const remotePath = z
  .string()
  .regex(/^\//, { error: 'must be an absolute path' })
  .regex(safePathChars, { error: 'may contain only letters, digits and . _ / @ + -' })
  .refine(noDotDot, { error: 'must not contain ".." segments' })
  .transform(normalizeRemotePath)
  .superRefine((p, ctx) => {
    const problem = remoteDirProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A path on the operator's machine, absolute or relative to the inventory file. */
export const localPath = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(4096, { error: 'must be at most 4096 characters' })
  .refine((p) => !p.includes('\0') && !p.includes('\n'), {
    error: 'must not contain NUL or newlines',
  });

/** Artifacts are staged on hosts by file name, so the name reaches remote paths. */
const artifactPath = localPath.refine(
  (p) => /^[A-Za-z0-9._@+-]+$/.test(p.slice(p.lastIndexOf('/') + 1)) && !/\/$/.test(p),
  { error: 'must end in a file name of letters, digits and . _ @ + - only' },
);

export const sha256 = z
  .string()
  .regex(/^[a-f0-9]{64}$/, { error: 'must be 64 lower-case hex digits (a sha256)' });

export const imageReference = z
  .string()
  .regex(
    /^([a-z0-9.-]+(:[0-9]{1,5})?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
    { error: 'must be an image reference with a tag, e.g. bitnami/etcd:3.4.13' },
  );

/**
 * OpenSSH prints 43 base64 characters (32 bytes, no padding). The last one carries 2
 * unused bits that must be zero in canonical base64; a trailing `=` is dropped.
 */
export const hostKeyFingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=?$/, {
    error: 'must be an OpenSSH fingerprint like SHA256:<43 base64 characters> in canonical base64',
  })
  .transform((v) => v.replace(/=$/, ''));

/** The host of a URL as written (the URL parser would quietly rewrite 0x7f.1 to 127.0.0.1). */
const urlParts = /^(https?):\/\/([^/?#@:[\]]+)(?::([0-9]{1,5}))?([/?#].*)?$/i;

const httpUrl = z.string().transform((v, ctx) => {
  const m = urlParts.exec(v);
  if (!m) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an http:// or https:// URL with a host, without credentials',
    });
    return z.NEVER;
  }
  const host = m[2]!.toLowerCase();
  const problem = addressProblem(host);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: `host ${m[2]} ${problem}` });
    return z.NEVER;
  }
  if (m[3] !== undefined && (!/^[1-9][0-9]*$/.test(m[3]) || Number(m[3]) > 65535)) {
    ctx.addIssue({
      code: 'custom',
      message: 'port must be between 1 and 65535, without leading zeros',
    });
    return z.NEVER;
  }
  try {
    // The URL standard's spelling, without a bare trailing / so paths can be appended.
    const u = new URL(v);
    return u.pathname === '/' && !u.search && !u.hash ? u.origin : u.href;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
    return z.NEVER;
  }
});

/** An upstream node, host:port, in canonical form. */
const hostPort = z.string().transform((v, ctx) => {
  const m = /^([^:]+):([0-9]{1,5})$/.exec(v);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'must be host:port' });
    return z.NEVER;
  }
  const host = m[1]!.toLowerCase();
  const problem = addressProblem(host);
  if (problem) ctx.addIssue({ code: 'custom', message: `host ${m[1]} ${problem}` });
  if (!/^[1-9][0-9]*$/.test(m[2]!) || Number(m[2]) > 65535)
    ctx.addIssue({
      code: 'custom',
      message: 'port must be between 1 and 65535, without leading zeros',
    });
  return `${host}:${m[2]}`;
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
  /**
   * Pins this host's etcd member name. Without it the member is <memberNamePrefix>-<n>,
   * n its position among the etcd hosts; pin it before an etcd host earlier in the list
   * goes away, so the later members keep their names (docs/inventory.md).
   */
  etcdMemberName: name.optional(),
  ssh: hostSsh.optional(),
});

const fileArtifact = z.strictObject({ path: artifactPath, sha256 });

const etcdSchema = z.strictObject({
  image: imageReference.default('bitnami/etcd:3.4.13'),
  /** `docker save` tarball of the image, shipped and loaded when hosts cannot pull. */
  imageTarball: fileArtifact.optional(),
  containerName: name.default('etcd'),
  /** Members are named <prefix>-1, <prefix>-2, ... in host order, as in the guide (hosts[].etcdMemberName pins one). */
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
  host: z
    .string()
    .toLowerCase()
    .refine((h) => hostname.test(h) && !numericLastLabel.test(h), {
      error: 'must be a host name (labels of at most 63 characters)',
    })
    .default('test.com'),
  uri: z
    .string()
    .regex(/^\/[A-Za-z0-9._~/-]*$/, { error: 'must be a URI path starting with /' })
    .default('/get'),
  upstream: z.array(hostPort).min(1, { error: 'must list at least one upstream host:port' }),
});

/** How many etcd backups of the cluster `api7-ha backup` keeps (docs/backup.md). */
export const DEFAULT_BACKUP_KEEP = 14;

const backupSchema = z.strictObject({
  /**
   * Where backups go on the operator's (the worker's) machine; relative to the inventory.
   * Default: <data dir>/backups/<cluster> (src/backup/local-store.ts).
   */
  dir: localPath.optional(),
  /** The newest `keep` backups stay; older ones are removed after each backup. */
  keep: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be between 1 and 1000' })
    .max(1000, { error: 'must be between 1 and 1000' })
    .default(DEFAULT_BACKUP_KEEP),
});

const verifySchema = z.strictObject({
  /**
   * Every verification of this cluster (scheduled ones too) waits for
   * `api7-ha verify approve <cluster>` before the first fault: for production clusters.
   */
  requireApproval: z.boolean({ error: 'must be true or false' }).default(false),
  /** Seconds to wait for the approval; then the run ends `aborted` with nothing injected. */
  approvalTimeoutSeconds: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be between 1 and 604800 (7 days)' })
    .max(604_800, { error: 'must be between 1 and 604800 (7 days)' })
    .default(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
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
        /** How many quick host steps (checks, config, container starts) run at once. */
        parallelism: z
          .number()
          .int()
          .min(1, { error: 'must be at least 1' })
          .max(64, { error: 'must be at most 64' })
          .default(16),
        /**
         * How many uploads and `docker load`s run at once: they share the operator's
         * uplink and are heavy on each host, so they are bounded apart from quick steps.
         */
        transferParallelism: z
          .number()
          .int()
          .min(1, { error: 'must be at least 1' })
          .max(64, { error: 'must be at most 64' })
          .default(8),
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
      .default({ parallelism: 16, transferParallelism: 8, restartPauseSeconds: 5 }),
    backup: backupSchema.default({ keep: DEFAULT_BACKUP_KEEP }),
    verify: verifySchema.default({
      requireApproval: false,
      approvalTimeoutSeconds: DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    }),
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

    // A loopback address is this machine, so in a cluster of several it names no host.
    if (inv.hosts.length > 1)
      inv.hosts.forEach((h, i) => {
        if (isLoopback(h.address))
          ctx.addIssue({
            code: 'custom',
            path: ['hosts', i, 'address'],
            message: `${h.address} is a loopback address; in a cluster of ${inv.hosts.length} hosts each needs an address the others can reach`,
          });
      });

    // Artifacts are staged on hosts by file name, so two must not share one.
    const artifacts = inventoryArtifacts(inv);
    const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
    artifacts.forEach(({ field, artifact }, i) => {
      const clash = artifacts
        .slice(0, i)
        .find((o) => base(o.artifact.path) === base(artifact.path));
      if (clash)
        ctx.addIssue({
          code: 'custom',
          path: [...field.split('.'), 'path'],
          message: `has the same file name as ${clash.field}.path (${base(artifact.path)})`,
        });
    });

    // Directories api7-ha owns must not be one another's, nor its staging directory's.
    const owned: Array<[string, string]> = [
      ['etcd.dataDir', inv.etcd.dataDir],
      ...(inv.etcd.tls ? [['etcd.tls.certDir', inv.etcd.tls.certDir] as [string, string]] : []),
      ['dashboard.installDir', inv.dashboard.installDir],
      ['gateway.installDir', inv.gateway.installDir],
    ];
    const installDirs = new Set([inv.dashboard.installDir, inv.gateway.installDir]);
    owned.forEach(([field, dir], i) => {
      if (within(dir, API7HA_DIR) || within(API7HA_DIR, dir))
        ctx.addIssue({
          code: 'custom',
          path: field.split('.'),
          message: `${dir} overlaps api7-ha's own ${API7HA_DIR}`,
        });
      for (const [otherField, other] of owned.slice(0, i)) {
        // The dashboard and the gateway may share an install directory (their bundles differ).
        if (installDirs.has(dir) && installDirs.has(other)) continue;
        if (within(dir, other) || within(other, dir))
          ctx.addIssue({
            code: 'custom',
            path: field.split('.'),
            message: `${dir} overlaps ${otherField} (${other})`,
          });
      }
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
    const memberNames = new Map<string, string>();
    withRole('etcd').forEach((h, i) => {
      const member = h.etcdMemberName ?? `${inv.etcd.memberNamePrefix}-${i + 1}`;
      const other = memberNames.get(member);
      if (other)
        ctx.addIssue({
          code: 'custom',
          path: ['hosts', inv.hosts.indexOf(h), 'etcdMemberName'],
          message: `etcd member name ${member} is also ${other}'s; pin distinct names with etcdMemberName`,
        });
      else memberNames.set(member, h.name);
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
      for (const p of hostPorts(inv, h)) claim(p.port, p.field);
    });
  });

export type InventoryInput = z.input<typeof inventorySchema>;
export type Inventory = z.output<typeof inventorySchema>;
export type Host = Inventory['hosts'][number];
export type FileArtifact = z.output<typeof fileArtifact>;
export type JumpHost = z.output<typeof jumpHost>;

/** Where api7-ha keeps its own files on every host (staging and uploads, see commands/layout.ts). */
export const API7HA_DIR = '/opt/api7-ha';

/** Every local artifact an inventory names, with its field. */
export function inventoryArtifacts(
  inv: Inventory,
): Array<{ field: string; artifact: FileArtifact }> {
  return [
    { field: 'dashboard.bundle', artifact: inv.dashboard.bundle },
    { field: 'gateway.bundle', artifact: inv.gateway.bundle },
    ...(inv.etcd.imageTarball
      ? [{ field: 'etcd.imageTarball', artifact: inv.etcd.imageTarball }]
      : []),
  ];
}

/** The field that names an artifact, for messages. */
export const artifactField = (inv: Inventory, a: FileArtifact): string =>
  `${inventoryArtifacts(inv).find((x) => x.artifact === a)?.field ?? 'artifact'}.path`;

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
