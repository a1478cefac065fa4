// Looking at a deployed lab with real clients (docker over SSH, etcdctl, curl), and
// wiping the hosts back to "nothing deployed" between tests that need a fresh start.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { etcdTls } from '../../src/commands/etcd-tls';
import type { LoadedInventory } from '../../src/config/load';
import { localFile, resolveSecret } from '../../src/config/secrets';
import { run } from '../../src/util/exec';
import { sshAsRoot, sshTo } from './lab';

export interface ContainerSnapshot {
  name: string;
  id: string;
  startedAt: string;
  running: boolean;
}

/** Every container on every host: id, name, start time (docker inspect over SSH). */
export async function containerSnapshot(
  lab: LoadedInventory,
): Promise<Record<string, ContainerSnapshot[]>> {
  const out: Record<string, ContainerSnapshot[]> = {};
  await Promise.all(
    lab.inventory.hosts.map(async (h) => {
      const s = await sshTo(lab, h.name);
      try {
        const ids = (await s.exec(['docker', 'ps', '-aq'])).split('\n').filter(Boolean);
        const lines = ids.length
          ? (
              await s.exec([
                'docker',
                'inspect',
                '--format',
                '{{.Name}} {{.Id}} {{.State.StartedAt}} {{.State.Running}}',
                ...ids,
              ])
            )
              .split('\n')
              .filter(Boolean)
          : [];
        out[h.name] = lines
          .map((l) => {
            const [name = '', id = '', startedAt = '', running = ''] = l.split(' ');
            return { name: name.replace(/^\//, ''), id, startedAt, running: running === 'true' };
          })
          .sort((a, b) => a.name.localeCompare(b.name));
      } finally {
        s.close();
      }
    }),
  );
  return out;
}

/** etcdctl against the inventory's members, with its TLS files and root password when set. */
export function etcdctl(lab: LoadedInventory, ...args: string[]) {
  const inv = lab.inventory;
  const tls = etcdTls(inv);
  const endpoints = inv.hosts
    .filter((h) => h.roles.includes('etcd'))
    .map((h) => `${tls ? 'https://' : ''}${h.address}:${inv.etcd.clientPort}`);
  const flags = ['--endpoints', endpoints.join(','), '--dial-timeout', '3s'];
  if (tls) {
    const key = path.join(mkdtempSync(path.join(os.tmpdir(), 'api7ha-etcdctl-')), 'client.key');
    writeFileSync(key, `${resolveSecret(tls.clientKey, 'etcd.tls.clientKey', lab.baseDir)}\n`, {
      mode: 0o600,
    });
    flags.push(
      '--cacert',
      localFile(tls.ca, lab.baseDir),
      '--cert',
      localFile(tls.clientCert, lab.baseDir),
      '--key',
      key,
    );
  }
  if (inv.etcd.auth.enabled && inv.etcd.auth.password)
    flags.push(
      '--user',
      `${inv.etcd.auth.username}:${resolveSecret(inv.etcd.auth.password, 'etcd.auth.password', lab.baseDir)}`,
    );
  return run(['etcdctl', ...flags, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    allowFailure: true,
  }).finally(() => {
    const key = flags[flags.indexOf('--key') + 1];
    if (flags.includes('--key') && key) rmSync(path.dirname(key), { recursive: true, force: true });
  });
}

export function curlThroughDataPlane(lab: LoadedInventory) {
  const t = lab.inventory.smokeTest;
  return run(
    [
      'curl',
      '-sS',
      '-m',
      '5',
      '-w',
      '\n%{http_code}',
      '-H',
      `Host: ${t.host}`,
      new URL(t.uri, lab.inventory.loadBalancers.dataPlane).toString(),
    ],
    { allowFailure: true },
  );
}

/** Remove everything a deploy put on the hosts: containers, images, files. */
export async function wipeHosts(lab: LoadedInventory): Promise<void> {
  await Promise.all(
    lab.inventory.hosts.map(async (h) => {
      const s = await sshAsRoot(lab, h.name); // `rm -rf` is in no sudo rule
      try {
        await s.exec([
          'sh',
          '-c',
          'ids=$(docker ps -aq); [ -z "$ids" ] || docker rm -f $ids >/dev/null',
        ]);
        await s.exec([
          'sh',
          '-c',
          'ids=$(docker images -q); [ -z "$ids" ] || docker rmi -f $ids >/dev/null',
        ]);
        await s.exec([
          'sh',
          '-c',
          'docker network prune -f >/dev/null; rm -rf /opt/api7-ha /root/api7-* /usr/local/etcd/*',
        ]);
      } finally {
        s.close();
      }
    }),
  );
}
