// `api7-ha remove`: the minimums computed from the roles that remain, the refusals naming
// what would be lost, and the inventory contract (the host is still listed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { removeRefusal } from '../../src/cli/remove';
import { renderPlan } from '../../src/commands/plan';
import { removePlan } from '../../src/commands/remove';
import { removalLosses, removalTargetProblem } from '../../src/model/minimums';
import { deployInput, inventory } from '../support/workflow-env';

const inv = inventory();
const three = inventory({ dataPlaneHosts: 3 });

describe('remove refusals', () => {
  it('a third gateway may go; one of two may not, naming what would be lost', () => {
    assert.deepEqual(removalLosses(three, 'ha6'), []);
    assert.deepEqual(removalLosses(inv, 'ha4'), [
      'removing ha4 would leave 1 gateway (ha5); the data plane needs 2 gateways to survive one failure, so at least 2 must stay (--force takes it out anyway)',
    ]);
  });

  it('an etcd member below 3, and the last dashboard, are named', () => {
    const r = removalLosses(inv, 'ha1');
    assert.equal(r.length, 1);
    assert.match(r[0]!, /would leave 2 etcd members \(ha2, ha3\); etcd needs 3 members/);
    const oneDashboard = structuredClone(inv);
    oneDashboard.hosts[1]!.roles = ['etcd'];
    assert.match(
      removalLosses(oneDashboard, 'ha1').join('\n'),
      /would leave 0 dashboards; without a dashboard nobody can change routes/,
    );
  });

  it('a host not in the inventory: the error names the field and the contract', () => {
    assert.match(
      removalTargetProblem(inv, 'ha9')!,
      /^--host ha9: no host of that name in hosts\[\] \(ha1, ha2, ha3, ha4, ha5\)\. remove takes the inventory of the cluster as it is now, with the host still listed/,
    );
  });

  it('--force takes a gateway below the minimum; an etcd host is refused (not yet supported)', () => {
    const input = (host: string, force?: boolean) => ({ ...deployInput(inv), host, force });
    assert.match(
      removeRefusal(input('ha4'))!,
      /^remove refused: removing ha4 would leave 1 gateway/,
    );
    assert.equal(removeRefusal(input('ha4', true)), undefined);
    assert.match(removeRefusal(input('ha3', true))!, /ha3 is an etcd member/);
    assert.equal(removeRefusal({ ...deployInput(three), host: 'ha6' }), undefined);
  });

  it('the plan drains the gateway, waits, then removes only that host’s things', () => {
    const text = renderPlan(removePlan(three, 'ha6'));
    assert.match(
      text,
      /== ha6\n\[drain\] \$ docker compose --project-directory \/root\/api7-2\.13\.2209\.1-dp .* down/,
    );
    assert.match(text, /wait 5 s \(deploy\.restartPauseSeconds\)/);
    assert.match(
      text,
      /\[cleanup files\] \$ rm -rf --one-file-system \/root\/api7-2\.13\.2209\.1-dp/,
    );
    assert.doesNotMatch(text, /== ha[1-5]/);
  });
});
