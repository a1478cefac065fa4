// The one script through which api7-ha reads and writes files inside its own directories
// on a host (commands/files.ts), run here with the real sh, dd and coreutils: it never
// follows a link, never leaves its directory, and leaves a link's target untouched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  GUARD_REFUSED,
  guardedReadArgv,
  guardedSha256Argv,
  guardedWriteArgv,
} from '../../src/commands/files';

describe('the guarded file script', () => {
  let root: string;
  let bundle: string;
  let victim: string;
  const sh = (argv: string[], input?: string) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'api7ha-guard-'));
    bundle = path.join(root, 'api7-1.0-cp');
    mkdirSync(path.join(bundle, 'conf'), { recursive: true });
    writeFileSync(path.join(bundle, 'conf', 'conf.yaml'), 'vendor: default\n');
    victim = path.join(root, 'victim');
    writeFileSync(victim, 'precious\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  const conf = () => path.join(bundle, 'conf', 'conf.yaml');

  it('reads, hashes and writes a regular file inside its directory', () => {
    assert.deepEqual(sh(guardedReadArgv(bundle, conf())), {
      code: 0,
      stdout: 'vendor: default\n',
      stderr: '',
    });
    assert.match(sh(guardedSha256Argv(bundle, conf())).stdout, /^[0-9a-f]{64} {2}-\n$/);
    assert.equal(sh(guardedWriteArgv(bundle, conf(), '600'), 'ours: true\n').code, 0);
    assert.equal(readFileSync(conf(), 'utf8'), 'ours: true\n');
    assert.equal(statSync(conf()).mode & 0o777, 0o600);
    const fresh = path.join(bundle, 'conf', 'new.yaml');
    assert.equal(sh(guardedWriteArgv(bundle, fresh, '644'), 'x\n').code, 0);
    assert.equal(readFileSync(fresh, 'utf8'), 'x\n');
  });

  it('says a missing file is missing (exit 1, nothing on stderr)', () => {
    const missing = path.join(bundle, 'conf', 'missing.yaml');
    assert.deepEqual(sh(guardedReadArgv(bundle, missing)), { code: 1, stdout: '', stderr: '' });
    assert.equal(sh(guardedSha256Argv(bundle, missing)).code, 1);
  });

  it('refuses a file that is a symbolic link, for every operation, and leaves its target alone', () => {
    const link = path.join(bundle, 'conf', 'linked.yaml');
    symlinkSync(victim, link);
    for (const [argv, input] of [
      [guardedReadArgv(bundle, link)],
      [guardedSha256Argv(bundle, link)],
      [guardedWriteArgv(bundle, link, '600'), 'pwned\n'],
    ] as const) {
      const r = sh([...argv], input);
      assert.equal(r.code, GUARD_REFUSED, argv[4]);
      assert.match(r.stderr, /api7-ha: refusing to \w+ \S+linked\.yaml: it is a symbolic link/);
      assert.equal(r.stdout, '', 'nothing of the target is shown');
    }
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  });

  it('refuses a path through a linked directory, and a linked bundle directory itself', () => {
    const outside = path.join(root, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, path.join(bundle, 'logs'));
    const through = path.join(bundle, 'logs', 'x.yaml');
    const r = sh(guardedWriteArgv(bundle, through, '600'), 'pwned\n');
    assert.equal(r.code, GUARD_REFUSED);
    assert.match(r.stderr, /\S+\/logs is a symbolic link/);
    const linkedBundle = path.join(root, 'linked-bundle');
    symlinkSync(bundle, linkedBundle);
    const r2 = sh(guardedReadArgv(linkedBundle, path.join(linkedBundle, 'conf', 'conf.yaml')));
    assert.equal(r2.code, GUARD_REFUSED);
    assert.match(r2.stderr, /linked-bundle is a symbolic link/);
    assert.deepEqual(spawnSync('ls', ['-A', outside], { encoding: 'utf8' }).stdout, '');
  });

  it('refuses a file outside its directory, a hard-linked file and one that is not regular', () => {
    const r = sh(guardedWriteArgv(bundle, victim, '600'), 'pwned\n');
    assert.equal(r.code, GUARD_REFUSED);
    assert.match(r.stderr, /it is not inside/);
    const hard = path.join(bundle, 'conf', 'hard.yaml');
    linkSync(victim, hard);
    assert.match(sh(guardedWriteArgv(bundle, hard, '600'), 'pwned\n').stderr, /other hard links/);
    const fifo = path.join(bundle, 'conf', 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    assert.match(sh(guardedReadArgv(bundle, fifo)).stderr, /it is not a regular file/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  });

  it('refuses when the directory between is swapped for a link after unpacking', () => {
    renameSync(path.join(bundle, 'conf'), path.join(root, 'conf-real'));
    symlinkSync(path.join(root, 'conf-real'), path.join(bundle, 'conf'));
    const r = sh(guardedWriteArgv(bundle, conf(), '600'), 'pwned\n');
    assert.equal(r.code, GUARD_REFUSED);
    assert.match(r.stderr, /\/conf is a symbolic link/);
    assert.equal(readFileSync(path.join(root, 'conf-real', 'conf.yaml'), 'utf8'), 'ours: true\n');
  });
});
