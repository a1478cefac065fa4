// The etcd membership commands and their parsers: argv as the guide runs etcdctl (inside
// the member's container, the password on stdin, the member's certificate with TLS),
// outputs as etcd 3.4.23 prints them (ids beyond a double's precision kept exact), the
// quorum rule of every removal, the joining member's initial cluster, and stable names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decimalId,
  endpointHashKvArgv,
  endpointStatusArgv,
  hexId,
  joiningInitialCluster,
  memberAddArgv,
  memberListArgv,
  memberPromoteArgv,
  memberRemoveArgv,
  parseEndpointHashKv,
  parseEndpointStatus,
  parseMemberAdd,
  parseMemberList,
  quorumAfterRemoval,
  supportsLearners,
  type MemberInfo,
} from '../../src/commands/etcd-members';
import {
  etcdConfigHash,
  etcdMembers,
  etcdRunArgv,
  inventoryInitialCluster,
  parseInspect,
} from '../../src/commands/etcd';
import { PASSWORD_FROM_STDIN } from '../../src/commands/backup';
import { renderReplacePlan, replacePlan } from '../../src/commands/replace-plan';
import type { Inventory } from '../../src/config/inventory';
import { InventoryError, validateInventory } from '../../src/config/load';
import { inventory } from '../support/workflow-env';

const plain = inventory();
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

// Captured from etcdctl 3.4.23 (member list, member add --learner, endpoint status/hashkv).
const LIST =
  '{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"raft_term":2},"members":[{"ID":13668033151171901709,"name":"a1","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23791"]},{"ID":16558109027857746819,"peerURLs":["http://127.0.0.1:23802"],"isLearner":true}]}';
const ADD =
  '{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"raft_term":2},"member":{"ID":16558109027857746819,"peerURLs":["http://127.0.0.1:23802"],"isLearner":true},"members":[{"ID":13668033151171901709,"name":"a1","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23791"]},{"ID":16558109027857746819,"peerURLs":["http://127.0.0.1:23802"],"isLearner":true}]}';
const STATUS =
  '[{"Endpoint":"127.0.0.1:23791","Status":{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":1,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":13668033151171901709,"raftIndex":5,"raftTerm":2,"raftAppliedIndex":5,"dbSizeInUse":16384}}]';
const HASHKV =
  '[{"Endpoint":"127.0.0.1:23791","HashKV":{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":1,"raft_term":2},"hash":1084519789,"compact_revision":-1}}]';

describe('etcdctl membership commands', () => {
  it('run etcdctl in the member container against its own client URL, as the guide does', () => {
    assert.deepEqual(memberListArgv(plain, 'ha1', { withAuth: false }), [
      'docker',
      'exec',
      '-e',
      'ETCDCTL_API=3',
      'etcd',
      'etcdctl',
      '--endpoints=http://10.0.0.11:2379',
      '--dial-timeout=5s',
      'member',
      'list',
      '-w',
      'json',
    ]);
  });

  it('with auth and TLS: password on stdin, member certificate, user flag; no secret in argv', () => {
    const argv = memberRemoveArgv(secured(), 'ha2', 'e5ca386ea5a64b83', { withAuth: true });
    assert.deepEqual(argv.slice(0, 9), [
      'docker',
      'exec',
      '-e',
      'ETCDCTL_API=3',
      '-i',
      'etcd',
      '/bin/sh',
      '-c',
      PASSWORD_FROM_STDIN,
    ]);
    assert.ok(argv.includes('--cert=/etcd_certs/member.crt'));
    assert.ok(argv.includes('--user=root'));
    assert.ok(argv.includes('--endpoints=https://10.0.0.12:2379'));
    assert.deepEqual(argv.slice(-3), ['member', 'remove', 'e5ca386ea5a64b83']);
    assert.ok(!argv.some((a) => /ETCD_ROOT_PASSWORD|password=/i.test(a)));
  });

  it('add as a learner, promote, status and hashkv of given endpoints', () => {
    const add = memberAddArgv(
      plain,
      'ha1',
      { name: 'api7-etcd-3', peerUrl: 'http://10.0.0.13:2380', learner: true },
      { withAuth: false },
    );
    assert.deepEqual(add.slice(-7), [
      'member',
      'add',
      'api7-etcd-3',
      '--peer-urls=http://10.0.0.13:2380',
      '--learner',
      '-w',
      'json',
    ]);
    assert.deepEqual(memberPromoteArgv(plain, 'ha1', 'ab12', { withAuth: false }).slice(-5), [
      'member',
      'promote',
      'ab12',
      '-w',
      'json',
    ]);
    const eps = ['http://10.0.0.11:2379', 'http://10.0.0.12:2379'];
    const st = endpointStatusArgv(plain, 'ha1', { withAuth: false, endpoints: eps });
    assert.ok(st.includes(`--endpoints=${eps.join(',')}`));
    assert.deepEqual(st.slice(-4), ['endpoint', 'status', '-w', 'json']);
    assert.deepEqual(endpointHashKvArgv(plain, 'ha1', { withAuth: false }).slice(-4), [
      'endpoint',
      'hashkv',
      '-w',
      'json',
    ]);
  });

  it('refuse an id that is not hex, before it reaches a shell', () => {
    assert.throws(() => memberRemoveArgv(plain, 'ha1', '12; rm -rf /', { withAuth: false }), /hex/);
    assert.throws(() => memberPromoteArgv(plain, 'ha1', 'XYZ', { withAuth: false }), /hex/);
  });
});

describe('etcdctl output parsers', () => {
  it('member list: exact 64-bit ids in hex, learners and unstarted members', () => {
    const { clusterId, members } = parseMemberList(`some warning\n${LIST}\n`);
    assert.equal(clusterId, hexId('15118495548433857066'));
    assert.deepEqual(members, [
      {
        id: 'bdae9bbc11dd390d',
        name: 'a1',
        peerURLs: ['http://127.0.0.1:23801'],
        clientURLs: ['http://127.0.0.1:23791'],
        isLearner: false,
      },
      {
        id: 'e5ca386ea5a64b83',
        name: '',
        peerURLs: ['http://127.0.0.1:23802'],
        clientURLs: [],
        isLearner: true,
      },
    ]);
    assert.throws(() => parseMemberList('Error: context deadline exceeded'), /no JSON/);
  });

  it('member add: the new member and the membership with it', () => {
    const { added, members } = parseMemberAdd(ADD);
    assert.equal(added.id, 'e5ca386ea5a64b83');
    assert.equal(added.isLearner, true);
    assert.equal(members.length, 2);
  });

  it('endpoint status and hashkv', () => {
    assert.deepEqual(parseEndpointStatus(STATUS), [
      {
        endpoint: '127.0.0.1:23791',
        memberId: 'bdae9bbc11dd390d',
        leader: 'bdae9bbc11dd390d',
        revision: 1,
        raftIndex: 5,
        raftAppliedIndex: 5,
        isLearner: false,
        version: '3.4.23',
      },
    ]);
    assert.deepEqual(parseEndpointHashKv(HASHKV), [
      { endpoint: '127.0.0.1:23791', hash: 1084519789, revision: 1 },
    ]);
  });

  it('ids round-trip between etcd3 decimal strings and hex', () => {
    assert.equal(hexId('16558109027857746819'), 'e5ca386ea5a64b83');
    assert.equal(decimalId('e5ca386ea5a64b83'), '16558109027857746819');
  });
});

const member = (id: string, over: Partial<MemberInfo> = {}): MemberInfo => ({
  id,
  name: `m${id}`,
  peerURLs: [`http://10.0.0.${id}:2380`],
  clientURLs: [`http://10.0.0.${id}:2379`],
  isLearner: false,
  ...over,
});

describe('quorum rule of membership changes', () => {
  const three = [member('1'), member('2'), member('3')];
  it('one of three dead: removing it leaves 2 of 2', () => {
    assert.deepEqual(quorumAfterRemoval(three, new Set(['1', '2']), '3'), {
      ok: true,
      voters: 2,
      answering: 2,
      needed: 2,
    });
  });
  it('two of three dead: refused, with or without a removal', () => {
    assert.equal(quorumAfterRemoval(three, new Set(['1']), '3').ok, false);
    assert.equal(quorumAfterRemoval(three, new Set(['1'])).ok, false);
  });
  it('removing a live member while another is dead would lose quorum', () => {
    assert.equal(quorumAfterRemoval(three, new Set(['1', '2']), '2').ok, false);
  });
  it('learners do not vote', () => {
    const withLearner = [...three, member('4', { isLearner: true })];
    assert.deepEqual(quorumAfterRemoval(withLearner, new Set(['1', '4']), '3'), {
      ok: false,
      voters: 2,
      answering: 1,
      needed: 2,
    });
  });
  it('learners from etcd 3.4 on', () => {
    assert.equal(supportsLearners('3.4.23'), true);
    assert.equal(supportsLearners('3.5.0'), true);
    assert.equal(supportsLearners('3.3.25'), false);
    assert.equal(supportsLearners(''), false);
  });
});

describe('a joining member', () => {
  it('starts with every current member plus itself under its own name', () => {
    const joiner = member('4', { name: '', clientURLs: [], isLearner: true });
    assert.equal(
      joiningInitialCluster([member('1'), member('2'), joiner], joiner, 'api7-etcd-4'),
      'm1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380,api7-etcd-4=http://10.0.0.4:2380',
    );
  });
});

describe('stable member names', () => {
  it('positional by default; a host may pin its name', () => {
    const inv = structuredClone(plain);
    assert.deepEqual(
      etcdMembers(inv).map((m) => m.name),
      ['api7-etcd-1', 'api7-etcd-2', 'api7-etcd-3'],
    );
    const before = etcdConfigHash(inv, 'ha2');
    // ha1 goes away; ha2 and ha3 pin the names they have.
    inv.hosts[1]!.etcdMemberName = 'api7-etcd-2';
    assert.equal(etcdConfigHash(inv, 'ha2'), before);
    inv.hosts[2]!.etcdMemberName = 'api7-etcd-3';
    inv.hosts[0]!.roles = inv.hosts[0]!.roles.filter((r) => r !== 'etcd');
    assert.deepEqual(
      etcdMembers(inv).map((m) => m.name),
      ['api7-etcd-2', 'api7-etcd-3'],
    );
  });
  it('two hosts with one member name are refused, naming the field', () => {
    const inv = structuredClone(plain) as unknown as { hosts: Array<Record<string, unknown>> };
    inv.hosts[2]!.etcdMemberName = 'api7-etcd-1';
    assert.throws(
      () => validateInventory(inv, 'x.yaml'),
      (e: unknown) =>
        e instanceof InventoryError &&
        /hosts\[2\]\.etcdMemberName/.test(e.message) &&
        /also ha1's/.test(e.message),
    );
  });
});

describe('members added to the inventory change no existing member', () => {
  it('an existing container is checked with its own ETCD_INITIAL_CLUSTER', () => {
    const three = structuredClone(plain);
    const argv = etcdRunArgv(three, 'ha1');
    const env = argv.flatMap((a, i) => (argv[i - 1] === '-e' ? [a] : []));
    const label = argv.find((a) => a.startsWith('api7-ha.config='))!.split('=')[1]!;
    const inspected = parseInspect(`id|true|${label}|2026|${JSON.stringify(env)}`);
    assert.equal(inspected.initialCluster, inventoryInitialCluster(three));
    // Two etcd hosts more in the inventory: the inventory's initial cluster differs, the
    // container's settings (checked with its own) do not.
    const five = structuredClone(plain);
    for (const [n, a] of [
      ['ha6', '10.0.0.16'],
      ['ha7', '10.0.0.17'],
    ] as const)
      five.hosts.push({ name: n, address: a, roles: ['etcd'] });
    assert.notEqual(etcdConfigHash(five, 'ha1'), label);
    assert.equal(etcdConfigHash(five, 'ha1', inspected.initialCluster), label);
    // A joining member starts `existing`, with the cluster's list.
    const join = etcdRunArgv(five, 'ha6', 'existing', `${inspected.initialCluster},api7-etcd-4=x`);
    assert.ok(join.includes('ETCD_INITIAL_CLUSTER_STATE=existing'));
    assert.ok(join.includes(`ETCD_INITIAL_CLUSTER=${inspected.initialCluster},api7-etcd-4=x`));
  });
  it('an old inspect line (no env) still parses', () => {
    assert.equal(parseInspect('abc|true|1234|2026').initialCluster, undefined);
  });
});

describe('replace --plan', () => {
  it('lists the runbook for an etcd host in order, with no secret, touching nothing', () => {
    const steps = replacePlan(secured(), 'ha3');
    const text = renderReplacePlan(steps);
    const order = [
      'cluster lock',
      'member list',
      'preflight',
      'member remove',
      'docker rm -f etcd',
      '--learner',
      'ETCD_INITIAL_CLUSTER_STATE\\=existing',
      'member promote',
      'endpoint hashkv',
      'a deploy of the inventory',
    ].map((s) => text.indexOf(s));
    assert.ok(
      order.every((i) => i >= 0),
      text,
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      text,
    );
    assert.ok(!/ETCD_ROOT_PASSWORD|password=/i.test(text));
  });
  it('a gateway host: the lock and a deploy only', () => {
    assert.equal(replacePlan(plain, 'ha4').length, 2);
    assert.throws(() => replacePlan(plain, 'ha9'), /--host ha9/);
  });
});
