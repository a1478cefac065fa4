// Run by scripts/test.sh after `lab down`: the machine is as it was before `lab up`
// (no namespaces, bridges, iptables rules, processes or mounts left).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { machineSnapshot, type MachineSnapshot } from '../support/machine';

describe('after lab down', () => {
  const file = process.env.API7HA_SNAPSHOT_BEFORE;
  it(
    'leaves the machine as it was before lab up',
    { skip: !file && 'run by scripts/test.sh' },
    async () => {
      const before = JSON.parse(readFileSync(file!, 'utf8')) as MachineSnapshot;
      const after = await machineSnapshot();
      assert.deepEqual(after.netns, before.netns, 'network namespaces');
      assert.deepEqual(after.links, before.links, 'network links (bridge, veths)');
      assert.deepEqual(after.iptables, before.iptables, 'iptables rules');
      assert.deepEqual(after.mounts, before.mounts, 'mounts');
      assert.deepEqual(
        after.processes,
        before.processes,
        'lab processes (dockerd, sshd, haproxy, etcd, echo)',
      );
    },
  );
});
