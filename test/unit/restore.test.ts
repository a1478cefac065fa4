// The restore's pure parts and local checks: the etcdctl command (the inventory's names,
// peer URLs, the new token), the data-dir script run for real with sh on a scratch
// directory (moved aside once, a crash at any point finished by running it again), the
// snapshot checks on real files, the "already restored" rule, the sudo rules and the plan.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  alreadyRestored,
  checkSnapshot,
  RESTORE_MARKER_FORMAT,
  type RestoreMarker,
} from '../../src/backup/restore';
import { MANIFEST_FORMAT, type BackupManifest } from '../../src/backup/manifest';
import { findHost } from '../../src/commands/layout';
import { renderPlan } from '../../src/commands/plan';
import { restorePlan } from '../../src/commands/restore-plan';
import {
  DATA_DIR_SCRIPT,
  parseDataDirState,
  restoreToken,
  snapshotRestoreArgv,
} from '../../src/commands/restore';
import { etcdConfigHash } from '../../src/commands/etcd';
import { renderSudoers, sudoSections } from '../../src/commands/sudo';
import { inventory } from '../support/workflow-env';

const inv = inventory();
const sha = (s: string) => spawnSync('sha256sum', { input: s }).stdout.toString().split(' ')[0]!;

function script(op: string, dataDir: string, stdin = '') {
  const r = spawnSync('sh', ['-c', DATA_DIR_SCRIPT, 'sh', op, dataDir], { input: stdin });
  return { code: r.status, out: r.stdout.toString().trim(), err: r.stderr.toString() };
}

describe('restore commands', () => {
  it('etcdctl snapshot restore with the inventory names, peer URLs, the new token, into the side dir', () => {
    const argv = snapshotRestoreArgv(inv, 'ha2', restoreToken(inv, '20261202T170000Z'));
    assert.ok(argv.includes('--name=api7-etcd-2'));
    assert.ok(argv.includes('--initial-advertise-peer-urls=http://10.0.0.12:2380'), argv.join(' '));
    assert.ok(
      argv.includes(
        '--initial-cluster=api7-etcd-1=http://10.0.0.11:2380,api7-etcd-2=http://10.0.0.12:2380,api7-etcd-3=http://10.0.0.13:2380',
      ),
      argv.join(' '),
    );
    assert.ok(
      argv.includes(`--initial-cluster-token=${inv.etcd.clusterToken}-restore-20261202t170000z`),
    );
    assert.ok(argv.includes('--data-dir=/restore/etcd_data.restoring'));
    assert.ok(argv.includes('/usr/local/etcd:/restore'));
    assert.ok(argv.includes('--network=none'));
  });

  it('the token lives in the restored data only: the member config hash stays the same', () => {
    const before = etcdConfigHash(inv, 'ha1');
    restoreToken(inv, '20261202T170000Z');
    assert.equal(etcdConfigHash(inv, 'ha1'), before);
  });

  it('the data-dir script moves the old dir aside once, and a rerun at any point finishes it', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'api7ha-dd-'));
    const d = path.join(root, 'etcd_data');
    mkdirSync(path.join(d, 'member'), { recursive: true });
    writeFileSync(path.join(d, 'member', 'old'), 'old');
    assert.deepEqual(parseDataDirState(script('state', d).out), { present: true });
    // No rebuilt dir yet: refused, and nothing moved.
    assert.equal(script('swap', d, '20261202T170000Z\n').code, 65);
    assert.deepEqual(readdirSync(root), ['etcd_data']);
    mkdirSync(path.join(`${d}.restoring`, 'member'), { recursive: true });
    writeFileSync(path.join(`${d}.restoring`, 'member', 'new'), 'new');
    const first = script('swap', d, '20261202T170000Z\n');
    assert.equal(first.code, 0, first.err);
    assert.equal(first.out, `${d}.before-restore-20261202T170000Z`);
    assert.deepEqual(readdirSync(path.join(d, 'member')), ['new']);
    assert.deepEqual(readdirSync(path.join(first.out, 'member')), ['old']);
    assert.deepEqual(parseDataDirState(script('state', d).out), {
      stamp: '20261202T170000Z',
      present: true,
    });
    // A retry of the same restore (a rebuilt dir made again): the restored dir stays.
    mkdirSync(`${d}.restoring`);
    const again = script('swap', d, '20261202T170000Z\n');
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out, first.out);
    assert.deepEqual(readdirSync(path.join(d, 'member')), ['new']);
    assert.deepEqual(readdirSync(root).sort(), [
      'etcd_data',
      'etcd_data.before-restore-20261202T170000Z',
      'etcd_data.restore-stamp',
    ]);
    // A crash between the stamp and the rename: the rerun moves the rebuilt dir in.
    const root2 = mkdtempSync(path.join(os.tmpdir(), 'api7ha-dd-'));
    const d2 = path.join(root2, 'etcd_data');
    mkdirSync(`${d2}.restoring`);
    writeFileSync(`${d2}.restore-stamp`, '20261202T180000Z\n');
    assert.equal(script('swap', d2, '20261202T180000Z\n').code, 0);
    assert.deepEqual(parseDataDirState(script('state', d2).out), {
      stamp: '20261202T180000Z',
      present: true,
    });
    // A stamp that is not one is refused (it becomes part of a path).
    assert.equal(script('swap', d2, '../x\n').code, 65);
    // clean removes only the rebuilt side dir.
    mkdirSync(`${d2}.restoring`);
    assert.equal(script('clean', d2).code, 0);
    assert.ok(!readdirSync(root2).includes('etcd_data.restoring'));
    assert.ok(readdirSync(root2).includes('etcd_data'));
  });

  it('sudo rules for every restore command, each with fixed arguments', () => {
    const host = findHost(inv, 'ha1');
    const section = sudoSections(inv, host, 'deploy').find((s) => s.name === 'RESTORE');
    assert.ok(section, 'a RESTORE section');
    assert.ok(section.rules.every((r) => !r.anyArgs));
    assert.equal(section.rules.length, 6);
    const text = renderSudoers(inv, host, 'deploy');
    assert.match(text, /API7HA_RESTORE/);
    const visudo = spawnSync('visudo', ['-cf', '-'], { input: text, encoding: 'utf8' });
    if (visudo.error) throw visudo.error;
    assert.equal(visudo.status, 0, visudo.stdout + visudo.stderr);
    assert.equal(
      sudoSections(inv, findHost(inv, 'ha4'), 'deploy').some((s) => s.name === 'RESTORE'),
      false,
      'a gateway host has no etcd data to restore',
    );
  });
});

function manifestFor(cluster: string, content: string): BackupManifest {
  return {
    format: MANIFEST_FORMAT,
    cluster,
    createdAt: '2026-12-02T13:00:00.000Z',
    file: `${cluster}-20261202T130000Z-r17.db`,
    sha256: sha(content),
    size: Buffer.byteLength(content),
    member: { name: 'api7-etcd-2', host: 'ha2', endpoint: '10.0.0.12:2379' },
    members: [],
    etcdClusterId: '99',
    etcdVersion: '3.4.23',
    revision: 17,
    keys: 5,
    snapshot: { hash: 1, revision: 17, totalKey: 30, totalSize: 20480 },
    authEnabled: true,
    workflowId: 'backup-x',
  };
}

function backupFile(m: BackupManifest, content: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-rs-'));
  const file = path.join(dir, m.file);
  writeFileSync(file, content);
  writeFileSync(file.replace(/\.db$/, '.json'), JSON.stringify(m));
  return file;
}

describe('restore checks', () => {
  const cluster = inv.cluster;

  it('accepts a sound backup of this cluster (warning when the members differ)', async () => {
    const m = manifestFor(cluster, 'snapshot bytes');
    const c = await checkSnapshot(inv, backupFile(m, 'snapshot bytes'));
    assert.equal(c.manifest.sha256, m.sha256);
    assert.match(c.warnings[0] ?? '', /restored onto the inventory's/);
  });

  it('refuses a wrong sha256, another cluster, a missing manifest, naming --snapshot', async () => {
    const m = manifestFor(cluster, 'snapshot bytes');
    await assert.rejects(
      checkSnapshot(inv, backupFile(m, 'snapshot bytez')),
      /--snapshot: .* has sha256 .* its manifest says/,
    );
    const other = manifestFor('elsewhere', 'snapshot bytes');
    await assert.rejects(
      checkSnapshot(inv, backupFile(other, 'snapshot bytes')),
      /a backup of cluster "elsewhere"/,
    );
    const lone = path.join(mkdtempSync(path.join(os.tmpdir(), 'api7ha-rs-')), 'x.db');
    writeFileSync(lone, 'x');
    await assert.rejects(checkSnapshot(inv, lone), /--snapshot: its manifest .* does not exist/);
  });

  it('already restored only when every marker names the snapshot and the live cluster is the one it made', () => {
    const marker = (member: string, over: Partial<RestoreMarker> = {}): RestoreMarker => ({
      format: RESTORE_MARKER_FORMAT,
      cluster,
      sha256: 'a'.repeat(64),
      revision: 17,
      stamp: '20261202T170000Z',
      workflowId: 'restore-x',
      member,
      etcdClusterId: 'c1',
      memberIds: ['1', '2', '3'],
      ...over,
    });
    const live = { etcdClusterId: 'c1', memberIds: ['3', '2', '1'] };
    const three = ['m1', 'm2', 'm3'].map((m) => marker(m));
    assert.equal(alreadyRestored('a'.repeat(64), three, live).yes, true);
    assert.equal(alreadyRestored('b'.repeat(64), three, live).yes, false);
    assert.equal(alreadyRestored('a'.repeat(64), three, undefined).yes, false);
    assert.equal(
      alreadyRestored('a'.repeat(64), three, { etcdClusterId: 'c2', memberIds: ['1', '2', '3'] })
        .yes,
      false,
    );
    assert.equal(
      alreadyRestored('a'.repeat(64), [...three.slice(0, 2), undefined], live).yes,
      false,
    );
    const unfinished = [...three.slice(0, 2), marker('m3', { memberIds: undefined })];
    assert.equal(alreadyRestored('a'.repeat(64), unfinished, live).yes, false);
  });

  it('the plan shows the commands per host and never a secret', () => {
    const m = manifestFor(cluster, 'x');
    const text = renderPlan(restorePlan(inv, '/backups/x.db', m));
    assert.match(text, /== ha1[\s\S]*snapshot restore/);
    assert.match(text, /== ha4[\s\S]*--force-recreate/);
    assert.match(text, /before-restore-<stamp>/);
    assert.doesNotMatch(text, /password/i);
  });
});
