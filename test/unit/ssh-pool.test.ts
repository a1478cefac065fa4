// The SSH pool's bookkeeping with fake connections (the real sshd cases are in
// test/lab/pool.test.ts): what makes a connection the same, opening once for sessions
// that arrive together, idle close, dropping broken and retired connections, shutdown.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { poolKey, SshPool } from '../../src/ssh/pool';
import type { SshConnection, SshTarget } from '../../src/ssh/session';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const target: SshTarget = {
  name: 'ha1',
  address: '10.0.0.1',
  port: 22,
  user: 'api7ops',
  privateKey: 'KEY-A',
  pinnedHostKey: 'SHA256:abc',
  sudo: true,
  jump: [],
};

/** A connection that only records what the pool does with it. */
class FakeConnection {
  ended = false;
  private listeners: Array<(e: Error) => void> = [];
  lost?: Error;
  constructor(readonly target: SshTarget) {}
  onLost(l: (e: Error) => void) {
    this.listeners.push(l);
    return () => {};
  }
  break() {
    this.lost = new Error('gone');
    for (const l of this.listeners) l(this.lost);
  }
  end() {
    this.ended = true;
  }
}

function fakePool(opts: { idleMs?: number; fail?: Error } = {}) {
  const opened: FakeConnection[] = [];
  const pool = new SshPool({
    idleMs: opts.idleMs ?? 60_000,
    open: async (t) => {
      await sleep(5);
      if (opts.fail) throw opts.fail;
      const c = new FakeConnection(t);
      opened.push(c);
      return c as unknown as SshConnection;
    },
  });
  return { pool, opened };
}

describe('poolKey: everything that defines a connection', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-poolkey-'));
  const known = path.join(dir, 'known_hosts');
  writeFileSync(known, 'host1 ssh-ed25519 AAAA\n');
  const base = { ...target, knownHostsFile: known };
  const hop = { ...base, name: 'bastion', address: '10.0.0.9', field: 'ssh.jump[0]' };

  it('is the same for the same settings, and differs when any of them differs', () => {
    assert.equal(poolKey(base), poolKey({ ...base }));
    const variants: SshTarget[] = [
      { ...base, address: '10.0.0.2' },
      { ...base, port: 2222 },
      { ...base, user: 'root' },
      { ...base, privateKey: 'KEY-B' },
      { ...base, pinnedHostKey: 'SHA256:other' },
      { ...base, pinnedHostKey: undefined },
      { ...base, knownHostsFile: undefined },
      { ...base, sudo: false },
      { ...base, jump: [hop] },
      { ...base, jump: [{ ...hop, pinnedHostKey: 'SHA256:new' }] },
      { ...base, jump: [{ ...hop, privateKey: 'KEY-C' }] },
    ];
    const keys = new Set([poolKey(base), ...variants.map(poolKey)]);
    assert.equal(keys.size, variants.length + 1);
  });

  it('follows the contents of known_hosts, and never holds the key in clear', () => {
    const before = poolKey(base);
    writeFileSync(known, 'host1 ssh-ed25519 BBBB\n');
    assert.notEqual(poolKey(base), before);
    assert.match(before, /^[0-9a-f]{64}$/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('SshPool bookkeeping', () => {
  it('opens one connection for sessions that arrive together, and reuses it', async () => {
    const { pool, opened } = fakePool();
    const sessions = await Promise.all([1, 2, 3].map(() => pool.session(target)));
    assert.equal(opened.length, 1);
    for (const s of sessions) s.close();
    (await pool.session(target)).close();
    assert.deepEqual([opened.length, pool.stats.reused, opened[0]!.ended], [1, 3, false]);
    pool.close();
    assert.equal(opened[0]!.ended, true, 'closing the pool ends idle connections');
  });

  it('gives another target its own connection', async () => {
    const { pool, opened } = fakePool();
    (await pool.session(target)).close();
    (await pool.session({ ...target, name: 'ha2', address: '10.0.0.2' })).close();
    assert.equal(opened.length, 2);
    pool.close();
  });

  it('ends a connection after it was idle for idleMs; a session in between keeps it', async () => {
    const { pool, opened } = fakePool({ idleMs: 80 });
    (await pool.session(target)).close();
    await sleep(40);
    const s = await pool.session(target);
    await sleep(120);
    assert.equal(opened[0]!.ended, false, 'in use, so not idle');
    s.close();
    await sleep(150);
    assert.equal(opened[0]!.ended, true);
    assert.equal(pool.size, 0);
    assert.equal(pool.stats.idleClosed, 1);
  });

  it('drops a broken connection at once; the next session opens a new one', async () => {
    const { pool, opened } = fakePool();
    const s = await pool.session(target);
    opened[0]!.break();
    assert.equal(pool.size, 0);
    s.close();
    (await pool.session(target)).close();
    assert.equal(opened.length, 2);
    assert.equal(pool.stats.dropped, 1);
    pool.close();
  });

  it('a retired connection serves its current sessions, no new ones, and ends after the last', async () => {
    const { pool, opened } = fakePool();
    const a = await pool.session(target);
    const b = await pool.session(target);
    pool.retire(a);
    const c = await pool.session(target);
    assert.equal(opened.length, 2, 'a new session after the retirement gets a new connection');
    a.close();
    assert.equal(opened[0]!.ended, false, 'b still uses it');
    b.close();
    assert.equal(opened[0]!.ended, true);
    c.close();
    assert.equal(opened[1]!.ended, false);
    pool.close();
  });

  it('a failed connect is not remembered', async () => {
    const { pool } = fakePool({ fail: new Error('refused') });
    await assert.rejects(pool.session(target), /refused/);
    assert.equal(pool.size, 0);
    await assert.rejects(pool.session(target), /refused/);
    assert.equal(pool.stats.opened, 2);
  });

  it('refuses new sessions once closed; a busy connection ends when its session is done', async () => {
    const { pool, opened } = fakePool();
    const s = await pool.session(target);
    pool.close();
    assert.equal(opened[0]!.ended, false);
    s.close();
    assert.equal(opened[0]!.ended, true);
    await assert.rejects(pool.session(target), /SSH pool is closed/);
  });
});
