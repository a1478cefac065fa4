// `api7-ha hosts trust`: shows each lab host's fingerprint, records unknown keys with
// --write (OpenSSH's ssh-keygen then finds them), and flags a changed key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { LoadedInventory } from '../../src/config/load';
import { projectRoot } from '../../src/paths';
import { run } from '../../src/util/exec';
import { sharedLab } from '../support/lab';

describe('hosts trust', () => {
  let lab: LoadedInventory;
  let dir: string;
  let inventory: string;
  const knownHosts = () => path.join(dir, 'known_hosts');
  const trust = (...args: string[]) =>
    run(
      [
        process.execPath,
        path.join(projectRoot, 'dist/src/client.js'),
        'hosts',
        'trust',
        '-i',
        inventory,
        ...args,
      ],
      { allowFailure: true },
    );

  before(async () => {
    lab = await sharedLab();
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-trust-'));
    // The lab's inventory, minus every host's pinned key (the bastion's stays: see
    // bastion.test.ts for one nobody vouched for), with an empty known_hosts of its own.
    const doc = parse(readFileSync(path.join(lab.baseDir, 'inventory.yaml'), 'utf8')) as {
      ssh: { privateKey: string; knownHosts: string };
      hosts: Array<{ ssh?: { hostKey?: string } }>;
    };
    doc.ssh.privateKey = `file:${path.join(lab.baseDir, 'ssh', 'id_ed25519')}`;
    doc.ssh.knownHosts = 'known_hosts';
    for (const h of doc.hosts) delete h.ssh?.hostKey;
    inventory = path.join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify(doc));
    writeFileSync(knownHosts(), '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shows every host as unknown with the fingerprint the lab pinned, and the pinned bastion', async () => {
    const r = await trust();
    assert.equal(r.code, 0, r.stderr);
    for (const h of lab.inventory.hosts)
      assert.match(
        r.stdout,
        new RegExp(`${h.name}.*${h.ssh!.hostKey!.replace(/[+/]/g, '\\$&')}.*unknown`),
      );
    const bastion = lab.inventory.hosts.flatMap((h) => h.ssh?.jump ?? [])[0];
    assert.ok(bastion, 'the lab reaches a host through a bastion');
    assert.match(
      r.stdout,
      new RegExp(`bastion ${bastion.name}.*${bastion.hostKey!.replace(/[+/]/g, '\\$&')}.*pinned`),
    );
  });

  it('--write records them in known_hosts, where OpenSSH finds them', async () => {
    assert.equal((await trust('--write')).code, 0);
    for (const h of lab.inventory.hosts) {
      const found = await run(['ssh-keygen', '-F', h.address, '-f', knownHosts()], {
        allowFailure: true,
      });
      assert.equal(found.code, 0, `${h.address} is in known_hosts`);
      const fp = await run(['ssh-keygen', '-l', '-f', '-'], {
        input: found.stdout.split('\n').find((l) => l.startsWith(h.address)) ?? '',
      });
      assert.ok(
        fp.stdout.includes(h.ssh!.hostKey!),
        `${h.name}'s recorded key has the pinned fingerprint`,
      );
    }
    assert.match((await trust()).stdout, /known/);
  });

  it('flags a changed key and exits non-zero, recording nothing', async () => {
    const lines = readFileSync(knownHosts(), 'utf8').split('\n');
    const other =
      (await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'other')]))
        .code === 0 && readFileSync(path.join(dir, 'other.pub'), 'utf8').split(' ');
    assert.ok(other);
    lines[0] = `${lines[0]!.split(' ')[0]} ${other[0]} ${other[1]}`;
    writeFileSync(knownHosts(), lines.join('\n'));
    const before = readFileSync(knownHosts(), 'utf8');
    const r = await trust('--write');
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /CHANGED \(expected SHA256:/);
    assert.equal(readFileSync(knownHosts(), 'utf8'), before);
  });
});
