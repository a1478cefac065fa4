// src/model/hosts.ts: each host's effective SSH settings (its own over the defaults, keys
// as references with their fields) and every port it uses, SSH included.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { InventoryError, validateInventory } from '../../src/config/load';
import { hostPorts, sshSettings } from '../../src/model/hosts';
import { projectRoot } from '../../src/paths';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const inventory = (mutate: (d: Doc) => void = () => {}) => {
  const doc = parse(
    readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8'),
  ) as Doc;
  mutate(doc);
  return validateInventory(doc);
};

describe('effective SSH settings', () => {
  it('a host without hosts[].ssh takes every default', () => {
    const inv = inventory((d) => {
      d.ssh.user = 'deploy';
      d.ssh.port = 2222;
      d.ssh.sudo = true;
      d.ssh.knownHosts = 'known_hosts';
      delete d.hosts[0].ssh;
    });
    const s = sshSettings(inv, inv.hosts[0]!);
    assert.equal(s.user, 'deploy');
    assert.equal(s.port, 2222);
    assert.equal(s.sudo, true);
    assert.equal(s.hostKey, undefined);
    assert.equal(s.knownHosts, 'known_hosts');
    assert.deepEqual(s.privateKey, { ref: inv.ssh.privateKey, field: 'ssh.privateKey' });
    assert.deepEqual(s.jump, []);
  });

  it("a host's own fields win, and its key is named by its own field", () => {
    const inv = inventory((d) => {
      d.ssh.user = 'deploy';
      d.hosts[1].ssh = { user: 'api7ops', port: 2200, sudo: true, privateKey: 'env:HOST1_KEY' };
    });
    const s = sshSettings(inv, inv.hosts[1]!);
    assert.deepEqual(
      { user: s.user, port: s.port, sudo: s.sudo, privateKey: s.privateKey },
      {
        user: 'api7ops',
        port: 2200,
        sudo: true,
        privateKey: { ref: 'env:HOST1_KEY', field: 'hosts[1].ssh.privateKey' },
      },
    );
    assert.equal(sshSettings(inv, inv.hosts[0]!).user, 'deploy', 'other hosts keep the default');
  });

  it("a jump host logs in as ssh.user with ssh's key, never as the host's own user", () => {
    const inv = inventory((d) => {
      d.ssh.user = 'deploy';
      d.ssh.jump = [{ name: 'bastion1', address: '10.0.0.5' }];
      d.hosts[0].ssh = { user: 'api7ops' };
    });
    const [hop] = sshSettings(inv, inv.hosts[0]!).jump;
    assert.deepEqual(hop, {
      name: 'bastion1',
      address: '10.0.0.5',
      port: 22,
      user: 'deploy',
      privateKey: { ref: inv.ssh.privateKey, field: 'ssh.privateKey' },
      hostKey: undefined,
      field: 'ssh.jump[0]',
    });
  });
});

describe('host ports', () => {
  it("lists the SSH port first, then the host's components' ports", () => {
    const inv = inventory();
    const etcdHost = inv.hosts.find((h) => h.roles.includes('etcd'))!;
    const ports = hostPorts(inv, etcdHost);
    assert.deepEqual(ports[0], { port: inv.ssh.port, field: 'ssh.port', what: 'SSH' });
    assert.ok(ports.some((p) => p.port === inv.etcd.clientPort && p.field === 'etcd.clientPort'));
  });

  it("a host's own SSH port that collides is refused naming hosts[i].ssh.port", () => {
    assert.throws(
      () =>
        inventory((d) => {
          const i = d.hosts.findIndex((h: Doc) => h.roles.includes('etcd'));
          d.hosts[i].ssh = { ...d.hosts[i].ssh, port: 2379 };
        }),
      (e: unknown) =>
        e instanceof InventoryError &&
        e.problems.some((p) =>
          /port 2379 is used by both hosts\[\d\]\.ssh\.port and etcd\.clientPort/.test(p),
        ),
    );
  });
});
