// The lab host behind the bastion: its packet filter refuses SSH from the machine
// (OpenSSH and a plain TCP connect both fail), while api7-ha's session through the
// bastion runs commands, uploads over SFTP and uses sudo; both hops' host keys are
// checked, and a bastion that is down fails retryably, naming the hop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { isNonRetryable } from '../../src/activities/context';
import type { Host } from '../../src/config/inventory';
import type { LoadedInventory } from '../../src/config/load';
import { projectRoot } from '../../src/paths';
import { HostKeyError, SshSession } from '../../src/ssh/session';
import { sshTarget } from '../../src/ssh/targets';
import { run, waitFor } from '../../src/util/exec';
import { hostPaths, startSshd, stopSshd } from '../../lab/hosts';
import { labPaths, sshArgs } from '../../lab/lab';
import { LAB_BASTION, labHosts } from '../../lab/layout';
import { sharedLab, sshTo } from '../support/lab';

/** A plain TCP connect: 'open', or the error code that ended it. */
function tcpConnect(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port, timeout: 3000 });
    s.once('connect', () => (s.destroy(), resolve('open')));
    s.once('timeout', () => (s.destroy(), resolve('timeout')));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe('a lab host reachable only through the bastion', () => {
  let lab: LoadedInventory;
  let host: Host;
  let s: SshSession;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'api7ha-bastion-test-'));
  const lp = labPaths();
  // An empty known_hosts file (a device such as /dev/null is refused as one).
  const emptyKnownHosts = path.join(tmp, 'empty_known_hosts');
  writeFileSync(emptyKnownHosts, '');

  before(async () => {
    lab = await sharedLab();
    const found = lab.inventory.hosts.find((h) => h.ssh?.jump?.length);
    assert.ok(found, 'the lab inventory reaches a host through a jump host');
    host = found;
    assert.deepEqual(
      host.ssh!.jump!.map((j) => j.address),
      [LAB_BASTION.address],
    );
    s = await sshTo(lab, host.name);
  });
  after(() => {
    s?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("refuses direct SSH from the machine: OpenSSH and a TCP connect to port 22 both fail, other ports don't care", async () => {
    const direct = await run(
      sshArgs(lp, { ...labHosts(lab.inventory.hosts.length).at(-1)!, behindBastion: false }).concat(
        'true',
      ),
      { allowFailure: true },
    );
    assert.notEqual(direct.code, 0);
    assert.match(direct.stderr, /port 22: Connection refused/);
    assert.equal(await tcpConnect(host.address, 22), 'ECONNREFUSED');
    // The bastion itself, and the other hosts, take SSH straight from the machine.
    assert.equal(await tcpConnect(LAB_BASTION.address, 22), 'open');
    assert.equal(await tcpConnect(lab.inventory.hosts[0]!.address, 22), 'open');
  });

  it('OpenSSH through the bastion gets in, so the filter lets the bastion pass', async () => {
    const viaBastion = await run(
      [...sshArgs(lp, labHosts(lab.inventory.hosts.length).at(-1)!), 'hostname'],
      {
        allowFailure: true,
      },
    );
    assert.equal(viaBastion.code, 0, viaBastion.stderr);
    assert.equal(viaBastion.stdout.trim(), host.name);
  });

  it("api7-ha's session runs commands there, arriving from the bastion's address", async () => {
    assert.equal((await s.exec(['hostname'], { privileged: false })).trim(), host.name);
    // sshd tells the session where the client connected from: the bastion, not the machine.
    const from = (await s.exec(['sh', '-c', 'echo "$SSH_CONNECTION"'], { privileged: false }))
      .trim()
      .split(' ');
    assert.equal(from[0], LAB_BASTION.address);
    assert.equal(from[2], host.address);
  });

  it('uses sudo there as the inventory says', async () => {
    assert.equal(s.target.sudo, true);
    assert.notEqual((await s.exec(['id', '-u'], { privileged: false })).trim(), '0');
    assert.match(await s.exec(['docker', 'info', '--format', '{{.ID}}']), /\S/);
  });

  it('uploads over SFTP through the bastion, byte for byte', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const local = path.join(tmp, 'probe.bin');
    writeFileSync(local, data);
    const remote = `/tmp/api7ha-bastion-probe-${process.pid}`;
    const sftp = await s.sftp();
    try {
      await s.watch(
        new Promise<void>((resolve, reject) =>
          sftp.fastPut(local, remote, (e) => (e ? reject(e) : resolve())),
        ),
      );
    } finally {
      sftp.end();
    }
    const sum = (await s.exec(['sha256sum', remote], { privileged: false })).split(' ')[0];
    assert.equal(sum, createHash('sha256').update(data).digest('hex'));
    await s.exec(['rm', '-f', remote], { privileged: false });
  });

  it("refuses a bastion whose key does not match, naming the hop and both fingerprints; the target's key is checked too", async () => {
    const target = sshTarget(lab.inventory, host, lab.baseDir);
    const wrong = 'SHA256:' + 'C'.repeat(43);
    const real = target.jump[0]!.pinnedHostKey!;
    await assert.rejects(
      SshSession.connect({ ...target, jump: [{ ...target.jump[0]!, pinnedHostKey: wrong }] }),
      (e: unknown) => {
        assert.ok(e instanceof HostKeyError, String(e));
        assert.match(
          e.message,
          /^bastion bastion1 \(10\.213\.0\.10:22\): host key changed: it offered /,
        );
        assert.ok(e.message.includes(real) && e.message.includes(wrong), e.message);
        assert.match(e.message, /hosts\[\d+\]\.ssh\.jump\[0\]\.hostKey/);
        assert.ok(isNonRetryable(e), 'a wrong key is never retried (its type is non-retryable)');
        return true;
      },
    );
    await assert.rejects(
      SshSession.connect({
        ...target,
        jump: [{ ...target.jump[0]!, pinnedHostKey: undefined, knownHostsFile: emptyKnownHosts }],
      }),
      (e: unknown) =>
        e instanceof HostKeyError &&
        /^bastion bastion1 \(10\.213\.0\.10:22\): host key is unknown/.test(e.message),
    );
    // Behind a good bastion, the host's own key is still checked, end to end.
    await assert.rejects(
      SshSession.connect({ ...target, pinnedHostKey: wrong }),
      (e: unknown) =>
        e instanceof HostKeyError &&
        e.message.startsWith(`host key of ${host.name} changed`) &&
        e.message.includes(target.pinnedHostKey!),
    );
  });

  it('a bastion that is down fails retryably, naming the hop; a live session fails fast; it works again once back', async () => {
    const target = sshTarget(lab.inventory, host, lab.baseDir);
    const live = await SshSession.connect(target);
    await stopSshd(LAB_BASTION);
    try {
      await assert.rejects(
        live.exec(['sleep', '1'], { privileged: false }),
        /SSH connection lost/,
        'the open session through the bastion ends with it',
      );
      await assert.rejects(SshSession.connect(target), (e: unknown) => {
        assert.ok(!(e instanceof HostKeyError));
        assert.match(
          (e as Error).message,
          /^bastion bastion1 \(10\.213\.0\.10:22\): .*ECONNREFUSED/,
        );
        assert.ok(!isNonRetryable(e), 'left to Temporal to retry');
        return true;
      });
    } finally {
      live.close();
      startSshd(LAB_BASTION, hostPaths(lp.dir, LAB_BASTION));
    }
    await waitFor(
      'the bastion back',
      async () => (await tcpConnect(LAB_BASTION.address, 22)) === 'open',
      20_000,
      200,
    );
    const again = await SshSession.connect(target);
    try {
      assert.equal((await again.exec(['hostname'], { privileged: false })).trim(), host.name);
    } finally {
      again.close();
    }
  });

  it('hosts trust shows the bastion; behind a bastion nobody vouched for, nothing is fetched until its key is recorded', async () => {
    const doc = parse(readFileSync(path.join(lab.baseDir, 'inventory.yaml'), 'utf8')) as {
      ssh: { privateKey: string; knownHosts: string };
      hosts: Array<{
        name: string;
        ssh?: { hostKey?: string; jump?: Array<{ hostKey?: string }> };
      }>;
    };
    doc.ssh.privateKey = `file:${path.join(lab.baseDir, 'ssh', 'id_ed25519')}`;
    doc.ssh.knownHosts = 'known_hosts';
    for (const h of doc.hosts) {
      delete h.ssh?.hostKey;
      for (const j of h.ssh?.jump ?? []) delete j.hostKey;
    }
    const inventory = path.join(tmp, 'inventory.yaml');
    writeFileSync(inventory, stringify(doc));
    writeFileSync(path.join(tmp, 'known_hosts'), '');
    const trust = (...args: string[]) =>
      run(
        [
          process.execPath,
          path.join(projectRoot, 'dist/src/client.js'),
          'hosts',
          'trust',
          '-i',
          inventory,
          ...args,
        ],
        { allowFailure: true, env: { ...process.env, NO_COLOR: '1' } },
      );
    const bastionKey = lab.inventory.hosts.find((h) => h.name === host.name)!.ssh!.jump![0]!
      .hostKey!;
    const esc = (t: string) => t.replace(/[+/]/g, '\\$&');

    const first = await trust('--write');
    assert.notEqual(first.code, 0, 'a host could not be looked at');
    assert.match(first.stdout, new RegExp(`bastion bastion1.*${esc(bastionKey)}.*unknown`));
    assert.match(first.stdout, new RegExp(`${host.name}.*behind bastion bastion1`));
    assert.doesNotMatch(first.stdout, new RegExp(esc(host.ssh!.hostKey!)));

    const second = await trust('--write');
    assert.match(second.stdout, new RegExp(`bastion bastion1.*${esc(bastionKey)}.*known`));
    assert.match(second.stdout, new RegExp(`${host.name}.*${esc(host.ssh!.hostKey!)}.*unknown`));
    const third = await trust();
    assert.equal(third.code, 0, third.stdout);
    assert.match(third.stdout, new RegExp(`${host.name}.*${esc(host.ssh!.hostKey!)}.*known`));
    // Recorded where OpenSSH looks them up: the bastion and the host behind it.
    for (const address of [LAB_BASTION.address, host.address])
      assert.equal(
        (
          await run(['ssh-keygen', '-F', address, '-f', path.join(tmp, 'known_hosts')], {
            allowFailure: true,
          })
        ).code,
        0,
        `${address} is in known_hosts`,
      );
  });
});
