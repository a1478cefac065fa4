/**
 * Produces the artifacts of a real air-gapped install: the etcd image tarball and the
 * two vendor bundles (control plane, data plane) in the vendor's layout, with images
 * made from files (`docker import`) in a private, throw-away Docker engine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { commandLine, isAlive, readPidFile, run, sleep, terminate } from '../src/util/exec';

/** Bump when the way artifacts are made changes in a way the inputs do not show. */
export const RECIPE_VERSION = 1;

export const BUNDLE_VERSION = '2.13.2209.1';
export const GATEWAY_VERSION = '2.13.2209.2';
export const ETCD_IMAGE = 'bitnami/etcd:3.4.13';
export const DASHBOARD_IMAGE = `api7ee.azurecr.io/api7-dashboard:${BUNDLE_VERSION}`;
export const GATEWAY_IMAGE = `api7ee.azurecr.io/api7-gateway:${GATEWAY_VERSION}`;

export const ARTIFACT_NAMES = {
  etcdImage: 'etcd-3.4.13.tar.gz',
  cpBundle: `api7-${BUNDLE_VERSION}-cp.tar.gz`,
  dpBundle: `api7-${BUNDLE_VERSION}-dp.tar.gz`,
  cpTopDir: `api7-${BUNDLE_VERSION}-cp`,
  dpTopDir: `api7-${BUNDLE_VERSION}-dp`,
  dashboardImageInBundle: `images/api7-dashboard-${BUNDLE_VERSION}.tar.gz`,
  gatewayImageInBundle: `images/api7-gateway-${GATEWAY_VERSION}.tar.gz`,
  manifest: 'manifest.json',
} as const;

const NODE_BIN = '/usr/bin/node';
const ETCD_BIN = '/usr/bin/etcd';
const ETCDCTL_BIN = '/usr/bin/etcdctl';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// Fixed mtime for bundle entries, so a bundle only changes when its content does.
const BUNDLE_MTIME = '@1664496000';
// The 28.x client first in PATH negotiates API 1.41 with the 20.10 engine (checked),
// and it is the client the deployer's hosts use too.
const DOCKER_CLI = 'docker';

export interface ArtifactFile {
  /** Absolute path. */
  path: string;
  sha256: string;
  size: number;
}

export interface BundledImageTarball {
  /** Path inside the bundle, relative to its top directory. */
  pathInBundle: string;
  sha256: string;
  size: number;
}

export interface VendorBundle extends ArtifactFile {
  version: string;
  /** Directory the tarball unpacks to. */
  topDir: string;
  /** Reference of the image the bundle carries, e.g. api7ee.azurecr.io/api7-dashboard:2.13.2209.1. */
  image: string;
  imageTarball: BundledImageTarball;
}

export interface LabArtifacts {
  /** Hash of every input; equal keys mean equal artifacts. */
  key: string;
  /** False when an existing build with the same key was reused. */
  built: boolean;
  outDir: string;
  manifestPath: string;
  /** `docker save | gzip` of the etcd image; `reference` is its tag. */
  etcdImage: ArtifactFile & { reference: string };
  controlPlaneBundle: VendorBundle;
  dataPlaneBundle: VendorBundle;
}

export interface BuildLabArtifactsOptions {
  outDir: string;
  cacheDir: string;
  /** Holds dashboard.js and gateway.js (from `node lab/build-standins.js`). */
  standinsDir: string;
  log?: (msg: string) => void;
  force?: boolean;
}

interface ManifestFile {
  sha256: string;
  size: number;
}

interface ManifestImage {
  reference: string;
  /** File in outDir holding the image, directly or inside a bundle. */
  file: string;
  pathInBundle?: string;
  sha256: string;
  size: number;
}

interface Manifest {
  schema: 1;
  recipeVersion: number;
  key: string;
  builtAt: string;
  files: Record<string, ManifestFile>;
  images: ManifestImage[];
}

// ---------------------------------------------------------------------------
// Processes

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
      return;
    }
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (d: string) => {
    if (text.length < 64 << 10) text += d;
  });
  return () => text;
}

/** Stop `pid` if it still runs a command naming `marker` (a path unique to one engine). */
const stopNaming = (pid: number, marker: string, graceMs: number) =>
  terminate(pid, { graceMs, ours: () => commandLine(pid).includes(marker) });

/** Pids whose command line names `marker` (a path unique to one engine). */
function pidsNaming(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && pid !== process.pid && commandLine(pid).includes(marker))
      pids.push(pid);
  }
  return pids;
}

// ---------------------------------------------------------------------------
// Private Docker engine

export interface PrivateEngine {
  readonly dir: string;
  /** `unix://...`, for DOCKER_HOST. */
  readonly host: string;
  /** Environment that points the docker CLI at this engine only. */
  readonly env: NodeJS.ProcessEnv;
  docker(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  stop(): Promise<void>;
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

async function tail(file: string, lines = 20): Promise<string> {
  try {
    return (await fsp.readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Stops what is left of the engine in `dir` (all of it after a crash) and drops its state. */
async function reapEngine(dir: string, log: (m: string) => void): Promise<void> {
  const execRoot = path.join(dir, 'exec');
  const dockerdPid = readPidFile(path.join(dir, 'dockerd.pid'));
  if (dockerdPid !== undefined && (await stopNaming(dockerdPid, `${dir}/data`, 30_000))) {
    log(`stopped dockerd ${dockerdPid} of ${dir}`);
  }
  const containerdPid = readPidFile(path.join(execRoot, 'containerd', 'containerd.pid'));
  if (containerdPid !== undefined && (await stopNaming(containerdPid, `${execRoot}/`, 10_000))) {
    log(`stopped containerd ${containerdPid} of ${dir}`);
  }
  // Shims of containers still running when the engine died name our exec root.
  for (const pid of pidsNaming(`${execRoot}/`)) {
    log(`killing leftover process ${pid}: ${commandLine(pid)}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // Every mount lived in the engine's namespace; refuse to rm through one that did not.
  const mounts = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  if (mounts.includes(`${dir}/`)) {
    log(`mounts under ${dir} remain; not removing engine state`);
    return;
  }
  // Images are only kept in the tarballs; the engine state is scratch.
  await fsp.rm(path.join(dir, 'data'), { recursive: true, force: true });
  await fsp.rm(execRoot, { recursive: true, force: true });
}

/**
 * Starts a Docker engine that shares nothing with the machine's default one: its own
 * data, exec root, socket, config and trust key under `dir`; no bridge, no iptables, no
 * ip_forward change. It runs in a private mount namespace with a tmpfs on /run, because
 * dockerd 20.10 hard-codes /run/docker/plugins and containerd shims use /run/containerd.
 */
export async function startPrivateEngine(
  dir: string,
  log: (msg: string) => void = () => {},
): Promise<PrivateEngine> {
  dir = path.resolve(dir);
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  const socket = path.join(dir, 'docker.sock');
  const pidFile = path.join(dir, 'dockerd.pid');
  const logFile = path.join(dir, 'dockerd.log');
  const configFile = path.join(dir, 'daemon.json');
  const clientConfig = path.join(dir, 'client');
  // sun_path holds 108 bytes; containerd's ttrpc socket is the longest one we create.
  const longest = path.join(execRoot, 'containerd', 'containerd.sock.ttrpc');
  if (Buffer.byteLength(longest) > 100) {
    throw new Error(`engine dir ${dir} is too long for unix sockets; use a shorter cacheDir`);
  }

  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await reapEngine(dir, log);
  await fsp.rm(socket, { force: true });
  await fsp.mkdir(clientConfig, { recursive: true });
  // Without this key dockerd writes /etc/docker/key.json.
  await fsp.writeFile(
    configFile,
    JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }) + '\n',
  );

  const dockerdArgs = [
    `--config-file=${configFile}`,
    `--data-root=${dataRoot}`,
    `--exec-root=${execRoot}`,
    `--pidfile=${pidFile}`,
    `--host=unix://${socket}`,
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--ip-forward=false',
  ];
  const logFd = fs.openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    // Constant script; dockerd's arguments travel as argv. `mount -n` keeps /run/mount/utab untouched.
    child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        'mount -n -t tmpfs -o mode=755 tmpfs /run && exec "$@"',
        'sh',
        'dockerd',
        ...dockerdArgs,
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
  } finally {
    fs.closeSync(logFd);
  }
  const exited = exitOf(child);
  let exitCode: number | null | undefined;
  void exited.then(
    (c) => (exitCode = c),
    () => (exitCode = -1),
  );
  // A process.exit() half way must not leave an engine behind.
  const onExit = (): void => {
    if (child.pid !== undefined && exitCode === undefined) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  };
  process.once('exit', onExit);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: clientConfig,
  };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.pid !== undefined && exitCode === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited.catch(() => undefined);
      clearTimeout(timer);
    }
    process.removeListener('exit', onExit);
    await reapEngine(dir, log);
    log(`engine ${dir} stopped`);
  };

  const started = Date.now();
  try {
    while (!(await ping(socket))) {
      if (exitCode !== undefined) {
        throw new Error(`dockerd exited with ${exitCode}:\n${await tail(logFile)}`);
      }
      if (Date.now() - started > 60_000) {
        throw new Error(`dockerd did not answer on ${socket} within 60 s:\n${await tail(logFile)}`);
      }
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  log(`engine ${dir} ready in ${Date.now() - started} ms`);

  return {
    dir,
    host: `unix://${socket}`,
    env,
    docker: async (args, opts) =>
      (await run([DOCKER_CLI, ...args], { env, timeoutMs: opts?.timeoutMs ?? 300_000 })).stdout,
    stop,
  };
}

/** Runs `fn` with a private engine in `dir`, stopping it afterwards even on error. */
export async function withPrivateEngine<T>(
  dir: string,
  fn: (engine: PrivateEngine) => Promise<T>,
  log?: (msg: string) => void,
): Promise<T> {
  const engine = await startPrivateEngine(dir, log);
  try {
    return await fn(engine);
  } finally {
    await engine.stop();
  }
}

// ---------------------------------------------------------------------------
// Hashing

async function sha256File(file: string): Promise<ManifestFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    hash.update(buf);
    size += buf.length;
  }
  return { sha256: hash.digest('hex'), size };
}

function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// ---------------------------------------------------------------------------
// Image recipes

interface PlacedFile {
  /** Absolute path inside the image. */
  dest: string;
  mode: number;
  /** Exactly one of src (host file) or content. */
  src?: string;
  content?: string;
}

interface ImageRecipe {
  ref: string;
  /** Host paths copied to the same path, with every symlink on the way. */
  systemPaths: string[];
  placed: PlacedFile[];
  dirs: Array<{ path: string; mode: number }>;
  changes: string[];
}

const BASE_FILES: PlacedFile[] = [
  // `docker run -u root` and node's os.userInfo() need a passwd entry.
  {
    dest: '/etc/passwd',
    mode: 0o644,
    content:
      'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  },
  { dest: '/etc/group', mode: 0o644, content: 'root:x:0:\nnogroup:x:65534:\n' },
  {
    dest: '/etc/nsswitch.conf',
    mode: 0o644,
    content: 'passwd: files\ngroup: files\nhosts: files dns\n',
  },
];

const BASE_DIRS = [
  { path: '/tmp', mode: 0o1777 },
  { path: '/root', mode: 0o700 },
];

/** Libraries `ldd` lists for a binary (absolute paths only; the vDSO has none). */
async function lddLibraries(binary: string): Promise<string[]> {
  let out: string;
  try {
    out = (await run(['ldd', binary], { timeoutMs: 120_000 })).stdout;
  } catch (err) {
    if (String(err).includes('not a dynamic executable')) return [];
    throw err;
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    if (line.includes('not found')) throw new Error(`ldd ${binary}: ${line.trim()}`);
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

async function withLibraries(binaries: string[]): Promise<string[]> {
  const all = new Set<string>();
  for (const bin of binaries) {
    all.add(bin);
    for (const lib of await lddLibraries(bin)) all.add(lib);
  }
  return [...all];
}

async function imageRecipes(
  standinsDir: string,
): Promise<{ etcd: ImageRecipe; dashboard: ImageRecipe; gateway: ImageRecipe }> {
  const etcdPaths = await withLibraries([ETCD_BIN, ETCDCTL_BIN, '/bin/bash', '/bin/sh']);
  const nodePaths = await withLibraries([NODE_BIN]);
  const dashDir = '/usr/local/apisix-dashboard';
  const gwDir = '/usr/local/apisix';
  return {
    etcd: {
      ref: ETCD_IMAGE,
      systemPaths: etcdPaths,
      placed: BASE_FILES,
      dirs: BASE_DIRS,
      // etcd reads every ETCD_* variable itself, so the guide's `docker run` works as is.
      changes: [PATH_ENV, 'ETCDCTL_API=3']
        .map((e) => `ENV ${e}`)
        .concat(['EXPOSE 2379 2380', `ENTRYPOINT ["${ETCD_BIN}"]`]),
    },
    dashboard: {
      ref: DASHBOARD_IMAGE,
      systemPaths: nodePaths,
      placed: [
        ...BASE_FILES,
        {
          dest: `${dashDir}/manager-api.js`,
          mode: 0o644,
          src: path.join(standinsDir, 'dashboard.js'),
        },
      ],
      dirs: [
        ...BASE_DIRS,
        { path: `${dashDir}/conf`, mode: 0o755 },
        { path: `${dashDir}/logs`, mode: 0o755 },
      ],
      changes: [
        `ENV ${PATH_ENV}`,
        `ENV API7_VERSION=${BUNDLE_VERSION}`,
        `WORKDIR ${dashDir}`,
        'EXPOSE 9000',
        `ENTRYPOINT ["${NODE_BIN}", "${dashDir}/manager-api.js"]`,
      ],
    },
    gateway: {
      ref: GATEWAY_IMAGE,
      systemPaths: nodePaths,
      placed: [
        ...BASE_FILES,
        { dest: `${gwDir}/gateway.js`, mode: 0o644, src: path.join(standinsDir, 'gateway.js') },
      ],
      dirs: [
        ...BASE_DIRS,
        { path: `${gwDir}/conf`, mode: 0o755 },
        { path: `${gwDir}/logs`, mode: 0o755 },
      ],
      changes: [
        `ENV ${PATH_ENV}`,
        `ENV API7_VERSION=${GATEWAY_VERSION}`,
        `WORKDIR ${gwDir}`,
        'EXPOSE 80 443 9091',
        `ENTRYPOINT ["${NODE_BIN}", "${gwDir}/gateway.js"]`,
      ],
    },
  };
}

/**
 * Copies a host path into `root` at the same path, recreating each symlink met on the
 * way (e.g. /lib64 -> usr/lib64 -> /lib/x86_64-linux-gnu/...), so it resolves inside
 * the image exactly as on the host.
 */
async function copySystemPath(root: string, hostPath: string, depth = 0): Promise<void> {
  if (depth > 40) throw new Error(`too many symlinks resolving ${hostPath}`);
  const parts = hostPath.split('/').filter(Boolean);
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = path.posix.join(cur, parts[i] ?? '');
    const dest = path.join(root, next);
    const st = await fsp.lstat(next);
    if (st.isSymbolicLink()) {
      const target = await fsp.readlink(next);
      await fsp.symlink(target, dest).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await copySystemPath(root, path.posix.resolve(cur, target, ...parts.slice(i + 1)), depth + 1);
      return;
    }
    if (st.isDirectory()) {
      await fsp.mkdir(dest, { recursive: true });
      await fsp.chmod(dest, st.mode & 0o7777);
    } else if (st.isFile() && i === parts.length - 1) {
      await fsp.copyFile(next, dest, fs.constants.COPYFILE_FICLONE);
      await fsp.chmod(dest, st.mode & 0o7777);
    } else {
      throw new Error(`cannot copy ${next} into an image: not a file, directory or symlink`);
    }
    cur = next;
  }
}

async function makeRootfs(recipe: ImageRecipe, root: string): Promise<void> {
  await fsp.mkdir(root, { recursive: true, mode: 0o755 });
  for (const p of recipe.systemPaths) await copySystemPath(root, p);
  for (const d of recipe.dirs) {
    const dest = path.join(root, d.path);
    await fsp.mkdir(dest, { recursive: true });
    await fsp.chmod(dest, d.mode);
  }
  for (const f of recipe.placed) {
    const dest = path.join(root, f.dest);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    if (f.src !== undefined) await fsp.copyFile(f.src, dest);
    else await fsp.writeFile(dest, f.content ?? '');
    await fsp.chmod(dest, f.mode);
  }
}

/** Runs `cmd args`, gzips its stdout into `dest`, hashing the gzip as it is written. */
async function gzipOutputTo(
  cmd: string,
  args: string[],
  dest: string,
  level: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ManifestFile> {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = collect(child.stderr);
  const exited = exitOf(child);
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(child.stdout!, zlib.createGzip({ level }), tap, fs.createWriteStream(dest));
  } catch (err) {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw err;
  }
  const code = await exited;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr()}`);
  return { sha256: hash.digest('hex'), size };
}

/** `tar -c rootfs | docker import -c ... - ref`, without a shell or a temp tarball. */
async function importRootfs(
  engine: PrivateEngine,
  recipe: ImageRecipe,
  root: string,
): Promise<void> {
  const tar = spawn(
    'tar',
    ['--sort=name', '--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', '-', '.'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const changes = recipe.changes.flatMap((c) => ['-c', c]);
  const imp = spawn(DOCKER_CLI, ['import', ...changes, '-', recipe.ref], {
    env: engine.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const tarErr = collect(tar.stderr);
  const impErr = collect(imp.stderr);
  const tarExit = exitOf(tar);
  const impExit = exitOf(imp);
  imp.stdout?.resume();
  await pipeline(tar.stdout!, imp.stdin!).catch(() => undefined);
  const [tc, ic] = await Promise.all([tarExit, impExit]);
  if (tc !== 0) throw new Error(`tar of ${root} exited with ${tc}: ${tarErr()}`);
  if (ic !== 0) throw new Error(`docker import ${recipe.ref} exited with ${ic}: ${impErr()}`);
}

// ---------------------------------------------------------------------------
// Bundle contents (the vendor's layout; values are the guide's defaults)

const DASHBOARD_CONF = `# API7 Dashboard configuration (defaults of the vendor's guide).
conf:
  listen:
    host: 0.0.0.0
    port: 9000
  etcd:
    name: "default"
    endpoints:            # etcd members, "ip:port" without scheme
      - 127.0.0.1:2379
    enable_auth: false
    username: "root"      # ignored unless enable_auth is true
    password: "123456"    # ignored unless enable_auth is true
    mtls:
      enable: false
      key_file: ""        # client key
      cert_file: ""       # client cert
      ca_file: ""         # CA that signed the etcd certificates
    prefix: /api7         # key prefix in etcd
  log:
    error_log:
      level: warn
      file_path: logs/error.log
    access_log:
      file_path: logs/access.log
authentication:
  secret: secret
  expire_time: 3600
  users:
    - username: admin
      password: admin
`;

// Format "3" is read by Debian's docker-compose 1.29 and by compose v2 alike.
const CP_COMPOSE = `version: "3"

services:
  api7-dashboard:
    image: ${DASHBOARD_IMAGE}
    restart: always
    volumes:
      - ./dashboard_conf/conf.yaml:/usr/local/apisix-dashboard/conf/conf.yaml:ro
    ports:
      - "9000:9000/tcp"
    networks:
      - api7

networks:
  api7:
    driver: bridge
`;

const GATEWAY_CONF = `# API7 Gateway configuration (defaults of the vendor's guide).
apisix:
  node_listen: 80
  ssl:
    enable: true
    listen:
      - port: 443
etcd:
  host:                   # etcd members, "ip:port" without scheme
    - "127.0.0.1:2379"
  prefix: "/api7/\${cluster_id}"   # id of the gateway cluster created in the dashboard
  timeout: 30
plugin_attr:
  prometheus:
    export_addr:
      ip: 0.0.0.0
      port: 9091
`;

const DP_COMPOSE = `version: "3"

services:
  api7-gateway:
    image: ${GATEWAY_IMAGE}
    restart: always
    volumes:
      - ./gateway_conf/config.yaml:/usr/local/apisix/conf/config.yaml:ro
      - ./gateway_logs:/usr/local/apisix/logs
    ports:
      - "80:80/tcp"
      - "443:443/tcp"
      - "9091:9091/tcp"
    networks:
      - api7

networks:
  api7:
    driver: bridge
`;

const CLI_SH = `#!/usr/bin/env bash
# Manage the API7 Gateway of this bundle with docker compose.
set -euo pipefail
cd "$(dirname "$0")"

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  compose=(docker-compose)
fi

case "\${1:-}" in
  start)   "\${compose[@]}" up -d ;;
  stop)    "\${compose[@]}" down ;;
  restart) "\${compose[@]}" down && "\${compose[@]}" up -d ;;
  status)  "\${compose[@]}" ps ;;
  logs)    "\${compose[@]}" logs --tail=100 ;;
  *)
    echo "usage: $0 {start|stop|restart|status|logs}" >&2
    exit 2
    ;;
esac
`;

interface BundleFile {
  /** Relative to the bundle's top directory. */
  path: string;
  mode: number;
  content: string;
}

const CP_FILES: BundleFile[] = [
  { path: 'docker-compose.yaml', mode: 0o644, content: CP_COMPOSE },
  { path: 'dashboard_conf/conf.yaml', mode: 0o644, content: DASHBOARD_CONF },
];

const DP_FILES: BundleFile[] = [
  { path: 'cli.sh', mode: 0o755, content: CLI_SH },
  { path: 'docker-compose.yaml', mode: 0o644, content: DP_COMPOSE },
  { path: 'gateway_conf/config.yaml', mode: 0o644, content: GATEWAY_CONF },
];

async function writeBundleTree(
  top: string,
  files: BundleFile[],
  emptyDirs: string[],
): Promise<void> {
  for (const f of files) {
    const dest = path.join(top, f.path);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.writeFile(dest, f.content);
    await fsp.chmod(dest, f.mode);
  }
  for (const d of emptyDirs) await fsp.mkdir(path.join(top, d), { recursive: true });
}

async function tarGzip(parent: string, topDir: string, dest: string): Promise<ManifestFile> {
  // Level 1: the bundle mostly holds images that are gzipped already.
  return gzipOutputTo(
    'tar',
    [
      '--sort=name',
      '--numeric-owner',
      '--owner=0',
      '--group=0',
      `--mtime=${BUNDLE_MTIME}`,
      '-C',
      parent,
      '-cf',
      '-',
      topDir,
    ],
    dest,
    1,
  );
}

// ---------------------------------------------------------------------------
// Build key, manifest, lock

async function computeKey(
  recipes: Awaited<ReturnType<typeof imageRecipes>>,
): Promise<{ key: string; inputs: unknown }> {
  const hashes = new Map<string, string>();
  const hashOf = async (p: string): Promise<string> => {
    const real = await fsp.realpath(p);
    let h = hashes.get(real);
    if (h === undefined) {
      h = (await sha256File(real)).sha256;
      hashes.set(real, h);
    }
    return h;
  };
  const images: unknown[] = [];
  for (const r of [recipes.etcd, recipes.dashboard, recipes.gateway]) {
    const system: Array<[string, string]> = [];
    for (const p of r.systemPaths) system.push([p, await hashOf(p)]);
    const placed: Array<[string, number, string]> = [];
    for (const f of r.placed) {
      placed.push([
        f.dest,
        f.mode,
        f.src !== undefined ? await hashOf(f.src) : sha256Text(f.content ?? ''),
      ]);
    }
    images.push({ ref: r.ref, system, placed, dirs: r.dirs, changes: r.changes });
  }
  const bundle = (files: BundleFile[]): unknown =>
    files.map((f) => [f.path, f.mode, sha256Text(f.content)]);
  const inputs = {
    recipeVersion: RECIPE_VERSION,
    images,
    bundles: { cp: bundle(CP_FILES), dp: bundle(DP_FILES) },
  };
  return { key: sha256Text(JSON.stringify(inputs)), inputs };
}

function toArtifacts(m: Manifest, outDir: string, built: boolean): LabArtifacts {
  const file = (name: string): ArtifactFile => {
    const f = m.files[name];
    if (!f) throw new Error(`manifest lacks ${name}`);
    return { path: path.join(outDir, name), sha256: f.sha256, size: f.size };
  };
  const bundled = (ref: string): BundledImageTarball => {
    const i = m.images.find((x) => x.reference === ref);
    if (!i?.pathInBundle) throw new Error(`manifest lacks bundled image ${ref}`);
    return { pathInBundle: i.pathInBundle, sha256: i.sha256, size: i.size };
  };
  return {
    key: m.key,
    built,
    outDir,
    manifestPath: path.join(outDir, ARTIFACT_NAMES.manifest),
    etcdImage: { ...file(ARTIFACT_NAMES.etcdImage), reference: ETCD_IMAGE },
    controlPlaneBundle: {
      ...file(ARTIFACT_NAMES.cpBundle),
      version: BUNDLE_VERSION,
      topDir: ARTIFACT_NAMES.cpTopDir,
      image: DASHBOARD_IMAGE,
      imageTarball: bundled(DASHBOARD_IMAGE),
    },
    dataPlaneBundle: {
      ...file(ARTIFACT_NAMES.dpBundle),
      version: BUNDLE_VERSION,
      topDir: ARTIFACT_NAMES.dpTopDir,
      image: GATEWAY_IMAGE,
      imageTarball: bundled(GATEWAY_IMAGE),
    },
  };
}

/** The existing build, if it has this key and every file still hashes as recorded. */
async function reusable(
  outDir: string,
  key: string,
  log: (m: string) => void,
): Promise<LabArtifacts | undefined> {
  let m: Manifest;
  try {
    m = JSON.parse(
      await fsp.readFile(path.join(outDir, ARTIFACT_NAMES.manifest), 'utf8'),
    ) as Manifest;
  } catch {
    return undefined;
  }
  if (m.key !== key || m.recipeVersion !== RECIPE_VERSION) {
    log('inputs changed since the last build');
    return undefined;
  }
  for (const name of [ARTIFACT_NAMES.etcdImage, ARTIFACT_NAMES.cpBundle, ARTIFACT_NAMES.dpBundle]) {
    const want = m.files[name];
    const got = await sha256File(path.join(outDir, name)).catch(() => undefined);
    if (!want || !got || got.sha256 !== want.sha256) {
      log(`${name} is missing or altered`);
      return undefined;
    }
  }
  try {
    return toArtifacts(m, outDir, false);
  } catch {
    return undefined;
  }
}

/** One build per cacheDir at a time (they share the engine dir). */
async function lock(cacheDir: string, log: (m: string) => void): Promise<() => Promise<void>> {
  const file = path.join(cacheDir, 'build.lock');
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      await fsp.writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      return () => fsp.rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPidFile(file);
    if (holder === undefined) {
      await fsp.rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${file} is held by pid ${holder}`);
    if (!told) log(`waiting for the build of pid ${holder}`);
    told = true;
    await sleep(500);
  }
}

/** Removes `<prefix><pid>-*` dirs left by builds that died (their pid no longer runs). */
async function removeStale(dir: string, prefix: string, log: (m: string) => void): Promise<void> {
  for (const name of await fsp.readdir(dir)) {
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (!name.startsWith(prefix) || !pid || (pid !== process.pid && isAlive(pid))) continue;
    log(`removing ${name} left by an interrupted build`);
    await fsp.rm(path.join(dir, name), { recursive: true, force: true });
  }
}

/** What a build killed half way left behind, unless a live build holds the lock. */
async function cleanUpAfterCrash(
  cacheDir: string,
  outDir: string,
  log: (m: string) => void,
): Promise<void> {
  const lockFile = path.join(cacheDir, 'build.lock');
  if (readPidFile(lockFile) !== undefined) return;
  await fsp.rm(lockFile, { force: true });
  const engineDir = path.join(cacheDir, 'build-engine');
  if (fs.existsSync(path.join(engineDir, 'exec')) || fs.existsSync(path.join(engineDir, 'data'))) {
    await reapEngine(engineDir, log);
  }
  await removeStale(cacheDir, 'work-', log);
  await removeStale(outDir, '.staging-', log);
}

// ---------------------------------------------------------------------------
// Entry point

export async function buildLabArtifacts(opts: BuildLabArtifactsOptions): Promise<LabArtifacts> {
  const outDir = path.resolve(opts.outDir);
  const cacheDir = path.resolve(opts.cacheDir);
  const standinsDir = path.resolve(opts.standinsDir);
  const log = opts.log ?? (() => {});

  for (const name of ['dashboard.js', 'gateway.js']) {
    const p = path.join(standinsDir, name);
    if (!fs.existsSync(p))
      throw new Error(`${p} is missing; run \`node lab/build-standins.js\` first`);
  }
  await fsp.mkdir(outDir, { recursive: true });
  await fsp.mkdir(cacheDir, { recursive: true });

  const recipes = await imageRecipes(standinsDir);
  const { key } = await computeKey(recipes);
  if (!opts.force) {
    const existing = await reusable(outDir, key, log);
    if (existing) {
      await cleanUpAfterCrash(cacheDir, outDir, log);
      log(`artifacts in ${outDir} are up to date (key ${key.slice(0, 12)})`);
      return existing;
    }
  }

  const unlock = await lock(cacheDir, log);
  if (!opts.force) {
    // Another process may have built the same key while we waited for the lock.
    const existing = await reusable(outDir, key, () => {}).catch(() => undefined);
    if (existing) {
      await unlock();
      return existing;
    }
  }
  const started = Date.now();
  await removeStale(cacheDir, 'work-', log);
  await removeStale(outDir, '.staging-', log);
  const work = await fsp.mkdtemp(path.join(cacheDir, `work-${process.pid}-`));
  const staging = path.join(outDir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fsp.mkdir(staging);
    const cpTop = path.join(work, 'bundles', ARTIFACT_NAMES.cpTopDir);
    const dpTop = path.join(work, 'bundles', ARTIFACT_NAMES.dpTopDir);
    await writeBundleTree(cpTop, CP_FILES, ['images']);
    await writeBundleTree(dpTop, DP_FILES, ['images', 'gateway_logs']);

    const targets: Array<[ImageRecipe, string]> = [
      [recipes.etcd, path.join(staging, ARTIFACT_NAMES.etcdImage)],
      [recipes.dashboard, path.join(cpTop, ARTIFACT_NAMES.dashboardImageInBundle)],
      [recipes.gateway, path.join(dpTop, ARTIFACT_NAMES.gatewayImageInBundle)],
    ];
    const digests = await withPrivateEngine(
      path.join(cacheDir, 'build-engine'),
      async (engine) => {
        // allSettled: nothing may still write into `work` once the engine stops.
        const results = await Promise.allSettled(
          targets.map(async ([recipe, dest], i) => {
            const root = path.join(work, `rootfs-${i}`);
            await makeRootfs(recipe, root);
            await importRootfs(engine, recipe, root);
            await fsp.rm(root, { recursive: true, force: true });
            const d = await gzipOutputTo(DOCKER_CLI, ['save', recipe.ref], dest, 6, engine.env);
            log(`image ${recipe.ref}: ${(d.size / 1e6).toFixed(1)} MB`);
            return d;
          }),
        );
        return results.map((r) => {
          if (r.status === 'rejected') throw r.reason;
          return r.value;
        });
      },
      log,
    );
    const [etcdD, dashD, gwD] = digests as [ManifestFile, ManifestFile, ManifestFile];

    const [cpD, dpD] = await Promise.all([
      tarGzip(
        path.dirname(cpTop),
        ARTIFACT_NAMES.cpTopDir,
        path.join(staging, ARTIFACT_NAMES.cpBundle),
      ),
      tarGzip(
        path.dirname(dpTop),
        ARTIFACT_NAMES.dpTopDir,
        path.join(staging, ARTIFACT_NAMES.dpBundle),
      ),
    ]);

    const manifest: Manifest = {
      schema: 1,
      recipeVersion: RECIPE_VERSION,
      key,
      builtAt: new Date().toISOString(),
      files: {
        [ARTIFACT_NAMES.etcdImage]: etcdD,
        [ARTIFACT_NAMES.cpBundle]: cpD,
        [ARTIFACT_NAMES.dpBundle]: dpD,
      },
      images: [
        { reference: ETCD_IMAGE, file: ARTIFACT_NAMES.etcdImage, ...etcdD },
        {
          reference: DASHBOARD_IMAGE,
          file: ARTIFACT_NAMES.cpBundle,
          pathInBundle: ARTIFACT_NAMES.dashboardImageInBundle,
          ...dashD,
        },
        {
          reference: GATEWAY_IMAGE,
          file: ARTIFACT_NAMES.dpBundle,
          pathInBundle: ARTIFACT_NAMES.gatewayImageInBundle,
          ...gwD,
        },
      ],
    };

    // The manifest goes last, so a crash never leaves one that vouches for stale files.
    await fsp.rm(path.join(outDir, ARTIFACT_NAMES.manifest), { force: true });
    for (const name of [
      ARTIFACT_NAMES.etcdImage,
      ARTIFACT_NAMES.cpBundle,
      ARTIFACT_NAMES.dpBundle,
    ]) {
      await fsp.rename(path.join(staging, name), path.join(outDir, name));
    }
    const tmpManifest = path.join(staging, ARTIFACT_NAMES.manifest);
    await fsp.writeFile(tmpManifest, JSON.stringify(manifest, null, 2) + '\n');
    await fsp.rename(tmpManifest, path.join(outDir, ARTIFACT_NAMES.manifest));
    log(
      `artifacts built in ${((Date.now() - started) / 1000).toFixed(1)} s (key ${key.slice(0, 12)})`,
    );
    return toArtifacts(manifest, outDir, true);
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
    await fsp.rm(work, { recursive: true, force: true });
    await unlock();
  }
}
