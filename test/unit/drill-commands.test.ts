// The packet filters of the host and etcd-partition drills, as built (pure): what each
// cut drops and keeps, that healing removes exactly api7-ha's chains and checks they are
// gone, and the partition's linearizable read. The lab e2e (test/e2e/drills.test.ts) runs
// them for real.
import { describe, it } from 'node:test';
import { quote } from 'shell-quote';
import assert from 'node:assert/strict';
import {
  CUT_CHAIN_PREFIX,
  cutOffArgv,
  linearizableReadArgv,
  reconnectArgv,
} from '../../src/commands/drills';
import { inventory } from '../support/workflow-env';

const script = (argv: string[]) => {
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  assert.equal(argv.length, 3, 'one fixed script, no arguments (a sudoers rule allows exactly it)');
  return argv[2]!;
};

describe('drill packet filters', () => {
  const inv = inventory();

  it('host: drops everything but loopback and the SSH port, in INPUT, OUTPUT and FORWARD', () => {
    const s = script(cutOffArgv(inv, 'ha1', 'host'));
    for (const hook of ['INPUT', 'OUTPUT', 'FORWARD'])
      assert.ok(
        s.includes(`iptables -w -I ${hook} 1 -j ${CUT_CHAIN_PREFIX}-HOST-${hook}`),
        `${hook} hooked first`,
      );
    assert.ok(s.includes('-A API7HA-CUT-HOST-INPUT -p tcp --dport 22 -j RETURN'));
    assert.ok(s.includes('-A API7HA-CUT-HOST-OUTPUT -p tcp --sport 22 -j RETURN'));
    assert.ok(s.includes('-A API7HA-CUT-HOST-INPUT -i lo -j RETURN'));
    assert.ok(s.includes('-A API7HA-CUT-HOST-FORWARD -j DROP'));
    // The chain is filled before it is hooked, and a second run empties it first.
    assert.ok(s.indexOf('-A API7HA-CUT-HOST-INPUT -j DROP') < s.indexOf('-I INPUT 1'));
    assert.ok(
      s.includes('-N API7HA-CUT-HOST-INPUT 2>/dev/null || iptables -w -F API7HA-CUT-HOST-INPUT'),
    );
  });

  it("host: keeps the host's own SSH port open", () => {
    const custom = inventory();
    custom.hosts[0]!.ssh = { ...custom.hosts[0]!.ssh, port: 2222 };
    const s = script(cutOffArgv(custom, 'ha1', 'host'));
    assert.ok(s.includes('--dport 2222 -j RETURN') && !s.includes('--dport 22 '));
  });

  it("etcd: drops only etcd's client and peer ports, not on loopback, in INPUT and OUTPUT", () => {
    const s = script(cutOffArgv(inv, 'ha2', 'etcd'));
    // As the shell reads it back: 2379,2380 (shell-quote escapes the comma).
    const ports = quote([`${inv.etcd.clientPort},${inv.etcd.peerPort}`]);
    assert.ok(s.includes(`-A API7HA-CUT-ETCD-INPUT -p tcp -m multiport --dports ${ports} -j DROP`));
    assert.ok(
      s.includes(`-A API7HA-CUT-ETCD-OUTPUT -p tcp -m multiport --sports ${ports} -j DROP`),
    );
    assert.ok(s.includes('-A API7HA-CUT-ETCD-OUTPUT -o lo -j RETURN'));
    assert.ok(!s.includes('FORWARD'), 'containers on this host still reach the other members');
    assert.ok(
      !/-j DROP(;|$)/.test(s.replace(/--[ds]ports \S+ -j DROP/g, '')),
      'nothing else dropped',
    );
  });

  it('healing unhooks every jump, deletes the chains whether or not they exist, and fails only if one is left', () => {
    for (const what of ['host', 'etcd'] as const) {
      const s = script(reconnectArgv(inv, 'ha1', what));
      const chains = what === 'host' ? ['INPUT', 'OUTPUT', 'FORWARD'] : ['INPUT', 'OUTPUT'];
      for (const hook of chains) {
        const c = `API7HA-CUT-${what.toUpperCase()}-${hook}`;
        assert.ok(s.includes(`while iptables -w -D ${hook} -j ${c} 2>/dev/null; do :; done`));
        assert.ok(s.includes(`iptables -w -X ${c} 2>/dev/null || true`));
        assert.ok(s.includes(`if iptables -w -n -L ${c} >/dev/null 2>&1; then`));
      }
      assert.ok(!s.startsWith('set -e'), 'a missing chain is not an error');
    }
  });

  it('the partition read is linearizable, against the member on its own host, password on stdin', () => {
    const argv = linearizableReadArgv(inv, 'ha2', true);
    assert.ok(argv.includes('--consistency=l'));
    assert.ok(argv.includes(`--endpoints=http://${inv.hosts[1]!.address}:${inv.etcd.clientPort}`));
    assert.ok(argv.includes('-i'), 'stdin open for the password');
    assert.ok(!argv.join(' ').includes('secret'), 'no password in the command line');
  });
});
