// The docker commands api7-ha runs on hosts, besides compose and etcd's own (pure), so
// activities, `plan` and the sudoers rules all use the same command lines.
import type { BundledComponent } from '../model/components';
import { composeProject } from './layout';

/** Running containers matching every `docker ps` filter given (ids, one per line). */
export const runningContainersArgv = (...filters: string[]) => [
  'docker',
  'ps',
  '-q',
  ...filters.flatMap((f) => ['--filter', f]),
];
/** Running containers of a component's compose project and service. */
export const runningServiceArgv = (b: BundledComponent) =>
  runningContainersArgv(
    `label=com.docker.compose.project=${composeProject(b.dir)}`,
    `label=com.docker.compose.service=${b.composeService}`,
  );
export const containerLogsArgv = (id: string) => ['docker', 'logs', id];
/** `<running> <image id>` per container. */
export const containerStatesArgv = (ids: string[]) => [
  'docker',
  'inspect',
  '--format',
  '{{.State.Running}} {{.Image}}',
  ...ids,
];
/** SIGTERM first, so requests in flight finish. */
export const stopContainersArgv = (ids: string[]) => ['docker', 'stop', '-t', '10', ...ids];
export const removeContainersArgv = (ids: string[]) => ['docker', 'rm', ...ids];
export const imageIdArgv = (image: string) => [
  'docker',
  'image',
  'inspect',
  '--format',
  '{{.Id}}',
  image,
];
export const loadImageArgv = (file: string) => ['docker', 'load', '-i', file];
export const pullImageArgv = (image: string) => ['docker', 'pull', image];
/** A stopped container by name (etcd's, which `docker run` made). */
export const startContainerArgv = (name: string) => ['docker', 'start', name];
/** A container by name, running or not (etcd's, replaced with --replace-etcd). */
export const forceRemoveContainerArgv = (name: string) => ['docker', 'rm', '-f', name];
/** Exits 0 when the compose v2 plugin is there. */
export const composePluginArgv = () => ['docker', 'compose', 'version'];
/** All containers (running or not) of a component's compose project and service. */
export const serviceContainersArgv = (b: BundledComponent) => [
  ...runningContainersArgv(
    `label=com.docker.compose.project=${composeProject(b.dir)}`,
    `label=com.docker.compose.service=${b.composeService}`,
  ),
  '-a',
];
/** `<status> <exit code> <restart count>` per container. */
export const containerExitArgv = (ids: string[]) => [
  'docker',
  'inspect',
  '--format',
  '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}',
  ...ids,
];
/** The last lines a container logged. */
export const containerLogTailArgv = (id: string, lines: number) => [
  'docker',
  'logs',
  '--tail',
  String(lines),
  id,
];
