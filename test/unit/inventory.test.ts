// The inventory schema accepts the documented example and rejects bad input with an
// error that names the field and says what is wrong.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { InventoryError, parseInventoryText, validateInventory } from '../../src/config/load';
import { inventoryWarnings } from '../../src/config/inventory';
import { projectRoot } from '../../src/paths';

const exampleText = readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8');
// Test cases poke at arbitrary fields of the parsed YAML.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const example = () => parse(exampleText) as Doc;

function rejects(mutate: (inv: Doc) => void, ...expected: RegExp[]) {
  const inv = example();
  mutate(inv);
  assert.throws(
    () => validateInventory(inv),
    (e: unknown) => {
      assert.ok(e instanceof InventoryError, `expected an InventoryError, got ${String(e)}`);
      for (const re of expected)
        assert.ok(
          e.problems.some((p) => re.test(p)),
          `no problem matches ${re}:\n${e.problems.join('\n')}`,
        );
      return true;
    },
  );
}

describe('inventory schema', () => {
  it('accepts the documented five-node example and fills defaults', () => {
    const inv = parseInventoryText(exampleText);
    assert.equal(inv.hosts.length, 5);
    assert.equal(inv.etcd.clientPort, 2379);
    assert.equal(inv.ssh.sudo, false);
    assert.deepEqual(inv.verify, { requireApproval: false, approvalTimeoutSeconds: 3600 });
    assert.deepEqual(inventoryWarnings(inv), []);
  });

  const cases: Array<[string, (inv: Doc) => void, RegExp]> = [
    ['missing cluster', (i) => delete i.cluster, /^cluster: is required/],
    [
      'cluster with a shell metacharacter',
      (i) => (i.cluster = 'gw;rm -rf /'),
      /^cluster: must be lower-case/,
    ],
    ['wrong apiVersion', (i) => (i.apiVersion = 'v0'), /^apiVersion: must be "api7-ha\/v1"/],
    ['unknown top-level field', (i) => (i.extra = 1), /^extra: is not a known field/],
    [
      'unknown host field',
      (i) => (i.hosts[1].rolez = []),
      /^hosts\[1\]\.rolez: is not a known field/,
    ],
    [
      'host name with $()',
      (i) => (i.hosts[0].name = '$(reboot)'),
      /^hosts\[0\]\.name: must be lower-case/,
    ],
    [
      'address with a space',
      (i) => (i.hosts[2].address = '10.0.0.1 -oProxyCommand=x'),
      /^hosts\[2\]\.address: must be an IPv4/,
    ],
    [
      'unknown role',
      (i) => (i.hosts[3].roles = ['gateway']),
      /^hosts\[3\]\.roles\[0\]: must be one of etcd, control-plane, data-plane/,
    ],
    ['no roles', (i) => (i.hosts[3].roles = []), /^hosts\[3\]\.roles: must list at least one role/],
    [
      'duplicate host name',
      (i) => (i.hosts[4].name = 'ha4'),
      /^hosts\[4\]\.name: duplicates hosts\[3\]\.name/,
    ],
    [
      'duplicate address',
      (i) => (i.hosts[4].address = '10.0.0.14'),
      /^hosts\[4\]\.address: duplicates hosts\[3\]\.address/,
    ],
    [
      'even etcd members',
      (i) => i.hosts[3].roles.push('etcd'),
      /^hosts: 4 hosts have the etcd role; etcd needs an odd number/,
    ],
    [
      'one etcd member without the flag',
      (i) => ((i.hosts[1].roles = ['control-plane']), (i.hosts[2].roles = ['data-plane'])),
      /^hosts: only 1 host has the etcd role/,
    ],
    [
      'no data plane',
      (i) => ((i.hosts[3].roles = ['control-plane']), (i.hosts[4].roles = ['control-plane'])),
      /^hosts: no host has the data-plane role/,
    ],
    [
      'ssh port out of range',
      (i) => (i.ssh.port = 70000),
      /^ssh\.port: must be between 1 and 65535/,
    ],
    ['ssh port as text', (i) => (i.ssh.port = '22'), /^ssh\.port: must be a number/],
    [
      'inline private key',
      (i) => (i.ssh.privateKey = '-----BEGIN OPENSSH PRIVATE KEY-----'),
      /^ssh\.privateKey: must be a secret reference/,
    ],
    [
      'inline dashboard password',
      (i) => (i.dashboard.password = 'hunter2'),
      /^dashboard\.password: must be a secret reference/,
    ],
    [
      'bad fingerprint',
      (i) => (i.hosts[0].ssh.hostKey = 'md5:aa'),
      /^hosts\[0\]\.ssh\.hostKey: must be an OpenSSH fingerprint/,
    ],
    [
      'relative remote path',
      (i) => (i.etcd.dataDir = 'etcd_data'),
      /^etcd\.dataDir: must be an absolute path/,
    ],
    [
      'remote path escaping its base',
      (i) => (i.dashboard.installDir = '/root/../etc'),
      /^dashboard\.installDir: must not contain "\.\." segments/,
    ],
    [
      'remote path with a quote',
      (i) => (i.gateway.installDir = "/root/it's"),
      /^gateway\.installDir: may contain only/,
    ],
    [
      'image tag with a shell metacharacter',
      (i) => (i.gateway.image = 'api7/gw:1;id'),
      /^gateway\.image: must be an image reference/,
    ],
    [
      'bad sha256',
      (i) => (i.dashboard.bundle.sha256 = 'abc'),
      /^dashboard\.bundle\.sha256: must be 64 lower-case hex/,
    ],
    ['missing bundle', (i) => delete i.gateway.bundle, /^gateway\.bundle: is required/],
    [
      'colliding ports on one host',
      (i) => (i.gateway.metricsPort = 80),
      /^hosts\[3\]\.roles: port 80 is used by both gateway\.httpPort and gateway\.metricsPort on ha4/,
    ],
    [
      'etcd auth without password',
      (i) => (i.etcd.auth = { enabled: true }),
      /^etcd\.auth\.password: password is required/,
    ],
    [
      'load balancer with credentials',
      (i) => (i.loadBalancers.dataPlane = 'http://u:p@lb'),
      /^loadBalancers\.dataPlane: must be an http/,
    ],
    [
      'cluster id not 18 digits',
      (i) => (i.dashboard.gatewayClusterId = '123'),
      /^dashboard\.gatewayClusterId: must be an 18-digit number/,
    ],
    [
      'smoke upstream without port',
      (i) => (i.smokeTest.upstream = ['10.0.0.50']),
      /^smokeTest\.upstream\[0\]: must be host:port/,
    ],
    [
      'parallelism zero',
      (i) => (i.deploy.parallelism = 0),
      /^deploy\.parallelism: must be at least 1/,
    ],
    [
      'zero etcd members',
      (i) => {
        for (const h of i.hosts)
          h.roles =
            h.roles.includes('etcd') && h.roles.length === 1
              ? ['data-plane']
              : h.roles.filter((r: string) => r !== 'etcd');
      },
      /^hosts: no host has the etcd role/,
    ],
    [
      'secret reference with a shell metacharacter',
      (i) => (i.dashboard.tokenSecret = 'env:TOKEN;reboot'),
      /^dashboard\.tokenSecret: must be a secret reference/,
    ],
    [
      'host name with a newline',
      (i) => (i.hosts[1].name = 'ha2\nrm'),
      /^hosts\[1\]\.name: must be lower-case/,
    ],
    [
      'etcd data dir that is the root',
      (i) => (i.etcd.dataDir = '/'),
      /^etcd\.dataDir: must not be the root directory/,
    ],
    [
      'two artifacts with one file name',
      (i) => (i.gateway.bundle.path = 'other/api7-2.13.2209.1-cp.tar.gz'),
      /^gateway\.bundle\.path: has the same file name as dashboard\.bundle\.path/,
    ],
    [
      'approval timeout of zero',
      (i) => (i.verify = { requireApproval: true, approvalTimeoutSeconds: 0 }),
      /^verify\.approvalTimeoutSeconds: must be between 1 and 604800/,
    ],
    [
      'requireApproval that is not a boolean',
      (i) => (i.verify = { requireApproval: 'yes' }),
      /^verify\.requireApproval: must be true or false/,
    ],
    [
      'unknown verify setting',
      (i) => (i.verify = { requireApprovals: true }),
      /^verify\.requireApprovals: is not a known field/,
    ],
  ];
  for (const [name, mutate, expected] of cases)
    it(`rejects ${name}`, () => rejects(mutate, expected));

  it('reports every problem at once, not only the first', () => {
    rejects(
      (i) => ((i.cluster = 'BAD'), (i.ssh.port = 0), (i.hosts[0].name = 'x y')),
      /^cluster:/,
      /^ssh\.port:/,
      /^hosts\[0\]\.name:/,
    );
  });

  it('refuses YAML alias bombs, duplicate keys and oversized files', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let n = 1; n < 9; n++)
      bomb.push(
        `${String.fromCharCode(97 + n)}: &${String.fromCharCode(97 + n)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + n)}`)
          .join(',')}]`,
      );
    assert.throws(
      () => parseInventoryText(bomb.join('\n')),
      (e: unknown) => e instanceof InventoryError && e.problems.some((p) => /^\(yaml\)/.test(p)),
    );
    assert.throws(
      () => parseInventoryText('cluster: a\ncluster: b\n'),
      (e: unknown) =>
        e instanceof InventoryError && /\(yaml\).*[Uu]nique|duplicate/i.test(e.problems.join()),
    );
    assert.throws(
      () => parseInventoryText(`# ${'x'.repeat(1024 * 1024)}`),
      (e: unknown) => e instanceof InventoryError && /larger than/.test(e.problems.join()),
    );
    assert.throws(
      () => parseInventoryText('- just\n- a list\n'),
      (e: unknown) =>
        e instanceof InventoryError && /must be a YAML mapping/.test(e.problems.join()),
    );
  });

  it('warns about a single gateway without refusing it', () => {
    const inv = example();
    inv.hosts.pop(); // ha5 was the second gateway
    assert.match(inventoryWarnings(validateInventory(inv)).join('\n'), /only 1 data-plane host/);
  });
});
