// The lab host the inventory reaches as a non-root user with password-less sudo for
// exactly the rules `api7-ha hosts sudoers` prints: real sshd, real sudo (its own
// /etc/passwd and sudoers inside the host only), the deploy's own activity code.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DeployInput } from '../../src/activities/context';
import { preflightHost } from '../../src/activities/preflight';
import { prepareHost } from '../../src/activities/prepare';
import { shipArtifacts } from '../../src/activities/ship';
import { artifactsFor, stagedPath } from '../../src/commands/layout';
import { guardedWriteArgv } from '../../src/commands/files';
import { uploadPaths } from '../../src/commands/staging';
import { renderSudoers } from '../../src/commands/sudo';
import type { FileArtifact, Host } from '../../src/config/inventory';
import type { LoadedInventory } from '../../src/config/load';
import { localFile } from '../../src/config/secrets';
import { projectRoot } from '../../src/paths';
import type { SshSession } from '../../src/ssh/session';
import { RESUME_OVERLAP_BYTES } from '../../src/ssh/sftp-upload';
import { workerRemoteFileFacts } from '../../src/ssh/remote-file-facts';
import { run } from '../../src/util/exec';
import { LAB_SUDO_USER } from '../../lab/layout';
import { SUDO_LOG } from '../../lab/sudo-host';
import { sharedLab, sshAsRoot, sshTo } from '../support/lab';

describe('a lab host reached as a non-root user with sudo', () => {
  let lab: LoadedInventory;
  let host: Host;
  let input: DeployInput;
  /** As the inventory says: the non-root user, privileged commands through `sudo -n`. */
  let s: SshSession;
  /** Lab plumbing: looking behind the deploy's back, cleaning up. */
  let root: SshSession;
  let artifacts: FileArtifact[];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'api7ha-sudo-test-'));

  before(async () => {
    lab = await sharedLab();
    const found = lab.inventory.hosts.find((h) => h.ssh?.sudo);
    assert.ok(found, 'the lab inventory has a host with ssh.sudo');
    host = found;
    input = { inventory: lab.inventory, baseDir: lab.baseDir };
    s = await sshTo(lab, host.name);
    root = await sshAsRoot(lab, host.name);
    artifacts = artifactsFor(lab.inventory, host);
    assert.ok(artifacts.length, `${host.name} has artifacts to ship`);
    // Run on its own, the lab may be fresh: the deploy's directories, made through sudo.
    await prepareHost(input, host.name);
  });
  after(() => {
    s?.close();
    root?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('logs in as the non-root user, and sudo makes it root for the rules only', async () => {
    assert.equal(s.target.user, LAB_SUDO_USER);
    assert.equal(s.target.sudo, true);
    const uid = (await s.exec(['id', '-u'], { privileged: false })).trim();
    assert.match(uid, /^\d+$/);
    assert.notEqual(uid, '0');
    assert.equal((await s.exec(['id', '-un'], { privileged: false })).trim(), LAB_SUDO_USER);
    // Through `sudo -n --`: the host's Docker engine answers.
    assert.match(await s.exec(['docker', 'info', '--format', '{{.ID}}']), /\S/);
  });

  it("has exactly the drop-in `api7-ha hosts sudoers` prints, and the user is the host's alone", async () => {
    const installed = await root.exec(['cat', '/etc/sudoers.d/api7-ha']);
    assert.equal(installed, renderSudoers(lab.inventory, host, LAB_SUDO_USER));
    const cli = await run([
      process.execPath,
      path.join(projectRoot, 'dist/src/client.js'),
      'hosts',
      'sudoers',
      '-i',
      path.join(lab.baseDir, 'inventory.yaml'),
      '--host',
      host.name,
    ]);
    const rules = (t: string) => t.split('\n').filter((l) => !l.startsWith('#'));
    assert.deepEqual(rules(cli.stdout.trimEnd() + '\n'), rules(installed));
    // Neither the machine nor another lab host knows the user.
    assert.ok(!/^api7ops:/m.test(readFileSync('/etc/passwd', 'utf8')), 'not in /etc/passwd');
    const other = await sshAsRoot(lab, lab.inventory.hosts[0]!.name);
    try {
      assert.notEqual((await other.execRaw(['id', LAB_SUDO_USER])).code, 0);
    } finally {
      other.close();
    }
  });

  it('refuses what the rules do not list, also the fixed write script aimed at another file', async () => {
    const evil = '/root/api7-ha-sudo-test-evil';
    for (const argv of [
      ['cat', '/etc/shadow'],
      ['sh', '-c', 'id -u'],
      ['mkdir', '-p', evil],
      guardedWriteArgv('/root', evil, '600'),
      ['install', '-d', '-o', LAB_SUDO_USER, '-m', '0700', evil],
      ['rm', '-rf', '/opt/api7-ha'],
    ]) {
      const r = await s.execRaw(argv, { stdin: 'x' });
      assert.notEqual(r.code, 0, argv.join(' '));
      assert.match(r.stderr, /^sudo: /m, `${argv.join(' ')}: ${r.stderr}`);
    }
    assert.notEqual((await root.execRaw(['test', '-e', evil])).code, 0, `${evil} was not made`);
    assert.equal((await root.execRaw(['test', '-d', '/opt/api7-ha'])).code, 0);
  });

  it('ships through its own upload directory; sudo install puts the file in place as root', async () => {
    const paths = artifacts.map((a) => uploadPaths(a, s.target));
    // A deploy may have shipped them already: start from nothing.
    await root.exec(['rm', '-rf', paths[0]!.incoming!, ...paths.map((u) => u.staged)]);
    const r = await shipArtifacts(input, host.name);
    assert.deepEqual(
      r.files.map((f) => f.action),
      artifacts.map(() => 'uploaded'),
    );
    const size = (a: FileArtifact) => readFileSync(localFile(a.path, lab.baseDir)).length;
    assert.equal(
      r.bytesUploaded,
      artifacts.reduce((n, a) => n + size(a), 0),
    );
    for (const [i, u] of paths.entries()) {
      assert.equal((await root.exec(['stat', '-c', '%U:%G %a', u.staged])).trim(), 'root:root 644');
      assert.equal((await root.exec(['sha256sum', u.staged])).split(' ')[0], artifacts[i]!.sha256);
      assert.notEqual((await root.execRaw(['test', '-e', u.partial])).code, 0, 'partial removed');
    }
    assert.equal(
      (await root.exec(['stat', '-c', '%U %a', paths[0]!.incoming!])).trim(),
      `${LAB_SUDO_USER} 700`,
    );
    // sudo's own log (in the host's /run) names the user and the command it ran as root.
    const log = await root.exec(['cat', SUDO_LOG]);
    assert.match(
      log,
      new RegExp(`${LAB_SUDO_USER} : .*USER=root ;\\s+COMMAND=/usr/bin/install -o root`),
    );
  });

  it('resumes an interrupted upload from the bytes in its own directory', async () => {
    const a = artifacts[artifacts.length - 1]!;
    const u = uploadPaths(a, s.target);
    const data = readFileSync(localFile(a.path, lab.baseDir));
    const half = Math.floor(data.length / 2);
    await root.exec(['rm', '-f', u.staged]);
    // What an interrupted upload leaves: the first half, written by the user itself.
    await s.exec(['sh', '-c', 'cat > "$1"', 'sh', u.partial], {
      stdin: data.subarray(0, half),
      privileged: false,
    });
    const r = await shipArtifacts(input, host.name);
    assert.equal(r.files.find((f) => f.remote === u.staged)?.action, 'resumed');
    // Writes in flight may finish out of order, so the last window below the end is sent again.
    assert.ok(half > RESUME_OVERLAP_BYTES, 'the test file is larger than the overlap');
    assert.equal(r.bytesUploaded, data.length - (half - RESUME_OVERLAP_BYTES));
    assert.equal((await root.exec(['sha256sum', u.staged])).split(' ')[0], a.sha256);
  });

  it('remembers the staged files it checked, and notices one changed on the host', async () => {
    await shipArtifacts(input, host.name); // hashes what it has not seen, or remembers
    const before = workerRemoteFileFacts.stats.remembered;
    const quiet = await shipArtifacts(input, host.name);
    assert.equal(quiet.changed, false, quiet.detail);
    assert.equal(
      workerRemoteFileFacts.stats.remembered - before,
      artifacts.length,
      'no staged file was hashed again',
    );
    // One byte changed in place by root: same size and inode, new mtime and ctime.
    const a = artifacts[0]!;
    const u = uploadPaths(a, s.target);
    await root.exec([
      'sh',
      '-c',
      'printf X | dd of="$1" bs=1 seek=100 conv=notrunc status=none',
      'sh',
      u.staged,
    ]);
    const healed = await shipArtifacts(input, host.name);
    assert.equal(
      healed.files.find((f) => f.remote === u.staged)?.action,
      'uploaded',
      healed.detail,
    );
    assert.equal((await root.exec(['sha256sum', u.staged])).split(' ')[0], a.sha256);
  });

  it('then changes nothing; prepare and preflight work through sudo too', async () => {
    const again = await shipArtifacts(input, host.name);
    assert.equal(again.changed, false, again.detail);
    assert.equal(again.bytesUploaded, 0);
    const prepared = await prepareHost(input, host.name);
    assert.equal(prepared.changed, false, prepared.detail);
    const pre = await preflightHost(input, host.name);
    assert.deepEqual(
      pre.problems.filter((p) => /sudo/.test(p)),
      [],
    );
    assert.match(pre.docker, /^\d+\.\d+/, 'the Docker probe went through sudo');
  });

  it('an artifact the rules do not name: preflight says which rule is missing, ship is refused', async () => {
    const file = path.join(tmp, 'api7-0.0.1-dp.tar.gz');
    const content = randomBytes(64 * 1024);
    writeFileSync(file, content);
    const bundle = { path: file, sha256: createHash('sha256').update(content).digest('hex') };
    const other: DeployInput = {
      ...input,
      inventory: { ...lab.inventory, gateway: { ...lab.inventory.gateway, bundle } },
    };
    try {
      const pre = await preflightHost(other, host.name);
      const problem = pre.problems.find((p) =>
        p.startsWith(`sudo does not allow ${LAB_SUDO_USER}`),
      );
      assert.ok(problem, pre.problems.join('\n'));
      assert.match(problem, /api7-ha hosts sudoers -i <inventory> --host/);
      await assert.rejects(shipArtifacts(other, host.name), /sudo: /);
      assert.notEqual((await root.execRaw(['test', '-e', stagedPath(bundle)])).code, 0);
    } finally {
      await root.execRaw(['rm', '-f', uploadPaths(bundle, s.target).partial]);
    }
  });
});
