// The command line follows conventions: --version, no ANSI escape codes in pipes or with
// NO_COLOR, the documented exit codes, and --json that parses. The CLI is spawned as a
// user would run it; a pseudo-terminal (util-linux `script`) shows the colours exist.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { CommanderError } from 'commander';
import { EXIT, exitCodeFor, NotFound, RefusedInput } from '../../src/cli/exit';
import { liveText, ProgressPrinter, withLive } from '../../src/cli/follow';
import { richOutput } from '../../src/cli/output';
import { InventoryError } from '../../src/config/load';
import { projectRoot } from '../../src/paths';
import { run } from '../../src/util/exec';
import { initialProgress } from '../../src/workflows/progress';

const cliJs = path.join(projectRoot, 'dist', 'src', 'client.js');
const ESC = '\x1b';
// CI=true makes picocolors colour even into a pipe; the CLI must not.
const baseEnv = { ...process.env, CI: 'true', TERM: 'xterm-256color', NO_COLOR: '' };

const cli = (args: string[], env: NodeJS.ProcessEnv = baseEnv) =>
  run([process.execPath, cliJs, ...args], { env, allowFailure: true });

/** The CLI on a pseudo-terminal: what a person at a terminal would see. */
const onTerminal = (args: string[], env: NodeJS.ProcessEnv = baseEnv) =>
  run(
    [
      'script',
      '-qec',
      [process.execPath, cliJs, ...args].map((a) => `'${a}'`).join(' '),
      '/dev/null',
    ],
    { env, allowFailure: true },
  );

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('command line conventions', () => {
  let dir: string;
  let inventory: string;
  const oneHost = [
    'hosts:',
    '  - name: ha1',
    '    address: 127.0.0.1',
    '    roles: [etcd, control-plane, data-plane]',
    '',
    '',
  ].join('\n');
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-cli-'));
    writeFileSync(path.join(dir, 'id_ed25519'), 'not a key\n');
    writeFileSync(path.join(dir, 'known_hosts'), '');
    // The documented example as a one-host cluster on loopback (a loopback address names
    // no host in a cluster of several) on a port nobody answers on: the host is
    // "unreachable", which `hosts trust` shows as a table with red cells.
    const port = await closedPort();
    inventory = path.join(dir, 'inventory.yaml');
    writeFileSync(
      inventory,
      readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8')
        .replace('file:~/.ssh/api7_ha_ed25519', `file:${dir}/id_ed25519`)
        .replace(/^ {2}port: 22$/m, `  port: ${port}`)
        .replace(/^hosts:\n(?: {2}- [\s\S]*?)(?=^etcd:)/m, oneHost)
        .replace(
          '  clusterToken: etcd-cluster',
          '  clusterToken: etcd-cluster\n  allowSingleMember: true',
        ),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--version prints the version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8'));
    const r = await cli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), version);
  });

  it('help lists the exit codes', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    for (const line of [/0\s+success/, /1\s+failed/, /2\s+refused input/, /3\s+not found/])
      assert.match(r.stdout, line);
  });

  it('a table has colours on a terminal, and no escape code in a pipe or with NO_COLOR', async () => {
    const args = ['hosts', 'trust', '-i', inventory];
    const tty = await onTerminal(args);
    assert.ok(tty.stdout.includes(ESC), `colours on a terminal:\n${tty.stdout}`);
    assert.match(tty.stdout, /unreachable/);

    const piped = await cli(args);
    assert.equal(piped.code, EXIT.failed, piped.stderr);
    assert.match(piped.stdout, /│ ha1\s+│/, 'the table is still drawn, as plain text');
    assert.match(piped.stdout, /unreachable/);
    assert.ok(!piped.stdout.includes(ESC), `no escape code in a pipe:\n${piped.stdout}`);
    assert.ok(!piped.stderr.includes(ESC));

    const noColor = await onTerminal(args, { ...baseEnv, NO_COLOR: '1' });
    assert.match(noColor.stdout, /unreachable/);
    assert.ok(!noColor.stdout.includes(ESC), `no escape code with NO_COLOR:\n${noColor.stdout}`);

    const dumb = await onTerminal(args, { ...baseEnv, TERM: 'dumb' });
    assert.ok(!dumb.stdout.includes(ESC), 'no escape code on TERM=dumb');
  });

  it('hosts trust --json gives one entry per host with its state', async () => {
    const r = await cli(['hosts', 'trust', '-i', inventory, '--json']);
    assert.equal(r.code, EXIT.failed);
    const out = JSON.parse(r.stdout) as {
      hosts: Array<{ host: string; state: string; error?: string }>;
      recorded: number;
    };
    assert.deepEqual(
      out.hosts.map((h) => h.host),
      ['ha1'],
    );
    for (const h of out.hosts) {
      assert.equal(h.state, 'unreachable');
      assert.match(h.error ?? '', /127\.0\.0\.1/);
    }
    assert.equal(out.recorded, 0);
  });

  it('refused input exits 2 and says why, before anything starts', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['status'], /missing required argument 'cluster'/],
      [['status', 'lab', '--bogus'], /unknown option '--bogus'/],
      [['nosuch'], /unknown command 'nosuch'/],
      [['lab', 'up', '--hosts', 'x'], /--hosts must be a whole number/],
      [['deploy', '-i', path.join(dir, 'missing.yaml')], /missing\.yaml/],
      // The example's bundles are not on this machine: refused by the deploy's local checks.
      [['deploy', '-i', inventory], /cannot be deployed/],
      [['verify', '-i', inventory, '--drills', 'bogus'], /unknown drill bogus/],
      [['verify', '-i', inventory, '--json'], /need --follow/],
      [['verify'], /give -i <inventory>/],
      [['verify', '-i', inventory, '--approval-timeout', '5'], /goes with --require-approval/],
      [
        ['verify', '-i', inventory, '--require-approval', '--approval-timeout', '0'],
        /--approval-timeout: must be between 1 and 604800/,
      ],
      [['verify', 'approve', 'Not_A_Cluster'], /not a cluster name/],
      [['verify', 'approve', 'lab', '--reject'], /--reason: a rejection needs a reason/],
      [['verify', 'approve', 'lab', '--as', ''], /--as: the approver identity must not be empty/],
      [['verify', 'approve', 'lab', '--as', 'a\u0007b'], /--as: .*control characters/],
      [['hosts', 'sudoers', '-i', inventory, '--host', 'ha9'], /no host named ha9/],
      [['schedule', 'create', '-i', inventory], /exactly one of --cron/],
      [['codec-server', '--origin', 'not a url'], /not a URL/],
      [['inventory', 'check', '-i', inventory], /cannot be deployed/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, why]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, EXIT.refused, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why, args.join(' '));
      assert.ok(!r.stderr.includes(ESC));
    }
  });

  it('errors map to the documented exit codes', () => {
    assert.equal(exitCodeFor(new RefusedInput('x')), 2);
    assert.equal(exitCodeFor(new InventoryError('inv', ['bad'])), 2);
    assert.equal(exitCodeFor(new CommanderError(1, 'commander.unknownOption', 'x')), 2);
    assert.equal(exitCodeFor(new CommanderError(0, 'commander.version', 'x')), 0);
    assert.equal(exitCodeFor(new NotFound('x')), 3);
    assert.equal(exitCodeFor(new WorkflowNotFoundError('x', 'deploy-x', undefined)), 3);
    assert.equal(exitCodeFor(new ScheduleNotFoundError('x', 'verify-x')), 3);
    assert.equal(exitCodeFor(new Error('ssh: connection refused')), 1);
  });

  it('richOutput: a terminal without NO_COLOR or TERM=dumb only', () => {
    assert.equal(richOutput({ isTTY: true }, { TERM: 'xterm' }), true);
    assert.equal(richOutput({ isTTY: false }, { TERM: 'xterm', CI: 'true' }), false);
    assert.equal(richOutput({ isTTY: true }, { TERM: 'xterm', NO_COLOR: '1' }), false);
    assert.equal(richOutput({ isTTY: true }, { TERM: 'dumb' }), false);
  });
});

describe('deploy --follow progress', () => {
  const progress = () => {
    const p = initialProgress('lab', [
      { name: 'ha4', roles: ['data-plane'] },
      { name: 'ha5', roles: ['data-plane'] },
    ]);
    p.phase = 'ship';
    Object.assign(p.hosts.ha4!, { step: 'ship', status: 'running' });
    Object.assign(p.hosts.ha5!, { step: 'ship', status: 'done', detail: 'all present' });
    return p;
  };

  it('says what an upload or docker load heartbeated', () => {
    assert.equal(
      liveText({ host: 'ha4', file: 'api7-dp.tar.gz', bytes: 12 * 2 ** 20, total: 30 * 2 ** 20 }),
      'uploading api7-dp.tar.gz 40 % (12.0 of 30.0 MiB)',
    );
    assert.equal(liveText({ host: 'ha4', loading: 'gateway.tar' }), 'docker load gateway.tar');
  });

  it('shows live details on running hosts only', () => {
    const live = new Map([
      ['ha4', 'uploading a 40 %'],
      ['ha5', 'stale'],
    ]);
    const p = withLive(progress(), live);
    assert.equal(p.hosts.ha4!.detail, 'uploading a 40 %');
    assert.equal(p.hosts.ha5!.detail, 'all present');
  });

  it('prints each change as a line in a log, and redraws in place on a terminal', () => {
    const lines: string[] = [];
    const plain = new ProgressPrinter(false, (s) => lines.push(s));
    plain.update(withLive(progress(), new Map([['ha4', 'uploading a 10 %']])));
    plain.update(withLive(progress(), new Map([['ha4', 'uploading a 10 %']])));
    plain.update(withLive(progress(), new Map([['ha4', 'uploading a 60 %']])));
    assert.deepEqual(lines, [
      'phase: ship\n',
      '  ha4: ship running — uploading a 10 %\n',
      '  ha5: ship done — all present\n',
      '  ha4: ship running — uploading a 60 %\n',
    ]);
    assert.ok(!lines.join('').includes(ESC));

    const drawn: string[] = [];
    const rich = new ProgressPrinter(true, (s) => drawn.push(s));
    rich.update(progress());
    rich.update(progress());
    assert.match(
      drawn[1]!,
      new RegExp(`^${ESC}\\[\\d+A${ESC}\\[J$`),
      'moves the cursor up to redraw',
    );
  });
});
