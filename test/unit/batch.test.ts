// Batched commands (src/commands/batch.ts) run by a real /bin/sh: each command's own
// stdout, stderr and exit code come back, hostile arguments stay arguments, a command
// waits for an earlier one, and a batch cut short is an error, not a wrong answer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { quote } from 'shell-quote';
import {
  BATCH_SKIPPED,
  batchArgv,
  batchMarker,
  parseBatch,
  type BatchLine,
} from '../../src/commands/batch';
import { SshSession, type SshConnection, type SshTarget } from '../../src/ssh/session';

function runBatch(lines: BatchLine[], marker = batchMarker('0123abcd')) {
  const argv = batchArgv(lines, marker);
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    input: 'stdin is not for them',
  });
  return { ...r, results: parseBatch(r.stdout, r.stderr, marker, lines.length) };
}

const line = (...argv: string[]) => ({ line: quote(argv) });

describe('batched commands', () => {
  it('gives each command its own output and exit code, in order', () => {
    const { results } = runBatch([
      line('printf', 'no newline'),
      line('sh', '-c', 'echo out; echo err >&2; exit 3'),
      line('printf', 'two\n\n'),
      line('true'),
      line('cat'),
    ]);
    assert.deepEqual(results, [
      { stdout: 'no newline', stderr: '', code: 0 },
      { stdout: 'out\n', stderr: 'err\n', code: 3 },
      { stdout: 'two\n\n', stderr: '', code: 0 },
      { stdout: '', stderr: '', code: 0 },
      { stdout: '', stderr: '', code: 0 },
    ]);
  });

  it('keeps hostile arguments as arguments', () => {
    const hostile = `'; echo pwned; $(id) \`id\` "\n\\`;
    const { results } = runBatch([line('printf', '%s', hostile), line('echo', 'after')]);
    assert.equal(results[0]!.stdout, hostile);
    assert.equal(results[1]!.stdout, 'after\n');
  });

  it('runs a command that waits for an earlier one only when that one exited 0', () => {
    const { results } = runBatch([
      line('false'),
      { ...line('echo', 'not run'), onlyAfter: 0 },
      line('true'),
      { ...line('echo', 'run'), onlyAfter: 2 },
    ]);
    assert.deepEqual(
      results.map((r) => [r.code, r.stdout]),
      [
        [1, ''],
        [BATCH_SKIPPED, ''],
        [0, ''],
        [0, 'run\n'],
      ],
    );
    assert.throws(() => batchArgv([{ ...line('true'), onlyAfter: 0 }], 'm'), /earlier one/);
  });

  it('is not fooled by output that looks like another nonce', () => {
    const { results } = runBatch([line('printf', `\n${batchMarker('ffff')} 1 0\n`), line('true')]);
    assert.equal(results[0]!.stdout, `\n${batchMarker('ffff')} 1 0\n`);
    assert.equal(results.length, 2);
  });

  it('fails when the batch stopped short (a killed script, a dropped link)', () => {
    const marker = batchMarker('0123abcd');
    const argv = batchArgv([line('echo', 'one'), line('sh', '-c', 'kill -9 $PPID')], marker);
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    assert.throws(() => parseBatch(r.stdout, r.stderr, marker, 2), /stopped before command 2 of 2/);
  });
});

describe('SshSession.execBatch', () => {
  /** A connection whose exec channels run the command line in a local shell, as sshd would. */
  function localConnection(seen: string[]) {
    return {
      target: { name: 'local', sudo: true },
      onLost: () => () => {},
      exec: async (commandLine: string) => {
        seen.push(commandLine);
        const child = spawn('sh', ['-c', commandLine], { stdio: ['pipe', 'pipe', 'pipe'] });
        const channel = Object.assign(new EventEmitter(), {
          stderr: child.stderr,
          end: () => child.stdin.end(),
          close: () => child.kill(),
        });
        child.stdout.on('data', (d: Buffer) => channel.emit('data', d));
        child.on('close', (code) => channel.emit('close', code));
        return channel;
      },
    };
  }

  it('runs each command as it would run alone: root ones through their own sudo, others not', async () => {
    const seen: string[] = [];
    const conn = localConnection(seen);
    const ssh = new SshSession(conn as unknown as SshConnection, () => {}, {
      ...(conn.target as SshTarget),
      jump: [],
    });
    const [root, user, failed] = await ssh.execBatch([
      { argv: ['id', '-u'] },
      { argv: ['printf', '%s', "it's"], privileged: false },
      { argv: ['sh', '-c', 'exit 7'], privileged: false },
    ]);
    assert.equal(seen.length, 1, 'one round trip');
    const script = seen[0]!;
    assert.match(script, /^sh -c /, 'the batch itself runs as the SSH user');
    assert.match(script, /sudo -n -- id -u/);
    assert.doesNotMatch(script, /sudo -n -- printf/);
    assert.equal(root!.stdout.trim(), '0');
    assert.equal(user!.stdout, "it's");
    assert.equal(failed!.code, 7);
  });
});
