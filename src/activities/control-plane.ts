// Phases 7-8: unpack the bundles, load the images, then configure and start the dashboards.
import { ApplicationFailure } from '@temporalio/common';
import type { FileArtifact } from '../config/inventory';
import { composeArgv, composeContainerArgv, type ComposeFlavor } from '../commands/compose';
import { renderDashboardConf } from '../commands/config-files';
import {
  bundleTopDir,
  composeProject,
  dashboardDir,
  findHost,
  hasRole,
  stagedPath,
} from '../commands/layout';
import { httpRequest } from '../util/http';
import type { SshSession } from '../ssh/session';
import {
  pollUntil,
  secret,
  withHost,
  type DeployInput,
  type StepResult,
  etcdPassword,
} from './context';

export const DASHBOARD_SERVICE = 'api7-dashboard';
export const DASHBOARD_READY_LINE = 'The manager-api is running successfully!';
const BUNDLE_MARKER = '.api7-ha-bundle-sha256';

/** Unpack a bundle once per sha256 (tar would otherwise reset the config files every time). */
async function unpackBundle(
  ssh: SshSession,
  bundle: FileArtifact,
  installDir: string,
): Promise<boolean> {
  const dir = `${installDir}/${bundleTopDir(bundle)}`;
  const marker = await ssh.execRaw(['cat', `${dir}/${BUNDLE_MARKER}`]);
  if (marker.code === 0 && marker.stdout.trim() === bundle.sha256) return false;
  await ssh.exec(['tar', '-xzf', stagedPath(bundle), '-C', installDir]);
  await ssh.exec([
    'sh',
    '-c',
    'printf "%s\\n" "$1" > "$2"',
    'sh',
    bundle.sha256,
    `${dir}/${BUNDLE_MARKER}`,
  ]);
  return true;
}

/** `docker load` the bundle's images/ unless the image is already present. */
async function loadBundleImage(ssh: SshSession, dir: string, image: string): Promise<boolean> {
  if ((await ssh.execRaw(['docker', 'image', 'inspect', '--format', '{{.Id}}', image])).code === 0)
    return false;
  const files = (await ssh.exec(['find', `${dir}/images`, '-maxdepth', '1', '-name', '*.tar.gz']))
    .split('\n')
    .filter(Boolean);
  for (const f of files) await ssh.exec(['docker', 'load', '-i', f]);
  if ((await ssh.execRaw(['docker', 'image', 'inspect', image])).code !== 0)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: no image ${image} in ${dir}/images (found ${files.join(', ') || 'nothing'})`,
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
      if (await loadBundleImage(ssh, `${installDir}/${bundleTopDir(bundle)}`, image))
        done.push(`loaded ${image}`);
    }
    return {
      host: hostName,
      changed: done.length > 0,
      detail: done.join(', ') || 'bundles unpacked and images present',
    };
  });
}

/** Rewrite a config file from its current content; write only when it differs. True when written. */
export async function syncFile(
  ssh: SshSession,
  file: string,
  render: (current: string) => string,
  mode = '600',
): Promise<boolean> {
  const current = await ssh.execRaw(['cat', file]);
  const content = render(current.code === 0 ? current.stdout : '');
  if (current.code === 0 && current.stdout === content) return false;
  await ssh.exec(['sh', '-c', 'umask 077 && cat > "$1" && chmod "$2" "$1"', 'sh', file, mode], {
    stdin: content,
  });
  return true;
}

/**
 * Bring a compose service up. Compose does not notice a changed mounted file, so a
 * changed config recreates the container; an unchanged running one is left alone.
 */
export async function composeUp(
  ssh: SshSession,
  flavor: ComposeFlavor,
  dir: string,
  service: string,
  configChanged: boolean,
): Promise<{ changed: boolean; id: string }> {
  const project = composeProject(dir);
  const ids = (await ssh.exec(composeContainerArgv(project, service))).split('\n').filter(Boolean);
  const running = ids.length
    ? (await ssh.exec(['docker', 'inspect', '--format', '{{.State.Running}}', ...ids]))
        .split('\n')
        .filter(Boolean)
    : [];
  if (ids.length === 1 && running[0] === 'true' && !configChanged)
    return { changed: false, id: ids[0]! };
  await ssh.exec(
    composeArgv(flavor, dir, project, [
      'up',
      '-d',
      ...(configChanged ? ['--force-recreate'] : []),
      service,
    ]),
  );
  const id =
    (await ssh.exec(composeContainerArgv(project, service))).split('\n').filter(Boolean)[0] ?? '';
  return { changed: true, id };
}

export async function startDashboard(
  input: DeployInput,
  hostName: string,
  flavor: ComposeFlavor,
): Promise<StepResult> {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  const dir = dashboardDir(inv);
  const secrets = {
    dashboardPassword: secret(input, inv.dashboard.password, 'dashboard.password'),
    tokenSecret: secret(input, inv.dashboard.tokenSecret, 'dashboard.tokenSecret'),
    etcdPassword: etcdPassword(input),
  };
  return withHost(input, hostName, async (ssh) => {
    const confChanged = await syncFile(ssh, `${dir}/dashboard_conf/conf.yaml`, (current) =>
      renderDashboardConf(inv, secrets, current),
    );
    const up = await composeUp(ssh, flavor, dir, DASHBOARD_SERVICE, confChanged);
    await pollUntil(
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
    );
    return {
      host: hostName,
      changed: confChanged || up.changed,
      detail: `${confChanged ? 'wrote conf.yaml, ' : ''}${up.changed ? 'started' : 'already running'} ${DASHBOARD_SERVICE} (${up.id.slice(0, 12)})`,
    };
  });
}
