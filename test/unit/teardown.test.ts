// What teardown looks for and removes on a host (commands/teardown.ts): derived from the
// deploy's own facts, only what was found is removed, and etcd's data only when asked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseInventoryText } from '../../src/config/load';
import { findHost, stagedPath } from '../../src/commands/layout';
import { renderPlan } from '../../src/commands/plan';
import {
  footprint,
  observeCommands,
  parseObservation,
  removeCommands,
  teardownPlan,
} from '../../src/commands/teardown';
import { artifactsFor } from '../../src/commands/layout';
import { bundledOn } from '../../src/model/components';
import { projectRoot } from '../../src/paths';
import { inventory } from '../support/workflow-env';

const inv = inventory();
const ok = (stdout = '') => ({ code: 0, stdout });
const missing = { code: 1, stdout: '' };
const cp = '/root/api7-2.13.2209.1-cp';

describe('teardown footprint', () => {
  it('an etcd + dashboard host: etcd container, dashboard service, both images, bundle and api7-ha tree', () => {
    const f = footprint(inv, findHost(inv, 'ha1'));
    assert.deepEqual(f.containers, ['etcd', 'api7-ha-etcd-snapshot']);
    assert.deepEqual(f.services, ['api7-dashboard']);
    assert.deepEqual(f.projects, ['api7-21322091-cp']); // the guide's project name
    assert.deepEqual(f.images, [inv.etcd.image, inv.dashboard.image]);
    assert.deepEqual(f.trees, [cp, '/opt/api7-ha']);
    assert.equal(f.etcdData, '/usr/local/etcd/etcd_data');
  });

  it('a gateway host has no etcd data, and every uploaded artifact is under the removed tree', () => {
    const h = findHost(inv, 'ha5');
    const f = footprint(inv, h);
    assert.equal(f.etcdData, undefined);
    assert.deepEqual(f.containers, []);
    for (const a of artifactsFor(inv, h))
      assert.ok(
        f.trees.some((t) => stagedPath(a).startsWith(`${t}/`)),
        stagedPath(a),
      );
    for (const b of bundledOn(inv, h)) assert.ok(f.trees.includes(b.dir));
    // The install dir itself (the guide's /root) is never removed, only the bundle inside it.
    assert.ok(!f.trees.includes('/root'));
  });

  it('with etcd.tls: the member files and certDir (only once empty)', () => {
    const tlsInv = parseInventoryText(
      readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8').replace(
        /^etcd:.*$/m,
        [
          'etcd:',
          '  tls:',
          '    ca: pki/ca.crt',
          '    memberCert: pki/{host}.crt',
          '    memberKey: file:pki/{host}.key',
          '    clientCert: pki/client.crt',
          '    clientKey: file:pki/client.key',
        ].join('\n'),
      ),
    );
    const f = footprint(tlsInv, findHost(tlsInv, 'ha3'));
    assert.deepEqual(f.files, [
      '/usr/local/etcd/certs/ca.crt',
      '/usr/local/etcd/certs/member.crt',
      '/usr/local/etcd/certs/member.key',
    ]);
    assert.deepEqual(f.emptyDirs, ['/usr/local/etcd/certs']);
  });
});

describe('teardown observe and remove', () => {
  const f = footprint(inv, findHost(inv, 'ha1'));
  const n = observeCommands(f).length;

  it('nothing found: nothing to run (a second teardown is a no-op)', () => {
    const found = parseObservation(
      f,
      Array.from({ length: n }, () => missing),
    );
    assert.deepEqual(removeCommands(f, found, [], 'keep'), []);
    assert.deepEqual(removeCommands(f, found, [], 'delete'), []);
  });

  it('everything found: stop, remove, networks, images, trees; etcd data kept unless delete', () => {
    const manifest = JSON.stringify([
      { Config: `${'a'.repeat(64)}.json`, RepoTags: [inv.dashboard.image, 'api7/extra:1'] },
    ]);
    const results = [
      ok('etcdid\n'),
      missing, // no snapshot container
      ok('c1 api7-21322091-cp\nc0 api7-old-cp\n'),
      ok('net1\n'),
      ok(), // etcd image
      ok(), // dashboard image
      ok(), // bundle dir
      ok(), // /opt/api7-ha
      ok(), // etcd data dir
      ok(`${manifest}\n`),
    ];
    assert.equal(results.length, n);
    const found = parseObservation(f, results);
    assert.deepEqual(
      found.containers.map((c) => c.what),
      ['etcd', 'api7-dashboard (api7-21322091-cp)', 'api7-dashboard (api7-old-cp)'],
    );
    assert.deepEqual(found.markedImages, ['api7/extra:1']);
    const keep = removeCommands(f, found, found.markedImages, 'keep').map((a) => a.join(' '));
    assert.deepEqual(keep, [
      'docker stop -t 10 etcdid c1 c0',
      'docker rm etcdid c1 c0',
      'docker network rm net1',
      `docker image rm ${inv.etcd.image}`,
      `docker image rm ${inv.dashboard.image}`,
      'docker image rm api7/extra:1',
      `rm -rf --one-file-system ${cp}`,
      'rm -rf --one-file-system /opt/api7-ha',
    ]);
    const del = removeCommands(f, found, [], 'delete').map((a) => a.join(' '));
    assert.equal(del.at(-1), 'rm -rf --one-file-system /usr/local/etcd/etcd_data');
  });

  it('the plan names the kept etcd data, or its deletion', () => {
    const keep = renderPlan(teardownPlan(inv, 'keep'));
    assert.match(keep, /== ha3[\s\S]*keep \/usr\/local\/etcd\/etcd_data/);
    assert.doesNotMatch(keep, /rm -rf --one-file-system \/usr\/local\/etcd\/etcd_data/);
    const del = renderPlan(teardownPlan(inv, 'delete'));
    assert.match(del, /rm -rf --one-file-system \/usr\/local\/etcd\/etcd_data/);
    assert.match(keep, /== ha5[\s\S]*docker image rm/);
  });
});
