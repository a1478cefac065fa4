// Phases 7-8: unpack the bundles, load the images, then configure and start the dashboards.
import { ApplicationFailure } from '@temporalio/common';
import type { FileArtifact } from '../config/inventory';
import {
  composeArgv,
  composeContainerArgv,
  parseServiceContainers,
  serviceContainersArgv,
  type ComposeFlavor,
} from '../commands/compose';
import { renderDashboardConf } from '../commands/config-files';
import {
  clientTlsFiles,
  composeOverrides,
  COMPOSE_OVERRIDE_FILE,
  COMPOSE_OVERRIDE_HEADER,
  renderComposeOverride,
} from '../commands/etcd-tls';
import { composeProject, findHost } from '../commands/layout';
import {
  containerStatesArgv,
  imageIdArgv,
  loadImageArgv,
  removeContainersArgv,
  stopContainersArgv,
} from '../commands/docker';
import { bundled, bundledOn, bundleDir, bundleTopDir, configPath } from '../model/components';
import {
  bundleMarkerPath,
  findBundleImagesArgv,
  imageIdsByTag,
  imagesMarkerPath,
  readImageManifestsArgv,
  restartMarkerPath,
  unpackBundleArgv,
} from '../commands/files';
import type { SshSession } from '../ssh/session';
import {
  etcdPassword,
  heartbeat,
  pollUntil,
  secret,
  sleep,
  withHost,
  type DeployInput,
  type LiveDetail,
  type StartOptions,
  type StepResult,
} from './context';
import { dashboardProblem } from './health';
import { putTlsFiles, readGuarded, syncFile, writeGuarded, type BeforeWrite } from './remote-files';

/** The vendor's dashboard takes tens of seconds to come up on a loaded host. */
const DASHBOARD_START_MS = 90_000;

/** Unpack a bundle once per sha256 (tar would otherwise reset the config files every time). */
async function unpackBundle(
  ssh: SshSession,
  bundle: FileArtifact,
  installDir: string,
): Promise<boolean> {
  const dir = bundleDir(bundle, installDir);
  const marker = await readGuarded(ssh, dir, bundleMarkerPath(bundle, installDir));
  if (marker?.trim() === bundle.sha256) return false;
  await ssh.exec(unpackBundleArgv(bundle, installDir));
  // The images' ids first: a crash before the sha256 marker makes the next run redo both.
  await noteImageManifests(ssh, bundle, installDir);
  await writeGuarded(ssh, dir, bundleMarkerPath(bundle, installDir), `${bundle.sha256}\n`, '644');
  return true;
}

/** Note the `docker save` manifests of the bundle's images beside it; returns them. */
async function noteImageManifests(
  ssh: SshSession,
  bundle: FileArtifact,
  installDir: string,
): Promise<string> {
  const manifests = await ssh.exec(readImageManifestsArgv(bundle, installDir));
  await writeGuarded(
    ssh,
    bundleDir(bundle, installDir),
    imagesMarkerPath(bundle, installDir),
    manifests,
    '644',
  );
  return manifests;
}

/** The id of an image on the host, or undefined when it is not there. */
export async function imageId(ssh: SshSession, image: string): Promise<string | undefined> {
  const r = await ssh.execRaw(imageIdArgv(image));
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * `docker load` the bundle's images/ unless the image is there with the id the bundle
 * has for that tag: a new bundle may carry a new image under the same tag.
 */
async function loadBundleImage(
  ssh: SshSession,
  bundle: FileArtifact,
  installDir: string,
  image: string,
): Promise<boolean> {
  const dir = bundleDir(bundle, installDir);
  // Missing when unpacked by a version of api7-ha that did not note the ids.
  const manifests =
    (await readGuarded(ssh, dir, imagesMarkerPath(bundle, installDir))) ??
    (await noteImageManifests(ssh, bundle, installDir));
  const want = imageIdsByTag(manifests).get(image);
  const have = await imageId(ssh, image);
  if (have && (!want || have === want)) return false;
  const files = (await ssh.exec(findBundleImagesArgv(dir))).split('\n').filter(Boolean);
  for (const f of files) {
    heartbeat({ host: ssh.target.name, loading: f.split('/').at(-1)! } satisfies LiveDetail);
    await ssh.exec(loadImageArgv(f));
  }
  const loaded = await imageId(ssh, image);
  if (!loaded || (want && loaded !== want))
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: no image ${image}${want ? ` with id ${want.slice(7, 19)}` : ''} in ${dir}/images (found ${files.join(', ') || 'nothing'})`,
      'ArtifactError',
    );
  return true;
}

export async function loadImages(input: DeployInput, hostName: string): Promise<StepResult> {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  return withHost(input, hostName, async (ssh) => {
    const done: string[] = [];
    for (const { bundle, installDir, image } of bundledOn(inv, host)) {
      if (await unpackBundle(ssh, bundle, installDir))
        done.push(`unpacked ${bundleTopDir(bundle)}`);
      if (await loadBundleImage(ssh, bundle, installDir, image)) done.push(`loaded ${image}`);
    }
    return {
      host: hostName,
      changed: done.length > 0,
      detail: done.join(', ') || 'bundles unpacked and images present',
    };
  });
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
 * Phases 8 and 10 share this shape: the etcd client TLS files, the config file edited in
 * place, compose up (recreating on a change), wait until ready, then the rolling pause.
 * Before the first write a marker notes the restart this change owes, and it is cleared
 * once the container is recreated: a crash in between cannot leave a container running
 * an older config than its file says.
 */
export async function configureAndStart(
  ssh: SshSession,
  input: DeployInput,
  o: {
    flavor: ComposeFlavor;
    dir: string;
    service: string;
    image: string;
    configFile: string;
    render: (current: string) => string;
    waitReady: (up: ComposeUpResult) => Promise<unknown>;
    deferRestart?: boolean;
  },
): Promise<Omit<StepResult, 'host'>> {
  const marker = restartMarkerPath(o.dir);
  const owed = Boolean((await readGuarded(ssh, o.dir, marker))?.trim());
  let noted = owed;
  const noteChange = async () => {
    if (noted) return;
    noted = true;
    await writeGuarded(ssh, o.dir, marker, 'config changed; recreate the container\n', '600');
  };
  const tlsChanged = await putClientTls(ssh, input, o.dir, o.service, noteChange);
  const wrote = await syncFile(ssh, o.dir, o.configFile, o.render, '600', noteChange);
  const up = await composeUp(
    ssh,
    o.flavor,
    o.dir,
    o.service,
    o.image,
    owed || wrote || tlsChanged,
    composeOverrides(input.inventory, o.dir),
    o.deferRestart,
  );
  const file = o.configFile.slice(o.configFile.lastIndexOf('/') + 1);
  const wroteWhat = `${wrote ? `wrote ${file}, ` : ''}${tlsChanged ? 'wrote etcd TLS files, ' : ''}`;
  if (up.deferred)
    return {
      changed: wrote || tlsChanged,
      restartDeferred: true,
      detail: `${wroteWhat}${o.service} is serving: its restart waits for the rolling pass`,
    };
  if (noted) await writeGuarded(ssh, o.dir, marker, '', '600');
  await o.waitReady(up);
  await pauseAfterRestart(input, up);
  return {
    changed: wrote || tlsChanged || up.changed,
    detail: `${wroteWhat}${composeUpDetail(o.service, up)}`,
  };
}

export async function startDashboard(
  input: DeployInput,
  hostName: string,
  flavor: ComposeFlavor,
  options: StartOptions = {},
): Promise<StepResult> {
  const inv = input.inventory;
  const dashboard = bundled(inv, 'control-plane');
  const secrets = {
    dashboardPassword: secret(input, inv.dashboard.password, 'dashboard.password'),
    tokenSecret: secret(input, inv.dashboard.tokenSecret, 'dashboard.tokenSecret'),
    etcdPassword: etcdPassword(input),
  };
  return withHost(input, hostName, async (ssh) => ({
    host: hostName,
    ...(await configureAndStart(ssh, input, {
      flavor,
      dir: dashboard.dir,
      service: dashboard.composeService,
      image: dashboard.image,
      configFile: configPath(dashboard),
      render: (current) => renderDashboardConf(inv, secrets, current),
      deferRestart: options.deferRestart,
      waitReady: () =>
        pollUntil(
          `the dashboard on ${hostName} to be ready`,
          async () => ((await dashboardProblem(ssh, input, hostName)) ? undefined : true),
          DASHBOARD_START_MS,
        ),
    })),
  }));
}
