// The backup's pure parts and its local files: the remote command builders (no password
// in any argv, the member's certificate with TLS), the sudo rules they give, the
// manifest's schema and names, the retention rule, the directory listing and pruning
// on a real directory, and the inventory's backup fields.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import {
  downloadPath,
  handOverArgv,
  parseSnapshotStatus,
  PASSWORD_FROM_STDIN,
  REMOTE_SNAPSHOT,
  snapshotSaveArgv,
  snapshotStatusArgv,
} from '../../src/commands/backup';
import { findHost } from '../../src/commands/layout';
import { renderSudoers, sudoSections } from '../../src/commands/sudo';
import {
  backupBaseName,
  belongsTo,
  MANIFEST_FORMAT,
  parseManifest,
  planRetention,
  type BackupManifest,
} from '../../src/backup/manifest';
import {
  backupDirFor,
  listBackups,
  pruneBackups,
  writeManifest,
} from '../../src/backup/local-store';
import { DEFAULT_BACKUP_KEEP, type Inventory } from '../../src/config/inventory';
import { InventoryError, validateInventory } from '../../src/config/load';
import { dataDir, projectRoot } from '../../src/paths';
import { run } from '../../src/util/exec';
import { inventory } from '../support/workflow-env';

const plain = inventory();
/** The example with etcd auth and mutual TLS on, as the lab runs. */
function secured(): Inventory {
  const inv = structuredClone(plain);
  inv.etcd.auth = { enabled: true, username: 'root', password: 'env:ETCD_ROOT_PASSWORD' };
  inv.etcd.tls = {
    enabled: true,
    ca: 'pki/ca.crt',
    memberCert: 'pki/{host}.crt',
    memberKey: 'file:pki/{host}.key',
    clientCert: 'pki/client.crt',
    clientKey: 'file:pki/client.key',
    certDir: '/usr/local/etcd/certs',
  };
  return inv;
}

function manifest(over: Partial<BackupManifest> = {}): BackupManifest {
  const createdAt = over.createdAt ?? '2026-12-02T13:05:01.123Z';
  const revision = over.revision ?? 42;
  return {
    format: MANIFEST_FORMAT,
    cluster: 'prod-gw',
    createdAt,
    file: `${backupBaseName(over.cluster ?? 'prod-gw', createdAt, revision)}.db`,
    sha256: 'a'.repeat(64),
    size: 4,
    member: { name: 'api7-etcd-2', host: 'ha2', endpoint: '10.0.0.12:2379' },
    members: [{ name: 'api7-etcd-1', peerUrl: 'http://10.0.0.11:2380' }],
    etcdClusterId: '1234',
    etcdVersion: '3.4.23',
    revision,
    keys: 7,
    snapshot: { hash: 1, revision, totalKey: 30, totalSize: 20480 },
    authEnabled: false,
    workflowId: 'backup-prod-gw',
    ...over,
  };
}

describe('backup command builders', () => {
  it('snapshot save without auth: etcdctl as the entrypoint, the host network, the member URL', () => {
    const argv = snapshotSaveArgv(plain, 'ha2', false);
    assert.equal(argv.slice(0, 3).join(' '), 'docker run --rm');
    assert.ok(argv.includes('--network=host'));
    assert.ok(argv.includes('/opt/api7-ha/backup:/backup'));
    const image = argv.indexOf(plain.etcd.image);
    assert.equal(argv[image - 1], 'etcdctl');
    assert.deepEqual(argv.slice(image + 1), [
      '--endpoints=http://10.0.0.12:2379',
      '--dial-timeout=5s',
      'snapshot',
      'save',
      '/backup/etcd-snapshot.db',
    ]);
    assert.ok(!argv.includes('-i'), 'no stdin without a password');
  });

  it('snapshot save with auth and TLS: the password comes from stdin, never argv; the member certificate', () => {
    const inv = secured();
    const argv = snapshotSaveArgv(inv, 'ha1', true);
    assert.ok(argv.includes('-i'));
    assert.ok(argv.includes('/usr/local/etcd/certs:/etcd_certs:ro'));
    assert.ok(argv.includes(PASSWORD_FROM_STDIN));
    assert.ok(argv.includes('--user=root'));
    assert.ok(argv.includes('--cert=/etcd_certs/member.crt'));
    assert.ok(argv.includes('--key=/etcd_certs/member.key'));
    assert.ok(argv.includes('--cacert=/etcd_certs/ca.crt'));
    assert.ok(argv.includes('--endpoints=https://10.0.0.11:2379'));
    assert.ok(!argv.some((a) => /password|ETCD_ROOT/i.test(a) && a !== PASSWORD_FROM_STDIN));
  });

  it('the stdin script hands etcdctl the password by environment, and its arguments untouched', () => {
    // Run the script itself with a fake etcdctl that prints what it got.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'api7ha-fake-etcdctl-'));
    try {
      writeFileSync(
        path.join(bin, 'etcdctl'),
        '#!/bin/sh\nprintf "%s\\n" "pw=$ETCDCTL_PASSWORD" "$@"\n',
        { mode: 0o755 },
      );
      const r = spawnSync(
        '/bin/sh',
        ['-c', PASSWORD_FROM_STDIN, 'sh', '--user=root', 'a b', '$(x)'],
        { input: 'p@ss w:rd$1\n', env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.trimEnd().split('\n'), [
        'pw=p@ss w:rd$1',
        '--user=root',
        'a b',
        '$(x)',
      ]);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('snapshot status reads the file read-only, as JSON', () => {
    const argv = snapshotStatusArgv(plain);
    assert.ok(argv.includes('/opt/api7-ha/backup:/backup:ro'));
    assert.deepEqual(argv.slice(-4), [
      'snapshot',
      'status',
      '/backup/etcd-snapshot.db',
      '--write-out=json',
    ]);
  });

  it("parses etcdctl's snapshot status and refuses output without its numbers", () => {
    assert.deepEqual(
      parseSnapshotStatus('{"hash":3087462183,"revision":17,"totalKey":25,"totalSize":20480}\n'),
      { hash: 3087462183, revision: 17, totalKey: 25, totalSize: 20480 },
    );
    assert.throws(() => parseSnapshotStatus('Error: snapshot file not found'), /gave no hash/);
    assert.throws(() => parseSnapshotStatus('{"hash":1,"revision":-1}'), /revision/);
  });

  it('with sudo the user downloads its own 0600 copy; as root the file itself', () => {
    assert.equal(downloadPath({ user: 'root', sudo: false }), REMOTE_SNAPSHOT);
    const login = { user: 'api7ops', sudo: true };
    assert.equal(downloadPath(login), '/opt/api7-ha/incoming/api7ops/etcd-snapshot.db');
    assert.deepEqual(handOverArgv(login), [
      'install',
      '-o',
      'api7ops',
      '-m',
      '0600',
      REMOTE_SNAPSHOT,
      '/opt/api7-ha/incoming/api7ops/etcd-snapshot.db',
    ]);
  });

  it('sudo rules: etcd hosts get the BACKUP alias with every argument fixed; other hosts none', () => {
    const rules = (name: string) =>
      sudoSections(plain, findHost(plain, name), 'api7ops')
        .filter((s) => s.name === 'BACKUP')
        .flatMap((s) => s.rules.map((r) => r.argv.join(' ')));
    assert.deepEqual(rules('ha3'), [
      'install -d -m 0700 /opt/api7-ha/backup',
      'sha256sum /opt/api7-ha/backup/etcd-snapshot.db',
      // ha3 gets the etcd tarball, so ship already allows the upload directory.
      'install -o api7ops -m 0600 /opt/api7-ha/backup/etcd-snapshot.db /opt/api7-ha/incoming/api7ops/etcd-snapshot.db',
      'rm -f /opt/api7-ha/backup/etcd-snapshot.db /opt/api7-ha/backup/etcd-snapshot.db.part',
    ]);
    assert.deepEqual(rules('ha5'), []);
    const text = renderSudoers(plain, findHost(plain, 'ha3'), 'api7ops');
    assert.match(text, /API7HA_BACKUP/);
    const visudo = spawnSync('visudo', ['-cf', '-'], { input: text, encoding: 'utf8' });
    if (visudo.error) throw visudo.error;
    assert.equal(visudo.status, 0, visudo.stdout + visudo.stderr);
  });
});

describe('backup manifest', () => {
  it('names sort by time and belong to one cluster', () => {
    assert.equal(
      backupBaseName('prod-gw', '2026-12-02T13:05:01.123Z', 42),
      'prod-gw-20261202T130501Z-r42',
    );
    assert.ok(belongsTo('prod-gw', 'prod-gw-20261202T130501Z-r42.db'));
    assert.ok(belongsTo('prod-gw', 'prod-gw-20261202T130501Z-r42.json.part'));
    assert.ok(!belongsTo('prod', 'prod-gw-20261202T130501Z-r42.db'), 'another cluster');
    assert.ok(!belongsTo('prod-gw', 'prod-gw-notes.db'));
  });

  it('accepts a complete manifest and names the first wrong field', () => {
    assert.deepEqual(parseManifest(manifest()), { ok: true, manifest: manifest() });
    const bad = (v: unknown) => {
      const r = parseManifest(v);
      assert.equal(r.ok, false);
      return r.ok ? '' : r.problem;
    };
    assert.match(bad({ ...manifest(), sha256: 'xyz' }), /^sha256: must be a sha256/);
    assert.match(bad({ ...manifest(), format: 'v0' }), /^format:/);
    assert.match(bad({ ...manifest(), file: '../etc/passwd' }), /^file:/);
    assert.match(bad({ ...manifest(), extra: 1 }), /extra|Unrecognized/);
    const noKeys: Partial<BackupManifest> = manifest();
    delete noKeys.keys;
    assert.match(bad(noKeys), /^keys:/);
    assert.match(bad([]), /\(top level\)/);
  });

  it('retention keeps the newest `keep`, by time then revision', () => {
    const a = manifest({ createdAt: '2026-12-01T00:00:00.000Z', revision: 5 });
    const b = manifest({ createdAt: '2026-12-02T00:00:00.000Z', revision: 9 });
    const c = manifest({ createdAt: '2026-12-02T00:00:00.000Z', revision: 10 });
    const d = manifest({ createdAt: '2026-11-30T00:00:00.000Z', revision: 1 });
    const plan = planRetention([a, b, c, d], 2);
    assert.deepEqual(plan.keep, [c, b]);
    assert.deepEqual(plan.remove, [a, d]);
    assert.deepEqual(planRetention([a], 14), { keep: [a], remove: [] });
  });
});

describe('backup directory', () => {
  const withDir = (fn: (dir: string) => void) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-backup-dir-'));
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const store = (dir: string, m: BackupManifest, bytes = 'snap') => {
    writeFileSync(path.join(dir, m.file), bytes);
    writeManifest(dir, m.file.replace(/\.db$/, ''), { ...m, size: Buffer.byteLength(bytes) });
  };

  it('lists complete backups newest first; leftovers and damaged pairs are named, not counted', () => {
    withDir((dir) => {
      const old = manifest({ createdAt: '2026-12-01T00:00:00.000Z', revision: 3 });
      const fresh = manifest({ createdAt: '2026-12-02T00:00:00.000Z', revision: 8 });
      const short = manifest({ createdAt: '2026-12-03T00:00:00.000Z', revision: 9 });
      store(dir, old);
      store(dir, fresh);
      store(dir, short);
      writeFileSync(path.join(dir, short.file), 'sn'); // truncated after the manifest
      writeFileSync(path.join(dir, 'prod-gw-20261204T000000Z-r10.db.part'), 'half');
      writeFileSync(path.join(dir, 'prod-gw-20261205T000000Z-r11.db'), 'no manifest');
      writeFileSync(path.join(dir, 'prod-gw-20261206T000000Z-r12.json'), '{"format":"v0"}');
      const other = manifest({ cluster: 'other', createdAt: '2026-12-02T00:00:00.000Z' });
      store(dir, other);
      const l = listBackups(dir, 'prod-gw');
      assert.deepEqual(
        l.backups.map((b) => [b.manifest.revision, b.problem]),
        [
          [9, `${short.file} has 2 bytes, the manifest says 4`],
          [8, undefined],
          [3, undefined],
        ],
      );
      assert.deepEqual(l.unusable.map((u) => u.file).sort(), [
        'prod-gw-20261204T000000Z-r10.db.part',
        'prod-gw-20261205T000000Z-r11.db',
        'prod-gw-20261206T000000Z-r12.json',
      ]);
      assert.equal(listBackups(dir).backups.length, 4, 'without a cluster: every cluster');
      assert.deepEqual(listBackups(path.join(dir, 'missing')), { backups: [], unusable: [] });
    });
  });

  it("prunes the cluster's oldest complete backups and our leftovers, and nothing else", () => {
    withDir((dir) => {
      const ms = [1, 2, 3, 4].map((i) =>
        manifest({ createdAt: `2026-12-0${i}T00:00:00.000Z`, revision: i }),
      );
      for (const m of ms) store(dir, m);
      const other = manifest({ cluster: 'other', createdAt: '2026-11-01T00:00:00.000Z' });
      store(dir, other);
      writeFileSync(path.join(dir, 'prod-gw-20261204T000000Z-r10.db.part'), 'half');
      writeFileSync(path.join(dir, 'notes.txt'), 'mine');
      const r = pruneBackups(dir, 'prod-gw', 2);
      assert.equal(r.kept, 2);
      assert.deepEqual(r.removed.sort(), [
        ms[0]!.file,
        ms[1]!.file,
        'prod-gw-20261204T000000Z-r10.db.part',
      ]);
      assert.deepEqual(
        readdirSync(dir).sort(),
        [
          ...[ms[2]!, ms[3]!, other].flatMap((m) => [m.file, m.file.replace(/\.db$/, '.json')]),
          'notes.txt',
        ].sort(),
      );
      assert.deepEqual(
        pruneBackups(dir, 'prod-gw', 2).removed,
        [],
        'a second prune changes nothing',
      );
    });
  });

  it('goes to --to, else backup.dir relative to the inventory, else the data dir', () => {
    const inv = structuredClone(plain);
    assert.equal(backupDirFor(inv, '/ops'), path.join(dataDir, 'backups', inv.cluster));
    assert.equal(backupDirFor(inv, '/ops', '/srv/b'), '/srv/b');
    inv.backup = { dir: 'backups', keep: 3 };
    assert.equal(backupDirFor(inv, '/ops'), '/ops/backups');
  });
});

describe('inventory backup fields', () => {
  const exampleText = readFileSync(
    path.join(projectRoot, 'docs', 'inventory.example.yaml'),
    'utf8',
  );
  const withBackup = (backup: unknown) => ({ ...(parse(exampleText) as object), backup });
  const problems = (backup: unknown): string[] => {
    try {
      validateInventory(withBackup(backup));
      return [];
    } catch (e) {
      assert.ok(e instanceof InventoryError);
      return e.problems;
    }
  };

  it('defaults to keeping 14, in the data dir', () => {
    const inv = validateInventory(parse(exampleText));
    assert.deepEqual(inv.backup, { keep: DEFAULT_BACKUP_KEEP });
    assert.equal(DEFAULT_BACKUP_KEEP, 14);
    assert.deepEqual(validateInventory(withBackup({ dir: '/srv/backups', keep: 3 })).backup, {
      dir: '/srv/backups',
      keep: 3,
    });
  });

  for (const [value, re] of [
    [{ keep: 0 }, /^backup\.keep: must be between 1 and 1000/],
    [{ keep: 1001 }, /^backup\.keep: must be between 1 and 1000/],
    [{ keep: 2.5 }, /^backup\.keep: must be a whole number/],
    [{ keep: '3' }, /^backup\.keep: must be a number/],
    [{ dir: '' }, /^backup\.dir: must not be empty/],
    [{ dir: 'a\nb' }, /^backup\.dir: must not contain NUL or newlines/],
    [{ keeep: 3 }, /^backup\.keeep: is not a known field/],
  ] as const)
    it(`refuses backup ${JSON.stringify(value)} naming the field`, () => {
      const p = problems(value);
      assert.ok(
        p.some((x) => re.test(x)),
        `no problem matches ${re}:\n${p.join('\n')}`,
      );
    });
});

describe('api7-ha backup on the command line', () => {
  const cliJs = path.join(projectRoot, 'dist', 'src', 'client.js');
  // CI=true makes picocolors colour even into a pipe; the CLI must not.
  const env = { ...process.env, CI: 'true', TERM: 'xterm-256color', NO_COLOR: '' };
  const cli = (...args: string[]) =>
    run([process.execPath, cliJs, ...args], { env, allowFailure: true });

  it('backup list: plain text in a pipe, --json that parses, leftovers named', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-backup-cli-'));
    try {
      const m = manifest();
      writeFileSync(path.join(dir, m.file), 'snap');
      writeManifest(dir, m.file.replace(/\.db$/, ''), { ...m, size: 4 });
      writeFileSync(path.join(dir, 'prod-gw-20261204T000000Z-r10.db.part'), 'half');
      const text = await cli('backup', 'list', '--dir', dir);
      assert.equal(text.code, 0, text.stderr);
      assert.ok(!text.stdout.includes('\x1b'), 'no escape codes in a pipe');
      assert.match(text.stdout, new RegExp(`${m.file}.*ok`));
      assert.match(
        text.stdout,
        /not a backup: prod-gw-20261204T000000Z-r10\.db\.part \(an unfinished write\)/,
      );
      const json = await cli('backup', 'list', '--dir', dir, '--json');
      const parsed = JSON.parse(json.stdout) as {
        dir: string;
        backups: Array<{ path: string; manifest: BackupManifest }>;
        unusable: unknown[];
      };
      assert.equal(parsed.dir, dir);
      assert.deepEqual(parsed.backups[0]?.manifest, { ...m, size: 4 });
      assert.equal(parsed.unusable.length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad usage with exit code 2 before connecting to anything', async () => {
    const noInventory = await cli('backup');
    assert.equal(noInventory.code, 2);
    assert.match(noInventory.stderr, /-i <inventory> is required/);
    const both = await cli('backup', 'list', '-i', 'x.yaml', '--dir', '/tmp');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give -i <inventory> or --dir <dir>/);
    const toAlone = await cli(
      'schedule',
      'create',
      '-i',
      path.join(projectRoot, 'docs', 'inventory.example.yaml'),
      '--every',
      '6h',
      '--to',
      '/tmp',
    );
    assert.equal(toAlone.code, 2);
    assert.match(toAlone.stderr, /--to goes with --backup/);
  });
});
