// What preflight runs on a host and how it judges the answers (pure).
export const MIN_DOCKER = [20, 10, 7] as const;
/** The guide: Docker is known not to work on 3.10.0-327 (CentOS 7.2) and older. */
export const BAD_KERNEL_MAX = [3, 10, 0, 327] as const;

export const probes = {
  kernel: ['uname', '-r'],
  dockerVersion: ['docker', 'version', '--format', '{{.Server.Version}}'],
  composePlugin: ['docker', 'compose', 'version', '--short'],
  composeStandalone: ['docker-compose', 'version', '--short'],
  listeningPorts: ['ss', '-Hltn'],
} as const;

/** Probes any user may run: never through sudo, so they need no sudo rule. */
export const UNPRIVILEGED_PROBES: ReadonlySet<keyof typeof probes> = new Set([
  'kernel',
  'listeningPorts',
]);

/** Free space where `dir` will be: its nearest existing ancestor (any user may run it). */
export const diskFreeArgv = (dir: string) => [
  'sh',
  '-c',
  'd="$1"; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d"',
  'df',
  dir,
];

function numbers(v: string): number[] {
  return (v.match(/\d+/g) ?? []).map(Number);
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

export function kernelProblem(release: string): string | undefined {
  const n = numbers(release.split(/[^0-9.-]/)[0] ?? release);
  if (n.length < 2) return `cannot read the kernel version from "${release.trim()}"`;
  if (compare(n, BAD_KERNEL_MAX) <= 0)
    return `kernel ${release.trim()} is known not to work with Docker (the guide needs newer than 3.10.0-327)`;
  return undefined;
}

export function dockerProblem(version: string): string | undefined {
  const n = numbers(version).slice(0, 3);
  if (n.length < 2) return `cannot read the Docker engine version from "${version.trim()}"`;
  if (compare(n, MIN_DOCKER) < 0)
    return `Docker ${version.trim()} is older than ${MIN_DOCKER.join('.')}`;
  return undefined;
}

/** Ports in LISTEN state from `ss -Hltn` (local address is the 4th column). */
export function listeningPorts(ssOutput: string): Set<number> {
  const ports = new Set<number>();
  for (const line of ssOutput.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    const port = local ? Number(local.slice(local.lastIndexOf(':') + 1)) : NaN;
    if (Number.isInteger(port)) ports.add(port);
  }
  return ports;
}

/** Available KiB from `df -Pk` (second line, fourth column). */
export function availableKiB(dfOutput: string): number {
  const cols = dfOutput.trim().split('\n')[1]?.trim().split(/\s+/) ?? [];
  return Number(cols[3] ?? NaN);
}

/** Unpacked bundles and loaded image layers take room beside the tarballs themselves. */
export const DISK_FACTOR = 4;
