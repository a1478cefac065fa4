// The deploy's first step on the operator's machine: secret references must resolve and
// artifacts must exist, match their sha256 and have the vendor layout — checked before
// any host is touched, each problem naming its field (and never a secret's value).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { checkInventoryLocally } from '../../src/activities/validate';
import type { DeployInput } from '../../src/activities/context';
import { parseInventoryText } from '../../src/config/load';
import { projectRoot } from '../../src/paths';
import { run } from '../../src/util/exec';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('local checks before any host', () => {
  let dir: string;
  let base: () => DeployInput;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-validate-'));
    for (const [name, conf] of [
      ['api7-2.13.2209.1-cp', 'dashboard_conf'],
      ['api7-2.13.2209.1-dp', 'gateway_conf'],
    ] as const) {
      mkdirSync(path.join(dir, name, conf), { recursive: true });
      mkdirSync(path.join(dir, name, 'images'), { recursive: true });
      writeFileSync(path.join(dir, name, 'docker-compose.yaml'), 'services: {}\n');
      await run(['tar', '-czf', path.join(dir, `${name}.tar.gz`), '-C', dir, name]);
    }
    writeFileSync(path.join(dir, 'etcd-3.4.13.tar.gz'), 'not really an image');
    // A real key: the local checks parse it.
    await run([
      'ssh-keygen',
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      '',
      '-f',
      path.join(dir, 'id_ed25519'),
    ]);
    const text = readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8')
      .replace('file:~/.ssh/api7_ha_ed25519', `file:${dir}/id_ed25519`)
      .replace(/artifacts\//g, `${dir}/`);
    const inv = parseInventoryText(text);
    inv.dashboard.bundle.sha256 = sha(path.join(dir, 'api7-2.13.2209.1-cp.tar.gz'));
    inv.gateway.bundle.sha256 = sha(path.join(dir, 'api7-2.13.2209.1-dp.tar.gz'));
    inv.etcd.imageTarball!.sha256 = sha(path.join(dir, 'etcd-3.4.13.tar.gz'));
    process.env.API7_DASHBOARD_PASSWORD = 'S3cret-dashboard-pw';
    process.env.API7_DASHBOARD_TOKEN_SECRET = 'S3cret-token';
    base = () => ({ inventory: structuredClone(inv), baseDir: dir });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function problems(mutate: (i: DeployInput) => void): Promise<string> {
    const input = base();
    mutate(input);
    try {
      await checkInventoryLocally(input);
    } catch (e) {
      assert.ok(e instanceof ApplicationFailure && e.nonRetryable, 'bad input is not retried');
      assert.ok(
        !e.message.includes('S3cret') &&
          !e.message.includes('PRIVATE KEY') &&
          !e.message.includes('AAAA'),
        'no secret value in the message',
      );
      return e.message;
    }
    return '';
  }

  it('accepts good artifacts and resolvable references', async () => {
    assert.equal(await problems(() => {}), '');
  });
  it('refuses an artifact whose sha256 does not match', async () => {
    assert.match(
      await problems((i) => (i.inventory.gateway.bundle.sha256 = 'f'.repeat(64))),
      /gateway\.bundle\.sha256: .* has sha256 [0-9a-f]{64}, the inventory says f{64}/,
    );
  });
  it('refuses a missing artifact', async () => {
    assert.match(
      await problems((i) => (i.inventory.etcd.imageTarball!.path = 'gone.tar.gz')),
      /etcd\.imageTarball\.path: .*gone\.tar\.gz does not exist/,
    );
  });
  it('refuses an unreadable key file, naming the field and the file', async () => {
    assert.match(
      await problems((i) => (i.inventory.ssh.privateKey = 'file:/nonexistent/key')),
      /ssh\.privateKey: \/nonexistent\/key does not exist/,
    );
  });
  it('refuses a reference to an unset environment variable', async () => {
    assert.match(
      await problems((i) => (i.inventory.dashboard.password = 'env:API7HA_SURELY_UNSET')),
      /dashboard\.password: environment variable API7HA_SURELY_UNSET is not set/,
    );
  });
  it('refuses a bundle without the vendor layout', async () => {
    const odd = path.join(dir, 'odd');
    mkdirSync(path.join(odd, 'api7-odd-cp'), { recursive: true });
    writeFileSync(path.join(odd, 'api7-odd-cp', 'README'), 'x');
    await run(['tar', '-czf', path.join(dir, 'api7-odd-cp.tar.gz'), '-C', odd, 'api7-odd-cp']);
    const msg = await problems(
      (i) =>
        (i.inventory.dashboard.bundle = {
          path: 'api7-odd-cp.tar.gz',
          sha256: sha(path.join(dir, 'api7-odd-cp.tar.gz')),
        }),
    );
    assert.match(
      msg,
      /dashboard\.bundle\.path: \S*\/api7-odd-cp\.tar\.gz has no api7-odd-cp\/docker-compose\.yaml/,
    );
  });
  it('refuses an inventory that fails the schema (it may arrive without the CLI)', async () => {
    assert.match(
      await problems((i) => ((i.inventory as { cluster: string }).cluster = 'x;reboot')),
      /cluster: must be lower-case/,
    );
  });
});
