// Phase 7 and etcd's image: unpack each vendor bundle once, and `docker load` an image only
// when the host lacks it (or has another image under the same tag).
import { ApplicationFailure } from '@temporalio/common';
import type { FileArtifact } from '../config/inventory';
import { findHost } from '../commands/layout';
import { imageIdArgv, loadImageArgv, pullImageArgv } from '../commands/docker';
import {
  bundleMarkerPath,
  findBundleImagesArgv,
  imageIdsByTag,
  imagesMarkerPath,
  readImageManifestsArgv,
  unpackBundleArgv,
} from '../commands/files';
import { bundledOn, bundleDir, bundleTopDir } from '../model/components';
import type { SshSession } from '../ssh/session';
import { heartbeat, withHost, type DeployInput, type LiveDetail, type StepResult } from './context';
import { readGuarded, writeGuarded } from './remote-files';

/** The id of an image on the host, or undefined when it is not there. */
export async function imageId(ssh: SshSession, image: string): Promise<string | undefined> {
  const r = await ssh.execRaw(imageIdArgv(image));
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** `docker load` one image file, telling `deploy --follow` which one. */
async function loadImageFile(ssh: SshSession, file: string): Promise<void> {
  heartbeat({ host: ssh.target.name, loading: file.split('/').at(-1)! } satisfies LiveDetail);
  await ssh.exec(loadImageArgv(file));
}

/** etcd's image: there already, loaded from its shipped tarball, or pulled. */
export async function ensureImage(
  ssh: SshSession,
  image: string,
  tarball?: string,
): Promise<boolean> {
  if ((await imageId(ssh, image)) !== undefined) return false;
  if (!tarball) {
    await ssh.exec(pullImageArgv(image));
    return true;
  }
  await loadImageFile(ssh, tarball);
  if ((await imageId(ssh, image)) === undefined)
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: ${tarball} did not contain image ${image}`,
      'ArtifactError',
    );
  return true;
}

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
  for (const f of files) await loadImageFile(ssh, f);
  const loaded = await imageId(ssh, image);
  if (!loaded || (want && loaded !== want))
    throw ApplicationFailure.nonRetryable(
      `${ssh.target.name}: no image ${image}${want ? ` with id ${want.slice(7, 19)}` : ''} in ${dir}/images (found ${files.join(', ') || 'nothing'})`,
      'ArtifactError',
    );
  return true;
}

/** Phase 7: every bundle of the host's components unpacked, and its image loaded. */
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
