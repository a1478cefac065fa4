// ssh.jump: the schema accepts a list of jump hosts globally and per host (`[]` for a
// direct connection), refuses bad hops naming the field, and the hop resolution picks
// the right hops, users, keys and fields.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { InventoryError, validateInventory } from '../../src/config/load';
import { SecretError } from '../../src/config/secrets';
import { projectRoot } from '../../src/paths';
import { HostKeyError } from '../../src/ssh/session';
import { jumpHops } from '../../src/model/hosts';
import { jumpTargets, sshTarget } from '../../src/ssh/targets';
import { sshKeyRefs } from '../../src/config/ssh-key';
import { checkInventoryLocally } from '../../src/activities/validate';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const example = () =>
  parse(readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8')) as Doc;
const FP = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU';
const bastion = { name: 'bastion1', address: '10.0.0.5', hostKey: FP };

function problems(mutate: (inv: Doc) => void): string[] {
  const inv = example();
  mutate(inv);
  try {
    validateInventory(inv);
  } catch (e) {
    assert.ok(e instanceof InventoryError, String(e));
    return e.problems;
  }
  assert.fail('the inventory was accepted');
}

function withJump(mutate: (inv: Doc) => void) {
  const inv = example();
  mutate(inv);
  return validateInventory(inv);
}

describe('ssh.jump schema', () => {
  it('accepts one jump host, with defaults, under ssh', () => {
    const inv = withJump((i) => (i.ssh.jump = [bastion]));
    assert.deepEqual(inv.ssh.jump, [{ ...bastion, port: 22 }]);
  });

  it('accepts several jump hosts, and a host of its own or none ([])', () => {
    const inv = withJump((i) => {
      i.ssh.jump = [bastion, { address: 'inner.example.com', port: 2222, user: 'hop' }];
      i.hosts[3].ssh = { jump: [] };
      i.hosts[4].ssh = { jump: [{ address: '10.0.0.6', privateKey: 'env:HOP_KEY' }] };
    });
    assert.equal(inv.ssh.jump!.length, 2);
    assert.deepEqual(inv.hosts[3]!.ssh!.jump, []);
    assert.deepEqual(inv.hosts[4]!.ssh!.jump, [
      { address: '10.0.0.6', port: 22, privateKey: 'env:HOP_KEY' },
    ]);
  });

  it('a validated inventory validates again unchanged (the worker checks it a second time)', () => {
    const inv = withJump((i) => {
      i.ssh.jump = [bastion, { address: '10.0.0.7' }];
      i.hosts[4].ssh = { jump: [] };
    });
    assert.deepEqual(validateInventory(structuredClone(inv)), inv);
  });

  const cases: Array<[string, (i: Doc) => void, RegExp]> = [
    [
      'a hop address with a shell metacharacter',
      (i) => (i.ssh.jump = [{ address: '10.0.0.5;reboot' }]),
      /^ssh\.jump\[0\]\.address: must be an IPv4 address or a host name/,
    ],
    [
      'a second hop with a port out of range',
      (i) => (i.ssh.jump = [bastion, { address: '10.0.0.6', port: 70000 }]),
      /^ssh\.jump\[1\]\.port: must be between 1 and 65535$/,
    ],
    [
      'a hop key that is not a reference',
      (i) => (i.ssh.jump = [{ address: '10.0.0.5', privateKey: '-----BEGIN OPENSSH PRIVATE KEY' }]),
      /^ssh\.jump\[0\]\.privateKey: must be a secret reference/,
    ],
    [
      "a host's hop with a bad fingerprint",
      (i) => (i.hosts[4].ssh = { jump: [{ address: '10.0.0.5', hostKey: 'MD5:aa:bb' }] }),
      /^hosts\[4\]\.ssh\.jump\[0\]\.hostKey: must be an OpenSSH fingerprint/,
    ],
    [
      'an unknown hop field',
      (i) => (i.ssh.jump = [{ address: '10.0.0.5', proxyCommand: 'nc %h %p' }]),
      /^ssh\.jump\[0\]\.proxyCommand: is not a known field$/,
    ],
    [
      'a hop without an address',
      (i) => (i.ssh.jump = [{ name: 'bastion1' }]),
      /^ssh\.jump\[0\]\.address: is required$/,
    ],
    [
      'nine hops',
      (i) => (i.ssh.jump = Array.from({ length: 9 }, () => bastion)),
      /^ssh\.jump: must list at most 8 jump hosts$/,
    ],
    [
      'a single mapping instead of a list',
      (i) => (i.ssh.jump = bastion),
      /^ssh\.jump: must be a list$/,
    ],
    [
      'a host jump written as a word',
      (i) => (i.hosts[0].ssh = { jump: 'none' }),
      /^hosts\[0\]\.ssh\.jump: must be a list$/,
    ],
    [
      'a hop name with a space',
      (i) => (i.ssh.jump = [{ name: 'my bastion', address: '10.0.0.5' }]),
      /^ssh\.jump\[0\]\.name: must be lower-case letters/,
    ],
  ];
  for (const [name, mutate, expected] of cases)
    it(`rejects ${name}`, () => {
      const found = problems(mutate);
      assert.ok(
        found.some((p) => expected.test(p)),
        `no problem matches ${expected}:\n${found.join('\n')}`,
      );
    });
});

describe('jump hop resolution', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-jump-'));
  writeFileSync(path.join(dir, 'main_key'), 'MAIN KEY\n');
  writeFileSync(path.join(dir, 'hop_key'), 'HOP KEY\n');
  const inventory = () =>
    withJump((i) => {
      i.ssh.privateKey = 'file:main_key';
      i.ssh.user = 'deploy';
      i.ssh.jump = [bastion, { address: '10.0.0.7', user: 'hop', privateKey: 'file:hop_key' }];
      i.hosts[2].ssh = { jump: [] };
      i.hosts[3].ssh = { user: 'api7ops', sudo: true, jump: [{ address: '10.0.0.6', port: 2200 }] };
    });

  it('a host without its own jump takes ssh.jump, with list fields', () => {
    const inv = inventory();
    assert.deepEqual(
      jumpHops(inv, inv.hosts[0]!).map((h) => [h.hop.address, h.field]),
      [
        ['10.0.0.5', 'ssh.jump[0]'],
        ['10.0.0.7', 'ssh.jump[1]'],
      ],
    );
  });

  it("a host's own jump replaces ssh.jump; [] means direct; no jump anywhere means direct", () => {
    const inv = inventory();
    assert.deepEqual(jumpHops(inv, inv.hosts[2]!), []);
    assert.deepEqual(
      jumpHops(inv, inv.hosts[3]!).map((h) => [h.hop.address, h.hop.port, h.field]),
      [['10.0.0.6', 2200, 'hosts[3].ssh.jump[0]']],
    );
    const plain = validateInventory(example());
    assert.deepEqual(jumpHops(plain, plain.hosts[0]!), []);
  });

  it("hops log in as ssh.user with ssh.privateKey unless they say otherwise (never the host's own user)", () => {
    const inv = inventory();
    const [first, second] = jumpTargets(inv, inv.hosts[0]!, dir);
    assert.deepEqual(
      { ...first!, knownHostsFile: undefined },
      {
        name: 'bastion1',
        address: '10.0.0.5',
        port: 22,
        user: 'deploy',
        privateKey: 'MAIN KEY',
        pinnedHostKey: FP,
        knownHostsFile: undefined,
        field: 'ssh.jump[0]',
      },
    );
    assert.equal(first!.knownHostsFile, path.join(dir, 'known_hosts'), 'the same known_hosts');
    assert.equal(second!.name, '10.0.0.7', 'a hop without a name is named by its address');
    assert.equal(second!.user, 'hop');
    assert.equal(second!.privateKey, 'HOP KEY');
    const [own] = jumpTargets(inv, inv.hosts[3]!, dir);
    assert.equal(own!.user, 'deploy', "hosts[3].ssh.user is the host's account, not the hop's");
  });

  it('sshTarget carries the hops; a missing hop key names its field, never a value', () => {
    const inv = inventory();
    const t = sshTarget(inv, inv.hosts[0]!, dir);
    assert.equal(t.jump.length, 2);
    assert.equal(sshTarget(inv, inv.hosts[2]!, dir).jump.length, 0);
    delete process.env.API7HA_TEST_UNSET_HOP_KEY;
    inv.ssh.jump![1]!.privateKey = 'env:API7HA_TEST_UNSET_HOP_KEY';
    assert.throws(
      () => sshTarget(inv, inv.hosts[0]!, dir),
      (e: unknown) =>
        e instanceof SecretError &&
        e.message ===
          'ssh.jump[1].privateKey: environment variable API7HA_TEST_UNSET_HOP_KEY is not set',
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it("a jump host's key error names the hop and the field to pin", () => {
    const hop = {
      name: 'bastion1',
      address: '10.0.0.5',
      port: 22,
      user: 'root',
      privateKey: 'unused',
      field: 'ssh.jump[0]',
    };
    const changed = new HostKeyError(hop.name, 'SHA256:other', [FP], 'changed', hop);
    assert.match(
      changed.message,
      /^bastion bastion1 \(10\.0\.0\.5:22\): host key changed: it offered SHA256:other but SHA256:47DE.* was expected; .*pin it \(ssh\.jump\[0\]\.hostKey\)/,
    );
    const unknown = new HostKeyError(hop.name, 'SHA256:other', [], 'unknown', hop);
    assert.match(unknown.message, /^bastion bastion1 \(10\.0\.0\.5:22\): host key is unknown/);
  });
});

describe('jump host keys checked before any host is touched', () => {
  it('lists every hop key reference with its field, global and per host', () => {
    const inv = withJump((i) => {
      i.ssh.jump = [bastion, { address: '10.0.0.7', privateKey: 'env:HOP_A' }];
      i.hosts[3].ssh = { jump: [{ address: '10.0.0.6', privateKey: 'file:hop_b' }] };
    });
    assert.deepEqual(sshKeyRefs(inv).slice(1), [
      ['ssh.jump[1].privateKey', 'env:HOP_A'],
      ['hosts[3].ssh.jump[0].privateKey', 'file:hop_b'],
    ]);
  });

  it("the deploy's local check names a hop key that does not resolve", async () => {
    delete process.env.API7HA_TEST_UNSET_HOP_KEY;
    const inv = withJump(
      (i) =>
        (i.hosts[4].ssh = {
          jump: [{ address: '10.0.0.6', privateKey: 'env:API7HA_TEST_UNSET_HOP_KEY' }],
        }),
    );
    await assert.rejects(
      checkInventoryLocally({ inventory: inv, baseDir: os.tmpdir() }),
      /hosts\[4\]\.ssh\.jump\[0\]\.privateKey: environment variable API7HA_TEST_UNSET_HOP_KEY is not set/,
    );
  });
});
