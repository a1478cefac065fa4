// The SSH pool against a lab host's real sshd: one connection reused by the sessions after
// it (the host sees the same client port), shared by many at once within the channel
// bound, closed when idle, dropped when it breaks, never reused across a host key change,
// and a cancelled step stops only its own commands.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { withHost, type DeployInput } from '../../src/activities/context';
import { runWithDeps, type ActivityDeps } from '../../src/activities/deps';
import { RemoteFileFacts } from '../../src/ssh/remote-file-facts';
import { LocalFileFacts } from '../../src/config/file-facts';
import type { Host } from '../../src/config/inventory';
import type { LoadedInventory } from '../../src/config/load';
import { SshPool } from '../../src/ssh/pool';
import { HostKeyError, type SshTarget } from '../../src/ssh/session';
import { sshTarget } from '../../src/ssh/targets';
import { sharedLab } from '../support/lab';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the SSH pool on a lab host', () => {
  let lab: LoadedInventory;
  let host: Host;
  let target: SshTarget;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'api7ha-pool-test-'));
  const pools: SshPool[] = [];
  const pool = (opts: ConstructorParameters<typeof SshPool>[0] = {}) => {
    const p = new SshPool(opts);
    pools.push(p);
    return p;
  };
  /** The client side of the TCP connection a session's commands arrive on, as the host sees it. */
  const clientPort = async (p: SshPool, t: SshTarget = target) => {
    const s = await p.session(t);
    try {
      return (await s.exec(['sh', '-c', 'echo $SSH_CONNECTION'])).split(' ')[1];
    } finally {
      s.close();
    }
  };

  before(async () => {
    lab = await sharedLab();
    host = lab.inventory.hosts.find((h) => h.name === 'ha1')!;
    // As root with the lab key: these commands need no sudo rules.
    target = { ...sshTarget(lab.inventory, host, lab.baseDir), user: 'root', sudo: false };
  });
  after(() => {
    for (const p of pools) p.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reuses one connection for the sessions after it', async () => {
    const p = pool();
    const first = await clientPort(p);
    const second = await clientPort(p);
    assert.ok(first);
    assert.equal(second, first, 'the host saw both sessions on the same TCP connection');
    assert.deepEqual([p.stats.opened, p.stats.reused, p.size], [1, 1, 1]);
  });

  it('shares one connection among many sessions at once, at most `channels` channels at a time', async () => {
    const p = pool({ channels: 4 });
    const t0 = performance.now();
    const ports = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const s = await p.session(target);
        try {
          return (await s.exec(['sh', '-c', 'sleep 0.4; echo $SSH_CONNECTION'])).split(' ')[1];
        } finally {
          s.close();
        }
      }),
    );
    const ms = performance.now() - t0;
    assert.equal(new Set(ports).size, 1, 'all on one connection');
    assert.equal(p.stats.opened, 1);
    // 12 commands of 0.4 s, 4 at a time: three waves at least.
    assert.ok(ms >= 1150, `took ${ms.toFixed(0)} ms, so more than 4 ran at once`);
  });

  it('closes a connection idle for idleMs, and opens a new one after', async () => {
    const p = pool({ idleMs: 300 });
    const first = await clientPort(p);
    assert.equal(p.size, 1);
    await sleep(700);
    assert.equal(p.size, 0, 'the idle connection was closed');
    assert.equal(p.stats.idleClosed, 1);
    const second = await clientPort(p);
    assert.notEqual(second, first, 'a new TCP connection');
    assert.equal(p.stats.opened, 2);
  });

  it('drops a connection that breaks: its sessions fail, the next one gets a new connection', async () => {
    const p = pool();
    const before = await clientPort(p);
    const waiting = await p.session(target);
    const victim = await p.session(target);
    const slow = waiting.exec(['sleep', '5']);
    // The per-connection sshd process is the parent of this shell: killing it cuts the link.
    await victim.execRaw(['sh', '-c', 'kill -9 $PPID']).catch(() => undefined);
    await assert.rejects(slow, /SSH connection lost/);
    waiting.close();
    victim.close();
    assert.equal(p.size, 0, 'the broken connection left the pool');
    assert.equal(p.stats.dropped, 1);
    const after = await clientPort(p);
    assert.notEqual(after, before);
    assert.equal(p.stats.opened, 2);
  });

  it('never reuses a connection across a host key change', async () => {
    const p = pool();
    const first = await clientPort(p);
    // A changed pinned key is another connection, whose handshake refuses the host...
    const wrong = 'SHA256:' + 'D'.repeat(42) + 'A';
    await assert.rejects(
      p.session({ ...target, pinnedHostKey: wrong }),
      (e: unknown) => e instanceof HostKeyError,
    );
    // ...and after a refusal nothing pooled for that address is used again.
    const again = await clientPort(p);
    assert.notEqual(again, first, 'a new connection after the host key was refused');
    assert.equal(p.stats.opened, 3);

    // Checking against known_hosts: a changed file is a new connection too.
    assert.ok(target.knownHostsFile, 'the lab has a known_hosts file');
    const lines = readFileSync(target.knownHostsFile, 'utf8');
    const known = path.join(tmp, 'known_hosts');
    writeFileSync(known, lines);
    const viaFile = { ...target, pinnedHostKey: undefined, knownHostsFile: known };
    const a = await clientPort(p, viaFile);
    assert.equal(await clientPort(p, viaFile), a);
    writeFileSync(known, `# edited\n${lines}`);
    assert.notEqual(
      await clientPort(p, viaFile),
      a,
      'an edited known_hosts means a new connection',
    );
  });

  it('a cancelled step stops its own commands only; the other step on the connection finishes', async () => {
    const p = pool();
    const deps: ActivityDeps = {
      ssh: p,
      localFiles: new LocalFileFacts(),
      remoteFiles: new RemoteFileFacts(),
      temporalClient: () => Promise.reject(new Error('not used')),
    };
    const input: DeployInput = { inventory: lab.inventory, baseDir: lab.baseDir };
    // As root, like the other cases (the lab's ha1 is reached as root anyway).
    input.inventory = structuredClone(lab.inventory);
    const h = input.inventory.hosts.find((x) => x.name === host.name)!;
    h.ssh = { ...h.ssh, user: 'root', sudo: false };
    const step = (argv: string[]) => () =>
      runWithDeps(deps, () => withHost(input, host.name, (ssh) => ssh.exec(argv)));
    const cancelled = new MockActivityEnvironment();
    const other = new MockActivityEnvironment();
    const t0 = performance.now();
    const long = cancelled.run(step(['sleep', '20']));
    const short = other.run(step(['sh', '-c', 'sleep 1.5; echo done; echo $SSH_CONNECTION']));
    await sleep(500);
    assert.equal(p.stats.opened, 1, 'both steps share one connection');
    cancelled.cancel();
    await assert.rejects(long);
    assert.ok(performance.now() - t0 < 5000, 'the cancelled command stopped at once');
    const out = (await short) as string;
    assert.match(out, /^done\n/, 'the other step finished on the shared connection');
    // The cancelled step's connection is not handed to later steps (a hung link may be why).
    const port = out.split('\n')[1]!.split(' ')[1];
    assert.notEqual(await clientPort(p), port);
  });
});
