// Local stand-ins for the artifacts an inventory names, for tests of the checks that run
// on the operator's machine: the two vendor bundles (in the guide's layout, packed with
// the real tar), an etcd image tarball and a real, unencrypted SSH key.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../src/util/exec';

export const BUNDLE_TOPS = ['api7-2.13.2209.1-cp', 'api7-2.13.2209.1-dp'] as const;

/** Writes `<top>.tar.gz` for both bundles, `etcd-3.4.13.tar.gz` and the key `keyName` in `dir`. */
export async function makeLocalArtifacts(dir: string, keyName: string): Promise<void> {
  for (const [top, conf, file] of [
    [BUNDLE_TOPS[0], 'dashboard_conf', 'conf.yaml'],
    [BUNDLE_TOPS[1], 'gateway_conf', 'config.yaml'],
  ] as const) {
    mkdirSync(path.join(dir, top, conf), { recursive: true });
    mkdirSync(path.join(dir, top, 'images'), { recursive: true });
    writeFileSync(path.join(dir, top, 'docker-compose.yaml'), 'services: {}\n');
    writeFileSync(path.join(dir, top, conf, file), 'vendor: default\n');
    await run(['tar', '-czf', path.join(dir, `${top}.tar.gz`), '-C', dir, top]);
  }
  writeFileSync(path.join(dir, 'etcd-3.4.13.tar.gz'), 'not really an image');
  await sshKey(path.join(dir, keyName), '');
}

/** A real ed25519 key (encrypted when `passphrase` is not empty); the checks parse it. */
export const sshKey = (file: string, passphrase: string) =>
  run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', passphrase, '-C', '', '-f', file]);
