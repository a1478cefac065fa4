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
import { restartMarkerPath } from '../commands/files';
import { putTlsFiles, readGuarded, syncFile, writeGuarded, type BeforeWrite } from './remote-files';

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
  /** A restart of a serving container was needed but left to a later call. */
  deferred?: boolean;
}

/**
 * Bring a compose service up. Compose does not notice a changed mounted file, so a
 * changed config recreates the container; an unchanged running one is left alone. The
 * same service from another bundle's project (an upgrade) is stopped first: it holds
 * the ports. With `deferRestart`, a change that would take a serving container down is
 * not made; the result says it is owed.
 */
export async function composeUp(
  ssh: SshSession,
  flavor: ComposeFlavor,
  dir: string,
  service: string,
  image: string,
  configChanged: boolean,
  overrides: string[] = [],
  deferRestart = false,
): Promise<ComposeUpResult> {
  const project = composeProject(dir);
  // One listing gives this bundle's container and those of other bundles' projects, and
  // one inspect their states (in the same order).
  const all = parseServiceContainers(await ssh.exec(serviceContainersArgv(service)));
  const states = all.length
    ? (await ssh.exec(containerStatesArgv(all.map((c) => c.id))))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' '))
    : [];
  const running = (i: number) => states[i]?.[0] === 'true';
  const others = all.filter((c) => c.project !== project);
  const ownIndex = all.map((c, i) => (c.project === project ? i : -1)).filter((i) => i >= 0);
  const ids = ownIndex.map((i) => all[i]!.id);
  // A container still on an older image of the same tag (a new bundle) is recreated too.
  const stale = ids.length === 1 && states[ownIndex[0]!]?.[1] !== (await imageId(ssh, image));
  const ownRunning = ownIndex.some(running);
  const othersRunning = all.some((c, i) => c.project !== project && running(i));
  if (deferRestart && (othersRunning || (ownRunning && (configChanged || stale))))
    return { changed: false, id: ids[0] ?? '', restarted: false, replaced: [], deferred: true };
  if (others.length) {
    const otherIds = others.map((o) => o.id);
    await ssh.exec(stopContainersArgv(otherIds));
    await ssh.exec(removeContainersArgv(otherIds));
  }
  const replaced = [...new Set(others.map((o) => o.project))];
  if (ids.length === 1 && ownRunning && !configChanged && !stale)
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
  return { changed: true, id, restarted: ownRunning || othersRunning, replaced };
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
  beforeWrite?: BeforeWrite,
): Promise<boolean> {
  const files = clientTlsFiles(input.inventory, dir);
  if (!files.length) return false;
  const changed = await putTlsFiles(ssh, input, files, beforeWrite);
  const vendorCompose = await readGuarded(ssh, dir, `${dir}/docker-compose.yaml`);
  if (vendorCompose === undefined)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${dir}/docker-compose.yaml is missing; deploy again to unpack the bundle anew`,
      'ArtifactError',
    );
  const overrideFile = `${dir}/${COMPOSE_OVERRIDE_FILE}`;
  const overrideChanged = await syncFile(
    ssh,
    dir,
    overrideFile,
    (current) => {
      if (current && !current.startsWith(COMPOSE_OVERRIDE_HEADER))
        throw ApplicationFailure.nonRetryable(
          `${ssh.target.name}: ${overrideFile} exists and was not written by api7-ha; etcd.tls needs that file for the certificate mount — move its content into docker-compose.yaml and remove it`,
          'OverrideConflict',
        );
      return renderComposeOverride(service, vendorCompose);
    },
    '644',
    beforeWrite,
  );
  return changed || overrideChanged;
}

/**
 * Phases 8 and 10 share this shape, on one host: the etcd client TLS files, the config file
 * edited in place, compose up (recreating on a change), wait until ready, then the rolling
 * pause. Before the first write a marker notes the restart this change owes, and it is
 * cleared once the container is recreated: a crash in between cannot leave a container
 * running an older config than its file says.
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
    /** Leave a serving container that needs a restart for the rolling pass. */
    deferRestart?: boolean;
  },
): Promise<StepResult> {
  const b = bundled(input.inventory, o.component);
  const configFile = configPath(b);
  return withHost(input, hostName, async (ssh) => {
    const marker = restartMarkerPath(b.dir);
    const owed = Boolean((await readGuarded(ssh, b.dir, marker))?.trim());
    let noted = owed;
    const noteChange = async () => {
      if (noted) return;
      noted = true;
      await writeGuarded(ssh, b.dir, marker, 'config changed; recreate the container\n', '600');
    };
    const tlsChanged = await putClientTls(ssh, input, b.dir, b.composeService, noteChange);
    const wrote = await syncFile(ssh, b.dir, configFile, o.render, '600', noteChange);
    const up = await composeUp(
      ssh,
      o.flavor,
      b.dir,
      b.composeService,
      b.image,
      owed || wrote || tlsChanged,
      composeOverrides(input.inventory, b.dir),
      o.deferRestart,
    );
    const wroteWhat = `${wrote ? `wrote ${b.configFile.slice(b.configFile.lastIndexOf('/') + 1)}, ` : ''}${tlsChanged ? 'wrote etcd TLS files, ' : ''}`;
    if (up.deferred)
      return {
        host: hostName,
        changed: wrote || tlsChanged,
        restartDeferred: true,
        detail: `${wroteWhat}${b.composeService} is serving: its restart waits for the rolling pass`,
      };
    if (noted) await writeGuarded(ssh, b.dir, marker, '', '600');
    await pollUntil(
      o.awaiting,
      async () => ((await o.problem(ssh)) ? undefined : true),
      o.readyWithinMs,
    );
    await pauseAfterRestart(input, up);
    return {
      host: hostName,
      changed: wrote || tlsChanged || up.changed,
      detail: `${wroteWhat}${composeUpDetail(b.composeService, up)}`,
    };
  });
}
