// The lab hosts are real: separate sshd (with pinned host keys) and separate Docker engines.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SshSession, HostKeyError } from '../../src/ssh/session';
import { sshTarget } from '../../src/ssh/targets';
import type { LoadedInventory } from '../../src/config/load';
import { sharedLab, sshTo } from '../support/lab';

describe('lab hosts over ssh2 with host-key verification', () => {
  let lab: LoadedInventory;
  const sessions: SshSession[] = [];
  let probeTag: string | undefined;
  before(async () => {
    lab = await sharedLab();
    for (const h of lab.inventory.hosts) sessions.push(await sshTo(lab, h.name));
  });
  after(async () => {
    for (const s of sessions) {
      await s.execRaw(['docker', 'rm', '-f', 'isolation-probe']);
      if (probeTag) await s.execRaw(['docker', 'rmi', probeTag]); // untags; the image stays
      s.close();
    }
  });

  it('each host runs its own Docker engine (distinct engine IDs, own hostname and address)', async () => {
    const ids = new Set<string>();
    for (const s of sessions) {
      const info = JSON.parse(await s.exec(['docker', 'info', '--format', '{{json .}}'])) as {
        ID: string;
        Name: string;
      };
      assert.equal(info.Name, s.target.name, 'docker info reports the host name of the lab host');
      ids.add(info.ID);
      const version = await s.exec(['docker', 'version', '--format', '{{.Server.Version}}']);
      assert.match(version.trim(), /^\d+\.\d+\.\d+/);
      // Any user may list addresses; sudo would refuse it on the host reached without root.
      const addrs = await s.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'], {
        privileged: false,
      });
      assert.ok(
        addrs.includes(`${s.target.address}/`),
        `${s.target.name} has address ${s.target.address}`,
      );
    }
    assert.equal(ids.size, sessions.length, 'every host has a different engine ID');
  });

  it('a container started on one host is not visible from another', async () => {
    const [first, second] = sessions;
    assert.ok(first && second);
    // The etcd image tarball is on no host yet; an image-less container is enough: create from scratch is not
    // possible, so load the etcd image shipped with the lab artifacts over stdin.
    const { readFile } = await import('node:fs/promises');
    const tarball = lab.inventory.etcd.imageTarball;
    assert.ok(tarball, 'the lab inventory names the etcd image tarball');
    await first.exec(['docker', 'load'], { stdin: await readFile(tarball.path) });
    // A tag of our own: other tests may have loaded the etcd image on other hosts.
    const tag = (probeTag = `isolation-probe:${Date.now()}`);
    await first.exec(['docker', 'tag', lab.inventory.etcd.image, tag]);
    await first.exec(['docker', 'create', '--name', 'isolation-probe', tag, '--version']);
    assert.match(
      await first.exec(['docker', 'ps', '-a', '--format', '{{.Names}}']),
      /isolation-probe/,
    );
    assert.doesNotMatch(
      await second.exec(['docker', 'ps', '-a', '--format', '{{.Names}}']),
      /isolation-probe/,
    );
    const r = await second.execRaw(['docker', 'image', 'inspect', tag]);
    assert.notEqual(r.code, 0, 'the image loaded on one host is absent on another');
  });

  it('refuses a host whose key does not match, naming the host and both fingerprints', async () => {
    const host = lab.inventory.hosts[0]!;
    const target = sshTarget(lab.inventory, host, lab.baseDir);
    const wrong = 'SHA256:' + 'A'.repeat(43);
    await assert.rejects(SshSession.connect({ ...target, pinnedHostKey: wrong }), (e: unknown) => {
      assert.ok(e instanceof HostKeyError);
      assert.match(e.message, new RegExp(`host key of ${host.name} changed`));
      assert.ok(e.message.includes(wrong), 'names the expected fingerprint');
      assert.ok(e.message.includes(host.ssh!.hostKey!), 'names the offered fingerprint');
      return true;
    });
  });

  it('refuses a host that is in no known_hosts and not pinned', async () => {
    const host = lab.inventory.hosts[0]!;
    const target = sshTarget(lab.inventory, host, lab.baseDir);
    const empty = path.join(mkdtempSync(path.join(os.tmpdir(), 'api7ha-kh-')), 'known_hosts');
    writeFileSync(empty, '');
    await assert.rejects(
      SshSession.connect({ ...target, pinnedHostKey: undefined, knownHostsFile: empty }),
      (e: unknown) => e instanceof HostKeyError && /is unknown/.test(e.message),
    );
    rmSync(path.dirname(empty), { recursive: true, force: true });
  });

  it('quotes hostile argv so the remote shell never interprets it', async () => {
    const s = sessions[0]!;
    const hostile = '$(touch /tmp/pwned); `id`; echo "x" | cat > /tmp/pwned2 && rm -rf /nope';
    assert.equal(await s.exec(['printf', '%s', hostile]), hostile);
    assert.notEqual((await s.execRaw(['test', '-e', '/tmp/pwned'])).code, 0);
    assert.notEqual((await s.execRaw(['test', '-e', '/tmp/pwned2'])).code, 0);
  });
});
