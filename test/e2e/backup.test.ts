// backupEtcd end to end on the deployed lab (auth + mutual TLS, the real etcd 3.4 and
// etcdctl): the manifest against what etcdctl says of the cluster and of the file, the
// file's sha256, nothing left on the host, retention, a Temporal Schedule, the refusal
// during a deploy, and no secret in history (decoded with the key) or the worker's output.
import '../support/quiet';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { listBackups } from '../../src/backup/local-store';
import { startBackup } from '../../src/cli/backup';
import { rootMessage, startDeploy } from '../../src/cli/deploy';
import { decodeJsonPayloads } from '../../src/cli/codec';
import { REMOTE_BACKUP_DIR, SNAPSHOT_CONTAINER } from '../../src/commands/backup';
import type { LoadedInventory } from '../../src/config/load';
import { resolveSecret } from '../../src/config/secrets';
import { projectRoot, temporalBinary } from '../../src/paths';
import { EncryptionCodec, loadCodecKeys } from '../../src/temporal/codec';
import { run, waitFor } from '../../src/util/exec';
import type { BackupInput, BackupResult } from '../../src/workflows/backup';
import type { DeployProgress } from '../../src/workflows/progress';
import { etcdctl } from '../support/cluster';
import { rawHistory } from '../support/history';
import { labSecrets, sharedLab, sshAsRoot } from '../support/lab';
import { testClient, testServer } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker';

const server = testServer(57233);
let lab: LoadedInventory;
let worker: WorkerProcess;
let connection: Connection;
let client: Client;
let dir: string;

const input = (keep = 14): BackupInput => ({
  inventory: { ...lab.inventory, backup: { ...lab.inventory.backup, keep } },
  baseDir: lab.baseDir,
  to: dir,
});

const backup = async (keep?: number): Promise<BackupResult> =>
  (await startBackup(client, input(keep))).result();

async function etcdJson<T>(...args: string[]): Promise<T> {
  const r = await etcdctl(lab, ...args, '-w', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

/** The highest revision any member reports (etcdctl endpoint status). */
async function clusterRevision(): Promise<number> {
  const status = await etcdJson<Array<{ Status: { header: { revision: number } } }>>(
    'endpoint',
    'status',
  );
  return Math.max(...status.map((s) => s.Status.header.revision));
}

async function listRuns(
  query: string,
): Promise<Array<{ execution: { workflowId: string; runId: string } }>> {
  const r = await run([
    temporalBinary,
    'workflow',
    'list',
    '--address',
    server.address,
    '-o',
    'json',
    '-q',
    query,
  ]);
  return JSON.parse(r.stdout || '[]') as Array<{
    execution: { workflowId: string; runId: string };
  }>;
}

/** Every payload of a history JSON, decrypted with the project's key, as one text. */
async function decodedHistory(raw: string): Promise<string> {
  const codec = new EncryptionCodec(loadCodecKeys());
  const root = JSON.parse(raw) as unknown;
  const visit = async (v: unknown): Promise<void> => {
    if (Array.isArray(v)) for (const x of v) await visit(x);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o.payloads))
        o.payloads = await decodeJsonPayloads(
          codec,
          o.payloads as Parameters<typeof decodeJsonPayloads>[1],
        );
      for (const x of Object.values(o)) await visit(x);
    }
  };
  await visit(root);
  // Decoded payload data is base64 of JSON: spell it out so a secret would show.
  return JSON.stringify(root).replace(/"data":"([A-Za-z0-9+/=]+)"/g, (_m, b64: string) =>
    JSON.stringify(Buffer.from(b64, 'base64').toString('utf8')),
  );
}

/** Restore the snapshot into a scratch etcd on loopback and read `key` back through it. */
async function assertRestorable(file: string, key: string, keys: number) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'api7ha-restore-'));
  const dataDir = path.join(scratch, 'data');
  const client = 'http://127.0.0.1:23791';
  const env = { ...process.env, ETCDCTL_API: '3' };
  await run(
    [
      'etcdctl',
      'snapshot',
      'restore',
      file,
      '--name',
      'scratch',
      '--data-dir',
      dataDir,
      '--initial-cluster',
      'scratch=http://127.0.0.1:23801',
      '--initial-advertise-peer-urls',
      'http://127.0.0.1:23801',
    ],
    { env },
  );
  const etcd = spawn(
    'etcd',
    [
      '--name',
      'scratch',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      'http://127.0.0.1:23801',
    ],
    { stdio: 'ignore' },
  );
  try {
    const password = resolveSecret(
      lab.inventory.etcd.auth.password!,
      'etcd.auth.password',
      lab.baseDir,
    );
    const ctl = (...args: string[]) =>
      run(['etcdctl', '--endpoints', client, ...args], { env, allowFailure: true });
    await waitFor(
      'the scratch etcd',
      // With auth on (it came back with the snapshot) the health check needs a login too.
      async () => (await ctl('--user', `root:${password}`, 'endpoint', 'health')).code === 0,
      30_000,
      300,
    );
    const denied = await ctl('get', key);
    assert.notEqual(denied.code, 0, 'auth came back with the snapshot: no login, no read');
    const got = await ctl('--user', `root:${password}`, 'get', key, '--print-value-only');
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /^at \d+/);
    const count = await ctl(
      '--user',
      `root:${password}`,
      'get',
      '',
      '--prefix',
      '--keys-only',
      '-w',
      'json',
    );
    assert.equal((JSON.parse(count.stdout) as { count: number }).count, keys);
  } finally {
    if (etcd.exitCode === null && etcd.signalCode === null) {
      const exited = new Promise((r) => etcd.once('exit', r));
      etcd.kill('SIGTERM');
      await exited;
    }
    rmSync(scratch, { recursive: true, force: true });
  }
}

describe('backupEtcd on the deployed lab', { timeout: 20 * 60_000 }, () => {
  before(async () => {
    lab = await sharedLab();
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-backups-'));
    await server.start();
    worker = await startWorkerProcess(server.address);
    ({ connection, client } = await testClient(server.address));
    // A deployed cluster: a no-op when an earlier test file left one.
    await (await startDeploy(client, { inventory: lab.inventory, baseDir: lab.baseDir })).result();
  });
  after(async () => {
    await run(
      [temporalBinary, 'schedule', 'delete', '--address', server.address, '-s', 'backup-lab'],
      { allowFailure: true },
    );
    await worker?.kill();
    await connection?.close();
    await server.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("takes a snapshot whose manifest matches etcdctl's view of the cluster and of the file", async () => {
    // A key of our own, so the keyspace is not only what the deploy wrote.
    const put = await etcdctl(lab, 'put', '/api7-ha-test/backup-marker', `at ${Date.now()}`);
    assert.equal(put.code, 0, put.stderr);
    const before = await clusterRevision();
    const r = await backup();
    const after = await clusterRevision();
    const m = r.manifest;

    assert.equal(m.cluster, 'lab');
    assert.equal(path.dirname(r.path), dir);
    // The quorum check writes (and deletes) a probe key after `before`.
    assert.ok(m.revision > before && m.revision <= after, `${before} < ${m.revision} <= ${after}`);
    // Live keys at the snapshot's revision, counted by etcdctl.
    const counted = await etcdJson<{ count: number }>(
      'get',
      '',
      '--prefix',
      '--keys-only',
      `--rev=${m.revision}`,
    );
    assert.equal(m.keys, counted.count);
    assert.ok(m.keys >= 2, `the smoke route and the marker at least: ${m.keys}`);
    assert.equal(m.authEnabled, true);
    assert.match(m.etcdVersion, /^3\.4\./);
    assert.deepEqual(
      m.members.map((x) => x.name),
      ['api7-etcd-1', 'api7-etcd-2', 'api7-etcd-3'],
    );

    // The file as sha256sum and etcd's own snapshot status (the machine's etcdctl) see it.
    const sha = (await run(['sha256sum', r.path])).stdout.split(' ')[0];
    assert.equal(sha, m.sha256);
    const status = JSON.parse(
      (
        await run(['etcdctl', 'snapshot', 'status', r.path, '-w', 'json'], {
          env: { ...process.env, ETCDCTL_API: '3' },
        })
      ).stdout,
    ) as { hash: number; revision: number; totalKey: number; totalSize: number };
    assert.deepEqual(status, m.snapshot);
    assert.equal(status.revision, m.revision);

    // It holds the data: restored by the machine's etcdctl and served by its own etcd on
    // loopback, it has the marker (with auth on again: only root with the password reads).
    await assertRestorable(r.path, '/api7-ha-test/backup-marker', m.keys);

    // Beside it, the manifest (the commit point), and nothing half-written.
    const files = readdirSync(dir);
    assert.deepEqual(
      files.sort(),
      [path.basename(r.path), path.basename(r.path).replace(/\.db$/, '.json')].sort(),
    );
    assert.deepEqual(
      listBackups(dir, 'lab').backups.map((b) => b.manifest),
      [m],
    );

    // The host keeps no copy and no container.
    const ssh = await sshAsRoot(lab, m.member.host);
    try {
      assert.equal((await ssh.execRaw(['ls', '-A', REMOTE_BACKUP_DIR])).stdout.trim(), '');
      const ps = await ssh.exec(['docker', 'ps', '-a', '--format', '{{.Names}}']);
      assert.ok(!ps.split('\n').includes(SNAPSHOT_CONTAINER), ps);
    } finally {
      ssh.close();
    }

    // `backup list` shows it, plain in a pipe.
    const listed = await run([
      process.execPath,
      path.join(projectRoot, 'dist/src/client.js'),
      'backup',
      'list',
      '--dir',
      dir,
    ]);
    assert.ok(listed.stdout.includes(m.file), listed.stdout);
    assert.ok(!listed.stdout.includes('\u001b['), 'no escape codes in a pipe');
  });

  it('prunes past backup.keep: the oldest go, leftovers of interrupted runs too, other files stay', async () => {
    const part = path.join(dir, 'lab-20000101T000000Z-r1.db.part');
    const foreign = path.join(dir, 'notes.txt');
    writeFileSync(part, 'half');
    writeFileSync(foreign, 'mine');
    const before = listBackups(dir, 'lab').backups;
    assert.equal(before.length, 1);
    const second = await backup(2);
    assert.deepEqual(
      listBackups(dir, 'lab').backups.map((b) => b.manifest.file),
      [second.manifest.file, before[0]!.manifest.file],
    );
    assert.deepEqual(second.pruned, [path.basename(part)]);
    const third = await backup(2);
    assert.deepEqual(third.pruned, [before[0]!.manifest.file]);
    assert.deepEqual(
      listBackups(dir, 'lab').backups.map((b) => b.manifest.file),
      [third.manifest.file, second.manifest.file],
    );
    assert.ok(readdirSync(dir).includes('notes.txt'));
    assert.ok(
      !readdirSync(dir).some((f) => f.startsWith(before[0]!.manifest.file.replace(/\.db$/, ''))),
    );
  });

  it('is refused while a deploy of the cluster runs', async () => {
    const deploy = await startDeploy(client, { inventory: lab.inventory, baseDir: lab.baseDir });
    // Past its own exclusion check (which would refuse a deploy while a backup runs).
    await waitFor(
      'the deploy to pass validate',
      async () => (await deploy.query<DeployProgress>('progress')).phasesDone.includes('validate'),
      60_000,
      100,
    );
    try {
      await assert.rejects(
        backup(),
        (e: unknown) =>
          e instanceof WorkflowFailedError &&
          /backup refused: a deploy of lab is running/.test(rootMessage(e)),
      );
    } finally {
      await deploy.result();
    }
  });

  it('a schedule runs backupEtcd, is listed by `temporal schedule list`, and prunes past retention', async () => {
    const cli = (...args: string[]) =>
      run([process.execPath, path.join(projectRoot, 'dist/src/client.js'), ...args], {
        env: { ...process.env, TEMPORAL_ADDRESS: server.address },
        allowFailure: true,
      });
    // The lab's inventory with `backup.keep: 2`, beside it (its paths are relative to it).
    const keep2 = path.join(lab.baseDir, 'inventory-backup-keep2.yaml');
    writeFileSync(
      keep2,
      `${readFileSync(path.join(lab.baseDir, 'inventory.yaml'), 'utf8')}backup:\n  keep: 2\n`,
    );
    try {
      const created = await cli(
        'schedule',
        'create',
        '--backup',
        '-i',
        keep2,
        '--to',
        dir,
        '--every',
        '1h',
      );
      assert.equal(created.code, 0, created.stderr);
    } finally {
      rmSync(keep2, { force: true });
    }
    const listed = await run([temporalBinary, 'schedule', 'list', '--address', server.address]);
    assert.match(listed.stdout, /backup-lab/);
    const described = await cli('schedule', 'describe', 'lab', '--backup', '--json');
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /"overlap": "(SKIP|1)"/);
    const before = listBackups(dir, 'lab').backups.map((b) => b.manifest.file);
    assert.equal(before.length, 2, JSON.stringify(before));
    assert.equal((await cli('schedule', 'trigger', 'lab', '--backup')).code, 0);
    await waitFor(
      'a scheduled backup to complete',
      async () =>
        (await listRuns(`TemporalScheduledById = 'backup-lab' AND ExecutionStatus = 'Completed'`))
          .length >= 1,
      180_000,
      1000,
    );
    const after = listBackups(dir, 'lab').backups;
    const fresh = after.filter((b) => !before.includes(b.manifest.file));
    assert.equal(fresh.length, 1, JSON.stringify(after.map((b) => b.manifest.file)));
    assert.match(fresh[0]!.manifest.workflowId, /^backup-lab-scheduled/);
    // keep 2: the new one and the newer of the two before stay; the older went.
    assert.deepEqual(
      after.map((b) => b.manifest.file),
      [fresh[0]!.manifest.file, before[0]],
    );
    assert.equal((await cli('schedule', 'delete', 'lab', '--backup')).code, 0);
    assert.doesNotMatch(
      (await run([temporalBinary, 'schedule', 'list', '--address', server.address])).stdout,
      /backup-lab/,
    );
  });

  it('no secret in any backup history (decrypted with the key) nor in the worker output', async () => {
    const secrets = labSecrets(lab);
    const runs = await listRuns(`WorkflowType = 'backupEtcd'`);
    assert.ok(runs.length >= 5, `backups ran on this server: ${runs.length}`);
    for (const r of runs) {
      const text = await decodedHistory(
        await rawHistory(server.address, r.execution.workflowId, r.execution.runId),
      );
      // The decoding worked: the inventory's plain text is there now.
      assert.ok(text.includes('api7-ha/v1'), `${r.execution.workflowId} was decoded`);
      for (const s of secrets)
        assert.ok(!text.includes(s), `${r.execution.workflowId} holds a secret`);
    }
    const out = worker.output();
    for (const s of secrets) assert.ok(!out.includes(s), 'the worker printed a secret');
  });
});
