// docker compose invocations, for the v2 plugin (`docker compose`) or the v1 tool
// (`docker-compose`), always with an explicit project name so every caller agrees.
export type ComposeFlavor = 'plugin' | 'standalone';

/** `overrides` are compose files given after the vendor's (see etcd-tls.ts). */
export function composeArgv(
  flavor: ComposeFlavor,
  dir: string,
  project: string,
  args: string[],
  overrides: string[] = [],
): string[] {
  const base = flavor === 'plugin' ? ['docker', 'compose'] : ['docker-compose'];
  return [
    ...base,
    '--project-directory',
    dir,
    '-f',
    `${dir}/docker-compose.yaml`,
    ...overrides.flatMap((f) => ['-f', f]),
    '-p',
    project,
    ...args,
  ];
}

/** Compose labels every container with its project and service; this finds ours. */
export const composeContainerArgv = (project: string, service: string) => [
  'docker',
  'ps',
  '-a',
  '--filter',
  `label=com.docker.compose.project=${project}`,
  '--filter',
  `label=com.docker.compose.service=${service}`,
  '--format',
  '{{.ID}}',
];

/** Every container of a service on the host, whatever its project: `<id> <project>` lines. */
export const serviceContainersArgv = (service: string) => [
  'docker',
  'ps',
  '-a',
  '--filter',
  `label=com.docker.compose.service=${service}`,
  '--format',
  '{{.ID}} {{.Label "com.docker.compose.project"}}',
];

/** Parse serviceContainersArgv's output: each container with its compose project. */
export function parseServiceContainers(output: string): Array<{ id: string; project: string }> {
  return output
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter(([id]) => id)
    .map(([id = '', project = '']) => ({ id, project }));
}
