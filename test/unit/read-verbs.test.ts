// Every read verb of the CLI, pointed at a file that is no regular file or far too big
// (as the inventory, or as a file the inventory names), stops within seconds with a
// message that names the field and the file — never an errno, a library message or a
// stack trace. Runs the built CLI as an operator would; touches no host and no server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/paths';

const CLI = path.join(projectRoot, 'dist', 'src', 'client.js');
const VERBS = [
  ['inventory', 'check'],
  ['plan'],
  ['hosts', 'sudoers'],
  ['hosts', 'trust'],
  ['deploy'],
  ['verify'],
] as const;
const BOUND_MS = 8000;

describe('read verbs on hostile files', () => {
  let dir: string;
  const f = (n: string) => path.join(dir, n);
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-verbs-'));
    assert.equal(spawnSync('mkfifo', [f('fifo')]).status, 0);
    mkdirSync(f('a-dir'));
    writeFileSync(f('big'), '');
    truncateSync(f('big'), 1024 ** 3);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function cli(args: string[], env: Record<string, string> = {}) {
    const started = Date.now();
    const r = spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      timeout: BOUND_MS * 2,
      // No Temporal server is running on these ports: the verbs must stop before they ask.
      env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', ...env },
    });
    const took = Date.now() - started;
    const out = `${r.stdout}${r.stderr}`;
    assert.ok(took < BOUND_MS, `${args.join(' ')} took ${took} ms`);
    assert.notEqual(r.status, 0, `${args.join(' ')} must fail: ${out}`);
    assert.ok(!/\n\s+at |\bE[A-Z]{3,}\b|Error: /.test(out), `no stack, errno or raw error: ${out}`);
    return out;
  }

  for (const verb of VERBS)
    it(`${verb.join(' ')} -i <FIFO | /dev/zero | directory | 1 GiB file>`, () => {
      for (const [file, why] of [
        [f('fifo'), /is a named pipe \(FIFO\)/],
        ['/dev/zero', /is a kernel pseudo-file/],
        [f('a-dir'), /is a directory/],
        [f('big'), /is larger than 1 MiB/],
      ] as const) {
        const out = cli([...verb, '-i', file]);
        assert.match(out, why);
        assert.ok(out.includes(file), `names the file: ${out}`);
      }
    });

  it('the files an inventory names: key, known_hosts, bundle', () => {
    const example = readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8');
    const write = (name: string, text: string) => (writeFileSync(f(name), text), f(name));
    const env = { API7_DASHBOARD_PASSWORD: 'x', API7_DASHBOARD_TOKEN_SECRET: 'y' };
    const keyFifo = write(
      'key-fifo.yaml',
      example.replace('file:~/.ssh/api7_ha_ed25519', `file:${f('fifo')}`),
    );
    for (const verb of [['inventory', 'check'], ['deploy'], ['verify']])
      assert.match(
        cli([...verb, '-i', keyFifo], env),
        /ssh\.privateKey: \S+fifo is a named pipe \(FIFO\), not a regular file/,
      );
    const knownZero = write(
      'known-zero.yaml',
      example.replace('knownHosts: known_hosts', 'knownHosts: /dev/zero'),
    );
    assert.match(
      cli(['hosts', 'trust', '-i', knownZero], env),
      /ssh\.knownHosts: \/dev\/zero is a kernel pseudo-file/,
    );
    const bundleDir = write(
      'bundle-dir.yaml',
      example.replace('path: artifacts/api7-2.13.2209.1-dp.tar.gz', `path: ${f('a-dir')}/x.tar.gz`),
    );
    mkdirSync(f('a-dir/x.tar.gz'));
    assert.match(
      cli(['plan', '-i', bundleDir], env),
      /gateway\.bundle\.path: \S+x\.tar\.gz is a directory/,
    );
  });
});
