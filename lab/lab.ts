// `api7-ha lab up | status | down`: several real hosts on one machine (docs/lab.md).
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { quote } from 'shell-quote';
import { validateInventory } from '../src/config/load';
import { labDir as defaultLabDir } from '../src/paths';
import { readOwnPid, run, waitFor } from '../src/util/exec';
import {
  GATEWAY_IP,
  HAPROXY_STATS_PORT,
  LAB_BASTION,
  labHosts,
  NETNS_PREFIX,
  PRIVATE_DIRS,
  type LabHost,
} from './layout';
import {
  bridgePresent,
  ensureBridge,
  ensureHostNetwork,
  ensureSshOnlyFrom,
  removeBridge,
  removeHostNetwork,
} from './network';
import { hostPaths, hostPublicKey, prepareHostFiles, sshdPid, startHost, stopHost } from './hosts';
import {
  ensureEcho,
  ensureHaproxy,
  renderHaproxyConfig,
  servicePaths,
  stopService,
  HAPROXY_COMMAND,
  ECHO_COMMAND,
} from './services';
import { labInventory, renderLabInventory, type LabArtifactRefs } from './lab-inventory';
import { ensureLabPki } from './pki';

interface LabState {
  hostCount: number;
  /** Mount points the lab had to create in the root filesystem; removed again on down. */
  createdMountPoints: string[];
  /** Whether `ip netns add` made /run/netns (a mount) for us. */
  createdNetnsDir: boolean;
}

export interface LabOptions {
  labDir?: string;
  hosts?: number;
  artifacts: () => Promise<LabArtifactRefs>;
  echoScript: string;
  log?: (msg: string) => void;
}

export interface LabPaths {
  dir: string;
  state: string;
  inventory: string;
  privateKey: string;
  knownHosts: string;
  secrets: string;
}

export function labPaths(dir = defaultLabDir): LabPaths {
  return {
    dir,
    state: path.join(dir, 'state.json'),
    inventory: path.join(dir, 'inventory.yaml'),
    privateKey: path.join(dir, 'ssh', 'id_ed25519'),
    knownHosts: path.join(dir, 'ssh', 'known_hosts'),
    secrets: path.join(dir, 'secrets'),
  };
}

function requireRoot() {
  if (process.getuid?.() !== 0)
    throw new Error('the lab needs root (network namespaces, mounts, dockerd)');
}

function readState(p: LabPaths): LabState | undefined {
  return existsSync(p.state) ? (JSON.parse(readFileSync(p.state, 'utf8')) as LabState) : undefined;
}

/** OpenSSH options of the lab's own checks: the lab key and known_hosts only. */
function sshOptions(p: LabPaths): string[] {
  return [
    '-i',
    p.privateKey,
    '-o',
    `UserKnownHostsFile=${p.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=3',
    '-o',
    'LogLevel=ERROR',
  ];
}

/** OpenSSH to a lab host; a host behind the bastion is reached through it (ssh -W). */
export function sshArgs(p: LabPaths, host: LabHost, user = 'root'): string[] {
  // Not ProxyJump: the ssh it starts would not get -i and the known_hosts options.
  const jump = host.behindBastion
    ? [
        '-o',
        `ProxyCommand=${quote(['ssh', ...sshOptions(p), '-W', '%h:%p', `root@${LAB_BASTION.address}`])}`,
      ]
    : [];
  return ['ssh', ...sshOptions(p), ...jump, `${user}@${host.address}`];
}

async function fingerprint(pubKeyFile: string): Promise<string> {
  // "256 SHA256:xxxx comment (ED25519)"
  return (await run(['ssh-keygen', '-l', '-f', pubKeyFile])).stdout.split(' ')[1] ?? '';
}

export async function labUp(opts: LabOptions): Promise<{ inventory: string; hosts: LabHost[] }> {
  requireRoot();
  const log = opts.log ?? (() => {});
  const p = labPaths(opts.labDir);
  const previous = readState(p);
  const count = opts.hosts ?? previous?.hostCount ?? 5;
  if (previous && previous.hostCount !== count)
    throw new Error(
      `the lab already has ${previous.hostCount} hosts; run \`api7-ha lab down\` before asking for ${count}`,
    );
  const hosts = labHosts(count);
  const artifacts = await opts.artifacts();

  mkdirSync(path.dirname(p.privateKey), { recursive: true, mode: 0o700 });
  mkdirSync(p.secrets, { recursive: true, mode: 0o700 });
  if (!existsSync(p.privateKey))
    await run([
      'ssh-keygen',
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'api7-ha-lab',
      '-f',
      p.privateKey,
    ]);
  for (const secret of ['dashboard-password', 'dashboard-token-secret', 'etcd-root-password']) {
    const file = path.join(p.secrets, secret);
    if (!existsSync(file))
      writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }

  await ensureLabPki(
    path.join(p.dir, 'pki'),
    hosts.filter((h) => h.roles.includes('etcd')),
  );

  const state: LabState = previous ?? {
    hostCount: count,
    createdMountPoints: PRIVATE_DIRS.filter((d) => !existsSync(d)),
    createdNetnsDir: !existsSync('/run/netns'),
  };
  // Write state before changing the machine, so `down` can undo a half-finished `up`.
  writeFileSync(p.state, JSON.stringify(state, null, 2));
  for (const dir of state.createdMountPoints) mkdirSync(dir, { recursive: true });

  log('network: bridge and namespaces');
  await ensureBridge();
  const clientKey = readFileSync(`${p.privateKey}.pub`, 'utf8');
  // The sudo rules of the host with a non-root login come from the inventory (no host keys needed).
  const rulesInventory = validateInventory(
    labInventory({ hosts, hostKeyFingerprints: {}, artifacts }),
    'the lab inventory',
  );
  // The bastion first: the hosts behind it are checked through it.
  for (const host of [LAB_BASTION, ...hosts]) {
    await ensureHostNetwork(host);
    if (host.behindBastion) await ensureSshOnlyFrom(host, LAB_BASTION.address);
    const hp = hostPaths(p.dir, host);
    await prepareHostFiles(host, hp, clientKey, rulesInventory);
    if (sshdPid(hp) === undefined) {
      log(
        `${host.name}: starting ${host.sshOnly ? 'sshd' : 'sshd and dockerd'} at ${host.address}`,
      );
      startHost(host, hp);
    }
  }
  const fingerprints: Record<string, string> = {};
  const knownHosts: string[] = [];
  for (const host of [LAB_BASTION, ...hosts]) {
    const hp = hostPaths(p.dir, host);
    knownHosts.push(`${host.address} ${hostPublicKey(hp)}`);
    fingerprints[host.name] = await fingerprint(`${hp.hostKey}.pub`);
  }
  writeFileSync(p.knownHosts, `${knownHosts.join('\n')}\n`);

  await waitFor(
    `${LAB_BASTION.name}'s sshd`,
    async () =>
      (await run([...sshArgs(p, LAB_BASTION), 'true'], { allowFailure: true })).code === 0,
    30_000,
    300,
  );
  await Promise.all(
    hosts.map((host) =>
      waitFor(
        `${host.name}'s sshd and Docker engine`,
        async () =>
          (
            await run([...sshArgs(p, host), 'docker', 'info', '--format', '{{.ID}}'], {
              allowFailure: true,
            })
          ).code === 0,
        60_000,
        500,
      ),
    ),
  );
  for (const host of hosts.filter((h) => h.sudoUser)) {
    const r = await run(
      [
        ...sshArgs(p, host, host.sudoUser),
        'sudo',
        '-n',
        '--',
        'docker',
        'info',
        '--format',
        '{{.ID}}',
      ],
      { allowFailure: true },
    );
    if (r.code !== 0)
      throw new Error(
        `${host.name}: ${host.sudoUser} cannot log in or run docker through sudo (${r.stderr.trim()}); ` +
          'a lab started by an older version has no such user: run `api7-ha lab down`, then up again',
      );
  }

  const sp = servicePaths(p.dir);
  ensureEcho(sp, opts.echoScript);
  await ensureHaproxy(
    sp,
    renderHaproxyConfig(hosts, { dashboard: 9000, gatewayHttp: 80, gatewayMetrics: 9091 }),
  );
  await waitFor(
    'HAProxy',
    async () =>
      (
        await run(
          ['curl', '-fsS', '-o', '/dev/null', `http://${GATEWAY_IP}:${HAPROXY_STATS_PORT}/stats`],
          { allowFailure: true },
        )
      ).code === 0,
    10_000,
  );

  writeFileSync(
    p.inventory,
    renderLabInventory(labInventory({ hosts, hostKeyFingerprints: fingerprints, artifacts })),
  );
  log(`lab is up: ${hosts.length} hosts; inventory at ${p.inventory}`);
  return { inventory: p.inventory, hosts };
}

export interface HostStatus {
  name: string;
  address: string;
  roles: string;
  sshd: boolean;
  engineId: string;
  containers: string;
}

export interface LabStatus {
  up: boolean;
  hosts: HostStatus[];
  /** The jump host: whether its sshd lets the lab key in. */
  bastion: { name: string; address: string; sshd: boolean };
  haproxy: boolean;
  echo: boolean;
  inventory?: string;
}

export async function labStatus(labDir?: string): Promise<LabStatus> {
  const p = labPaths(labDir);
  const state = readState(p);
  const bastion = { name: LAB_BASTION.name, address: LAB_BASTION.address, sshd: false };
  if (!state) return { up: false, hosts: [], bastion, haproxy: false, echo: false };
  bastion.sshd =
    (await run([...sshArgs(p, LAB_BASTION), 'true'], { allowFailure: true, timeoutMs: 15_000 }))
      .code === 0;
  const sp = servicePaths(p.dir);
  const hosts = await Promise.all(
    labHosts(state.hostCount).map(async (host): Promise<HostStatus> => {
      const r = await run(
        [
          ...sshArgs(p, host),
          'docker',
          'info',
          '--format',
          '{{.ID}}',
          '&&',
          'docker',
          'ps',
          '--format',
          '{{.Names}}',
        ],
        { allowFailure: true, timeoutMs: 15_000 },
      );
      const [engineId = '', ...names] = r.stdout.trim().split('\n');
      return {
        name: host.name,
        address: host.address,
        roles: host.roles.join(','),
        sshd: sshdPid(hostPaths(p.dir, host)) !== undefined,
        engineId: r.code === 0 ? engineId : '',
        containers: names.filter(Boolean).join(' '),
      };
    }),
  );
  const haproxy = readOwnPid(sp.haproxyPid, HAPROXY_COMMAND) !== undefined;
  const echo = readOwnPid(sp.echoPid, ECHO_COMMAND) !== undefined;
  const up = haproxy && echo && bastion.sshd && hosts.every((h) => h.sshd && h.engineId);
  return {
    up,
    hosts,
    bastion,
    haproxy,
    echo,
    inventory: existsSync(p.inventory) ? p.inventory : undefined,
  };
}

/** Remove everything the lab made and nothing else. Safe to run twice. */
export async function labDown(
  opts: { labDir?: string; log?: (msg: string) => void } = {},
): Promise<void> {
  requireRoot();
  const log = opts.log ?? (() => {});
  const p = labPaths(opts.labDir);
  const state = readState(p);
  // Also find hosts by namespace name, in case the state file was lost half way.
  const listed = (await run(['ip', 'netns', 'list'], { allowFailure: true })).stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
  const count = Math.max(
    state?.hostCount ?? 0,
    ...listed.map((n) => Number(n.slice(NETNS_PREFIX.length + 2)) || 0),
  );
  const hosts = count ? labHosts(Math.max(count, 3)).slice(0, count) : [];
  const sp = servicePaths(p.dir);
  await stopService(sp.haproxyPid, HAPROXY_COMMAND);
  await stopService(sp.echoPid, ECHO_COMMAND);
  await Promise.all(
    [...hosts, LAB_BASTION].map(async (host) => {
      log(
        `${host.name}: ${host.sshOnly ? 'stopping sshd' : 'removing containers, stopping dockerd and sshd'}`,
      );
      await stopHost(host, hostPaths(p.dir, host));
      await removeHostNetwork(host);
    }),
  );
  if (await bridgePresent()) log('network: removing the bridge and the iptables rule');
  await removeBridge();
  for (const dir of state?.createdMountPoints ?? []) {
    try {
      rmdirSync(dir);
    } catch {
      /* not empty or gone: leave it */
    }
  }
  if (
    state?.createdNetnsDir &&
    existsSync('/run/netns') &&
    readdirSync('/run/netns').length === 0
  ) {
    await run(['umount', '/run/netns'], { allowFailure: true });
    rmdirSync('/run/netns');
  }
  rmSync(p.dir, { recursive: true, force: true });
  log('lab is down');
}
