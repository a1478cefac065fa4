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
import { bundleTopDir, composeProject, dashboardDir, findHost, hasRole } from '../commands/layout';
import {
  bundleMarkerPath,
  dashboardConfPath,
  findBundleImagesArgv,
  imageIdsByTag,
  imagesMarkerPath,
  readFileArgv,
  unpackBundleArgv,
  writeImageManifestsArgv,
  writeMarkerArgv,
} from '../commands/files';
import { httpRequest } from '../util/http';
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
  type StepResult,
} from './context';
import { putTlsFiles, syncFile } from './remote-files';

export const DASHBOARD_SERVICE = 'api7-dashboard';
export const DASHBOARD_READY_LINE = 'The manager-api is running successfully!';

/** Unpack a bundle once per sha256 (tar would otherwise reset the config files every time). */
async function unpackBundle(
  ssh: SshSession,
  bundle: FileArtifact,
  installDir: string,
): Promise<boolean> {
  const marker = await ssh.execRaw(readFileArgv(bundleMarkerPath(bundle, installDir)));
  if (marker.code === 0 && marker.stdout.trim() === bundle.sha256) return false;
  await ssh.exec(unpackBundleArgv(bundle, installDir));
  // The images' ids first: a crash before the sha256 marker makes the next run redo both.
  await ssh.exec(writeImageManifestsArgv(bundle, installDir));
  await ssh.exec(writeMarkerArgv(bundle, installDir));
  return true;
}

/** The id of an image on the host, or undefined when it is not there. */
export async function imageId(ssh: SshSession, image: string): Promise<string | undefined> {
  const r = await ssh.execRaw(['docker', 'image', 'inspect', '--format', '{{.Id}}', image]);
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
  const dir = `${installDir}/${bundleTopDir(bundle)}`;
  const markerPath = imagesMarkerPath(bundle, installDir);
  let manifests = await ssh.execRaw(readFileArgv(markerPath));
  if (manifests.code !== 0) {
    // Unpacked by a version of api7-ha that did not note the ids.
    await ssh.exec(writeImageManifestsArgv(bundle, installDir));
    manifests = await ssh.execRaw(readFileArgv(markerPath));
  }
  const want = imageIdsByTag(manifests.stdout).get(image);
  const have = await imageId(ssh, image);
  if (have && (!want || have === want)) return false;
  const files = (await ssh.exec(findBundleImagesArgv(dir))).split('\n').filter(Boolean);
  for (const f of files) {
    heartbeat({ host: ssh.target.name, loading: f.split('/').at(-1)! } satisfies LiveDetail);
    await ssh.exec(['docker', 'load', '-i', f]);
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
    const parts: Array<[FileArtifact, string, string]> = [];
    if (hasRole(host, 'control-plane'))
      parts.push([inv.dashboard.bundle, inv.dashboard.installDir, inv.dashboard.image]);
    if (hasRole(host, 'data-plane'))
      parts.push([inv.gateway.bundle, inv.gateway.installDir, inv.gateway.image]);
    for (const [bundle, installDir, image] of parts) {
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
  const all = parseServiceContainers(await ssh.exec(serviceContainersArgv(service)));
  const others = all.filter((c) => c.project !== project);
  if (others.length) {
    const ids = others.map((o) => o.id);
    await ssh.exec(['docker', 'stop', '-t', '10', ...ids]); // SIGTERM: requests in flight finish
    await ssh.exec(['docker', 'rm', ...ids]);
  }
  const replaced = [...new Set(others.map((o) => o.project))];
  const ids = all.filter((c) => c.project === project).map((c) => c.id);
  const states = ids.length
    ? (await ssh.exec(['docker', 'inspect', '--format', '{{.State.Running}} {{.Image}}', ...ids]))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' '))
    : [];
  const running = states.map(([r]) => r);
  // A container still on an older image of the same tag (a new bundle) is recreated too.
  const stale = ids.length === 1 && states[0]?.[1] !== (await imageId(ssh, image));
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
  const changed = await putTlsFiles(ssh, input, files);
  const vendorCompose = await ssh.exec(readFileArgv(`${dir}/docker-compose.yaml`));
  const overrideFile = `${dir}/${COMPOSE_OVERRIDE_FILE}`;
  const overrideChanged = await syncFile(
    ssh,
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
  );
  return changed || overrideChanged;
}

/**
 * Phases 8 and 10 share this shape: the etcd client TLS files, the config file edited in
 * place, compose up (recreating on a change), wait until ready, then the rolling pause.
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
  },
): Promise<{ changed: boolean; detail: string }> {
  const tlsChanged = await putClientTls(ssh, input, o.dir, o.service);
  const wrote = await syncFile(ssh, o.configFile, o.render);
  const up = await composeUp(
    ssh,
    o.flavor,
    o.dir,
    o.service,
    o.image,
    wrote || tlsChanged,
    composeOverrides(input.inventory, o.dir),
  );
  await o.waitReady(up);
  await pauseAfterRestart(input, up);
  const file = o.configFile.slice(o.configFile.lastIndexOf('/') + 1);
  return {
    changed: wrote || tlsChanged || up.changed,
    detail: `${wrote ? `wrote ${file}, ` : ''}${tlsChanged ? 'wrote etcd TLS files, ' : ''}${composeUpDetail(o.service, up)}`,
  };
}

export async function startDashboard(
  input: DeployInput,
  hostName: string,
  flavor: ComposeFlavor,
): Promise<StepResult> {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  const secrets = {
    dashboardPassword: secret(input, inv.dashboard.password, 'dashboard.password'),
    tokenSecret: secret(input, inv.dashboard.tokenSecret, 'dashboard.tokenSecret'),
    etcdPassword: etcdPassword(input),
  };
  return withHost(input, hostName, async (ssh) => ({
    host: hostName,
    ...(await configureAndStart(ssh, input, {
      flavor,
      dir: dashboardDir(inv),
      service: DASHBOARD_SERVICE,
      image: inv.dashboard.image,
      configFile: dashboardConfPath(inv),
      render: (current) => renderDashboardConf(inv, secrets, current),
      waitReady: (up) =>
        pollUntil(
          `the dashboard on ${hostName} to log "${DASHBOARD_READY_LINE}" and answer /ping`,
          async () => {
            const logs = await ssh.execRaw(['docker', 'logs', up.id]);
            if (!(logs.stdout + logs.stderr).includes(DASHBOARD_READY_LINE)) return undefined;
            const ping = await httpRequest(`http://${host.address}:${inv.dashboard.port}/ping`, {
              timeoutMs: 2000,
            });
            return ping.status === 200 && ping.body.trim() === 'pong' ? true : undefined;
          },
          90_000,
        ),
    })),
  }));
}
