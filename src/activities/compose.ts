// A bundle's compose service on a host: bring it up (recreating it when its config
// changed), the etcd client TLS mount, and the shape phases 8 and 10 share.
import { ApplicationFailure } from '@temporalio/common';
import {
  composeArgv,
  composeContainerArgv,
  parseServiceContainers,
  serviceContainersArgv,
  type ComposeFlavor,
} from '../commands/compose';
import {
  composePluginArgv,
  containerStatesArgv,
  removeContainersArgv,
  stopContainersArgv,
} from '../commands/docker';
import {
  clientTlsFiles,
  composeOverrides,
  COMPOSE_OVERRIDE_FILE,
  COMPOSE_OVERRIDE_HEADER,
  renderComposeOverride,
} from '../commands/etcd-tls';
import { composeProject } from '../commands/layout';
import type { SshSession } from '../ssh/session';
import { bundled, configPath } from '../model/components';
import {
  heartbeat,
  pollUntil,
  sleep,
  withHost,
  type DeployInput,
  type StepResult,
} from './context';
import { imageId } from './images';
import { putTlsFiles, readGuardedMany, syncFile, writeGuarded } from './remote-files';

/** Which compose tool a host has (the drills run the guide's `docker compose down/up`). */
export async function composeFlavor(ssh: SshSession): Promise<ComposeFlavor> {
  return (await ssh.execRaw(composePluginArgv())).code === 0 ? 'plugin' : 'standalone';
}

export interface ComposeUpResult {
  changed: boolean;
  id: string;
  /** A running container was recreated or replaced: it was out of its load balancer. */
  restarted: boolean;
  /** Compose projects of older bundles whose container of this service was removed. */
  replaced: string[];
}

/**
 * Bring a compose service up. Compose does not notice a changed mounted file, so a
 * changed config recreates the container; an unchanged running one is left alone. The
 * same service from another bundle's project (an upgrade) is stopped first: it holds
 * the ports.
 */
export async function composeUp(
  ssh: SshSession,
  flavor: ComposeFlavor,
  dir: string,
  service: string,
  image: string,
  configChanged: boolean,
  overrides: string[] = [],
): Promise<ComposeUpResult> {
  const project = composeProject(dir);
  // One listing gives this bundle's container and those of other bundles' projects.
  const [listing, current] = await Promise.all([
    ssh.exec(serviceContainersArgv(service)),
    imageId(ssh, image),
  ]);
  const all = parseServiceContainers(listing);
  const others = all.filter((c) => c.project !== project);
  if (others.length) {
    const ids = others.map((o) => o.id);
    await ssh.exec(stopContainersArgv(ids));
    await ssh.exec(removeContainersArgv(ids));
  }
  const replaced = [...new Set(others.map((o) => o.project))];
  const ids = all.filter((c) => c.project === project).map((c) => c.id);
  const states = ids.length
    ? (await ssh.exec(containerStatesArgv(ids)))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' '))
    : [];
  const running = states.map(([r]) => r);
  // A container still on an older image of the same tag (a new bundle) is recreated too.
  const stale = ids.length === 1 && states[0]?.[1] !== current;
  if (ids.length === 1 && running[0] === 'true' && !configChanged && !stale)
    return { changed: replaced.length > 0, id: ids[0]!, restarted: replaced.length > 0, replaced };
  await ssh.exec(
    composeArgv(
      flavor,
      dir,
      project,
      ['up', '-d', ...(configChanged || stale ? ['--force-recreate'] : []), service],
      overrides,
    ),
  );
  const id =
    (await ssh.exec(composeContainerArgv(project, service))).split('\n').filter(Boolean)[0] ?? '';
  return {
    changed: true,
    id,
    restarted: running.includes('true') || replaced.length > 0,
    replaced,
  };
}

/** After a restart, give the load balancer's health checks time to take the host back. */
export async function pauseAfterRestart(input: DeployInput, up: ComposeUpResult): Promise<void> {
  const ms = input.inventory.deploy.restartPauseSeconds * 1000;
  if (!up.restarted || ms <= 0) return;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    heartbeat();
    await sleep(Math.min(1000, end - Date.now()));
  }
}

/** What composeUp did, for the step's report. */
export function composeUpDetail(service: string, up: ComposeUpResult): string {
  const what = !up.changed ? 'already running' : up.restarted ? 'restarted' : 'started';
  const replaced = up.replaced.length ? `, replacing ${up.replaced.join(', ')}` : '';
  return `${what} ${service} (${up.id.slice(0, 12)})${replaced}`;
}

/**
 * With etcd TLS on: the CA and client certificate in the bundle dir, and the compose
 * file that mounts them into the service's container. True when anything changed.
 */
export async function putClientTls(
  ssh: SshSession,
  input: DeployInput,
  dir: string,
  service: string,
): Promise<boolean> {
  const files = clientTlsFiles(input.inventory, dir);
  if (!files.length) return false;
  const overrideFile = `${dir}/${COMPOSE_OVERRIDE_FILE}`;
  const [changed, [vendorCompose, current]] = await Promise.all([
    putTlsFiles(ssh, input, files),
    readGuardedMany(ssh, [
      { dir, file: `${dir}/docker-compose.yaml` },
      { dir, file: overrideFile },
    ]),
  ]);
  if (vendorCompose === undefined)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${dir}/docker-compose.yaml is missing; deploy again to unpack the bundle anew`,
      'ArtifactError',
    );
  if (current && !current.startsWith(COMPOSE_OVERRIDE_HEADER))
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${overrideFile} exists and was not written by api7-ha; etcd.tls needs that file for the certificate mount — move its content into docker-compose.yaml and remove it`,
      'OverrideConflict',
    );
  const override = renderComposeOverride(service, vendorCompose);
  if (current === override) return changed;
  await writeGuarded(ssh, dir, overrideFile, override, '644');
  return true;
}

/**
 * Phases 8 and 10 share this shape, on one host: the etcd client TLS files, the config file
 * edited in place, compose up (recreating on a change), wait until ready, then the rolling
 * pause.
 */
export async function configureAndStart(
  input: DeployInput,
  hostName: string,
  o: {
    component: 'control-plane' | 'data-plane';
    flavor: ComposeFlavor;
    render: (current: string) => string;
    /** The component's readiness (activities/health.ts): a problem, or undefined once ready. */
    problem: (ssh: SshSession) => Promise<string | undefined>;
    /** What the readiness wait is for, and how long it may take. */
    awaiting: string;
    readyWithinMs: number;
  },
): Promise<StepResult> {
  const b = bundled(input.inventory, o.component);
  const configFile = configPath(b);
  return withHost(input, hostName, async (ssh) => {
    // The TLS files and the config file are independent: looked at side by side.
    const [tlsChanged, wrote] = await Promise.all([
      putClientTls(ssh, input, b.dir, b.composeService),
      syncFile(ssh, b.dir, configFile, o.render),
    ]);
    const up = await composeUp(
      ssh,
      o.flavor,
      b.dir,
      b.composeService,
      b.image,
      wrote || tlsChanged,
      composeOverrides(input.inventory, b.dir),
    );
    await pollUntil(
      o.awaiting,
      async () => ((await o.problem(ssh)) ? undefined : true),
      o.readyWithinMs,
    );
    await pauseAfterRestart(input, up);
    return {
      host: hostName,
      changed: wrote || tlsChanged || up.changed,
      detail: `${wrote ? `wrote ${b.configFile.slice(b.configFile.lastIndexOf('/') + 1)}, ` : ''}${tlsChanged ? 'wrote etcd TLS files, ' : ''}${composeUpDetail(b.composeService, up)}`,
    };
  });
}
