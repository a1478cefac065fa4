// A non-root SSH user with sudo: where uploads travel, and the sudoers rules derived from
// the same builders the activities run (compared as strings, no SSH). Where visudo is
// installed, sudo's own parser checks the rendered drop-in too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseInventoryText } from '../../src/config/load';
import { findHost, stagedPath } from '../../src/commands/layout';
import {
  checksumArgv,
  discardArgv,
  incomingDirArgv,
  placeArgv,
  uploadPaths,
} from '../../src/commands/staging';
import {
  renderSudoers,
  sudoCheckArgv,
  sudoersArg,
  sudoersCommands,
  sudoSections,
} from '../../src/commands/sudo';
import { cutOffArgv, reconnectArgv } from '../../src/commands/drills';
import {
  guardedReadArgv,
  guardedSha256Argv,
  guardedWriteArgv,
  readImageManifestsArgv,
} from '../../src/commands/files';
import { projectRoot } from '../../src/paths';
import { deployPlan, renderPlan } from '../../src/commands/plan';

const inv = parseInventoryText(
  readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8'),
);
const bundle = inv.gateway.bundle;

describe('uploads as root or through sudo', () => {
  it('as root: the partial file sits beside the staged path and is renamed into place', () => {
    const u = uploadPaths(bundle, { user: 'root', sudo: false });
    assert.deepEqual(u, {
      staged: '/opt/api7-ha/artifacts/api7-2.13.2209.1-dp.tar.gz',
      partial: '/opt/api7-ha/artifacts/api7-2.13.2209.1-dp.tar.gz.part',
    });
    assert.deepEqual(placeArgv(u), ['mv', '-f', u.partial, u.staged]);
  });

  it("with sudo: the partial file is in the user's own 0700 directory; install copies it in as root", () => {
    const u = uploadPaths(bundle, { user: 'api7ops', sudo: true });
    assert.deepEqual(u, {
      staged: stagedPath(bundle),
      partial: '/opt/api7-ha/incoming/api7ops/api7-2.13.2209.1-dp.tar.gz.part',
      incoming: '/opt/api7-ha/incoming/api7ops',
    });
    assert.equal(
      incomingDirArgv('api7ops').join(' '),
      'install -d -o api7ops -m 0700 /opt/api7-ha/incoming/api7ops',
    );
    assert.equal(
      placeArgv(u).join(' '),
      `install -o root -g root -m 0644 ${u.partial} ${u.staged}`,
    );
    assert.deepEqual(checksumArgv(u.staged), ['sha256sum', u.staged]);
    assert.deepEqual(discardArgv(u.partial), ['rm', '-f', u.partial]);
  });
});

describe('sudoers arguments', () => {
  it('escapes what sudoers would read as a wildcard or a special character', () => {
    assert.equal(sudoersArg('*.tar.gz'), '\\*.tar.gz');
    assert.equal(sudoersArg('a,b:c=d#e!f?g[h]'), 'a\\,b\\:c\\=d\\#e\\!f\\?g\\[h\\]');
    // sudo unescapes twice: once when it reads the file, once when it compares.
    assert.equal(sudoersArg('%s\\n'), '%s\\\\\\\\n');
    assert.equal(
      sudoersArg('umask 077 && cat > "$1"'),
      'umask 077 && cat > "$1"',
      'quotes, $, & and > are literal',
    );
  });

  it('refuses arguments sudo cannot tell apart (it joins them with single spaces)', () => {
    for (const bad of ['', 'a  b', ' a', 'a ', 'a\tb', 'a\nb'])
      assert.throws(() => sudoersArg(bad), /cannot express/);
  });

  it('spells a rule once per path the command may have; docker takes any arguments', () => {
    assert.deepEqual(sudoersCommands({ argv: ['docker'], anyArgs: true }), [
      '/usr/bin/docker',
      '/usr/local/bin/docker',
    ]);
    assert.deepEqual(sudoersCommands({ argv: ['test', '-d', '/root'] }), [
      '/usr/bin/test -d /root',
    ]);
    assert.deepEqual(sudoersCommands({ argv: ['sh', '-c', 'x'] }), ['/bin/sh -c x']);
  });
});

describe('sudo rules per host', () => {
  const rules = (name: string) =>
    sudoSections(inv, findHost(inv, name), 'api7ops').flatMap((s) =>
      s.rules.map((r) => r.argv.join(' ')),
    );

  it('a gateway host: docker, its directories, its upload, its bundle and config file', () => {
    const dp = '/root/api7-2.13.2209.1-dp';
    assert.deepEqual(rules('ha5'), [
      'docker',
      'docker-compose',
      'test -d /opt/api7-ha/artifacts',
      'mkdir -p /opt/api7-ha/artifacts',
      'test -d /root',
      'mkdir -p /root',
      'install -d -o api7ops -m 0700 /opt/api7-ha/incoming/api7ops',
      'sha256sum /opt/api7-ha/artifacts/api7-2.13.2209.1-dp.tar.gz',
      'install -o root -g root -m 0644 /opt/api7-ha/incoming/api7ops/api7-2.13.2209.1-dp.tar.gz.part /opt/api7-ha/artifacts/api7-2.13.2209.1-dp.tar.gz',
      cutOffArgv(inv, 'ha5', 'host').join(' '),
      reconnectArgv(inv, 'ha5', 'host').join(' '),
      guardedReadArgv(dp, `${dp}/.api7-ha-bundle-sha256`).join(' '),
      'tar -xzf /opt/api7-ha/artifacts/api7-2.13.2209.1-dp.tar.gz -C /root',
      guardedWriteArgv(dp, `${dp}/.api7-ha-bundle-sha256`, '644').join(' '),
      readImageManifestsArgv(bundle, '/root').join(' '),
      guardedReadArgv(dp, `${dp}/.api7-ha-bundle-images`).join(' '),
      guardedWriteArgv(dp, `${dp}/.api7-ha-bundle-images`, '644').join(' '),
      'find /root/api7-2.13.2209.1-dp/images -maxdepth 1 -name *.tar.gz',
      guardedReadArgv(dp, `${dp}/gateway_conf/config.yaml`).join(' '),
      guardedWriteArgv(dp, `${dp}/gateway_conf/config.yaml`, '600').join(' '),
      guardedReadArgv(dp, `${dp}/.api7-ha-restart-pending`).join(' '),
      guardedWriteArgv(dp, `${dp}/.api7-ha-restart-pending`, '600').join(' '),
      // teardown: the bundle dir and api7-ha's own tree, looked at and removed
      `test -d ${dp}`,
      'test -d /opt/api7-ha',
      `rm -rf --one-file-system ${dp}`,
      'rm -rf --one-file-system /opt/api7-ha',
    ]);
  });

  it('an etcd host: teardown may remove etcd data only by its fixed path', () => {
    const r = rules('ha3');
    assert.ok(r.includes('test -d /usr/local/etcd/etcd_data'));
    assert.ok(r.includes('rm -rf --one-file-system /usr/local/etcd/etcd_data'));
    assert.ok(!r.some((x) => x.startsWith('rm -rf --one-file-system /root')), r.join('\n'));
  });

  it('an etcd-only host: no bundle or config rules, the etcd tarball and data directory', () => {
    const r = rules('ha3');
    assert.ok(r.includes('mkdir -p /usr/local/etcd/etcd_data'));
    assert.ok(r.includes('sha256sum /opt/api7-ha/artifacts/etcd-3.4.13.tar.gz'));
    assert.ok(!r.some((x) => x.startsWith('tar ') || x.includes('/root/api7-')), r.join('\n'));
    // The drills cut it off whole or only its etcd member, and heal it.
    for (const what of ['host', 'etcd'] as const)
      for (const argv of [cutOffArgv(inv, 'ha3', what), reconnectArgv(inv, 'ha3', what)])
        assert.ok(r.includes(argv.join(' ')), `${what}: ${argv.join(' ')}`);
  });

  it('an etcd + dashboard host has both, each rule once', () => {
    const r = rules('ha1');
    assert.equal(new Set(r).size, r.length);
    const cp = '/root/api7-2.13.2209.1-cp';
    assert.ok(r.includes(guardedReadArgv(cp, `${cp}/dashboard_conf/conf.yaml`).join(' ')));
    assert.ok(r.includes('sha256sum /opt/api7-ha/artifacts/etcd-3.4.13.tar.gz'));
  });

  it('preflight asks `sudo -l` (runs nothing) with the exact command line', () => {
    assert.deepEqual(sudoCheckArgv({ argv: ['docker'], anyArgs: true }), [
      'sudo',
      '-n',
      '-l',
      '--',
      'docker',
    ]);
    assert.deepEqual(sudoCheckArgv({ argv: ['test', '-d', '/root'] }), [
      'sudo',
      '-n',
      '-l',
      '--',
      'test',
      '-d',
      '/root',
    ]);
  });
});

describe('the sudoers drop-in', () => {
  const text = renderSudoers(inv, findHost(inv, 'ha5'), 'api7ops', 'prod.yaml');

  it('grants the user its aliases, password-less, as root only', () => {
    assert.match(
      text,
      /^api7ops ALL=\(root\) NOPASSWD: API7HA_DOCKER, API7HA_PREPARE, API7HA_SHIP, API7HA_DRILLS, API7HA_BUNDLES, API7HA_CONFIG, API7HA_TEARDOWN$/m,
    );
    assert.match(text, /^Defaults:api7ops !requiretty$/m);
    assert.match(text, /api7-ha hosts sudoers -i prod\.yaml --host ha5/);
  });

  it('has no open-ended rule besides docker and docker-compose', () => {
    const commands = text
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .filter((l) => l.startsWith('Cmnd_Alias'))
      .flatMap((l) => l.replace(/^Cmnd_Alias \w+ = /, '').split(/(?<!\\), /));
    const openEnded = commands.filter((c) => !c.includes(' ') || /(?<!\\)[*?[]/.test(c));
    assert.deepEqual(openEnded, [
      '/usr/bin/docker',
      '/usr/local/bin/docker',
      '/usr/bin/docker-compose',
      '/usr/local/bin/docker-compose',
    ]);
    assert.ok(
      commands.includes(
        '/usr/bin/find /root/api7-2.13.2209.1-dp/images -maxdepth 1 -name \\*.tar.gz',
      ),
    );
  });

  it('passes visudo', () => {
    // visudo comes with Debian's sudo, which scripts/setup.sh installs: never skipped.
    assert.ok(!spawnSync('visudo', ['-V']).error, 'visudo is installed (scripts/setup.sh)');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-sudoers-'));
    try {
      for (const h of inv.hosts) {
        const file = path.join(dir, h.name);
        writeFileSync(file, renderSudoers(inv, h, 'api7ops'));
        const r = spawnSync('visudo', ['-cf', file], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${h.name}: ${r.stdout}${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sudo rules with etcd TLS', () => {
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
  const rules = (name: string, section: string) =>
    sudoSections(tlsInv, findHost(tlsInv, name), 'api7ops')
      .find((s) => s.name === section)
      ?.rules.map((r) => r.argv.join(' ')) ?? [];

  it("an etcd host: the member's files in etcd.tls.certDir (keys 600, certificates 644)", () => {
    const r = rules('ha3', 'ETCD_TLS');
    assert.equal(r[0], 'mkdir -p -m 700 /usr/local/etcd/certs');
    assert.ok(r.includes('chmod 600 /usr/local/etcd/certs/member.key'));
    assert.ok(r.includes('chmod 644 /usr/local/etcd/certs/ca.crt'));
    const certs = '/usr/local/etcd/certs';
    assert.ok(r.includes(guardedWriteArgv(certs, `${certs}/member.key`, '600').join(' ')));
    assert.ok(r.includes(guardedSha256Argv(certs, `${certs}/member.crt`).join(' ')));
    assert.deepEqual(rules('ha4', 'ETCD_TLS'), []);
  });

  it('a gateway host: the client files in the bundle dir and the compose override', () => {
    const dir = '/root/api7-2.13.2209.1-dp';
    const r = rules('ha5', 'CLIENT_TLS');
    assert.equal(r[0], `mkdir -p -m 700 ${dir}/api7-ha-etcd-tls`);
    assert.ok(r.includes(`chmod 600 ${dir}/api7-ha-etcd-tls/client.key`));
    assert.ok(r.includes(guardedReadArgv(dir, `${dir}/docker-compose.yaml`).join(' ')));
    assert.ok(
      r.includes(guardedWriteArgv(dir, `${dir}/docker-compose.override.yaml`, '644').join(' ')),
    );
  });

  it('passes visudo', () => {
    // visudo comes with Debian's sudo, which scripts/setup.sh installs: never skipped.
    assert.ok(!spawnSync('visudo', ['-V']).error, 'visudo is installed (scripts/setup.sh)');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-sudoers-'));
    try {
      for (const h of tlsInv.hosts) {
        const file = path.join(dir, h.name);
        writeFileSync(file, renderSudoers(tlsInv, h, 'api7ops'));
        const r = spawnSync('visudo', ['-cf', file], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${h.name}: ${r.stdout}${r.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without etcd.tls there are no TLS rules', () => {
    const names = sudoSections(inv, findHost(inv, 'ha1'), 'api7ops').map((s) => s.name);
    assert.deepEqual(names, [
      'DOCKER',
      'PREPARE',
      'SHIP',
      'REPLACE',
      'BACKUP',
      'DRILLS',
      'RESTORE',
      'BUNDLES',
      'CONFIG',
      'TEARDOWN',
    ]);
  });
});

describe('plan for a host reached with sudo', () => {
  it('shows the login, one mkdir per directory, and the upload through the user directory', () => {
    const withSudo = structuredClone(inv);
    withSudo.hosts[4]!.ssh = { ...withSudo.hosts[4]!.ssh, user: 'api7ops', sudo: true };
    const text = renderPlan(deployPlan(withSudo, '/ops'));
    const ha5 = text.slice(text.indexOf('== ha5'));
    assert.match(ha5, /\[login\] as api7ops: the commands below run through `sudo -n --`/);
    assert.match(
      ha5,
      /\[ship\] \$ install -d -o api7ops -m 0700 \/opt\/api7-ha\/incoming\/api7ops/,
    );
    assert.match(ha5, /upload \S+dp\.tar\.gz -> \/opt\/api7-ha\/incoming\/api7ops\/\S+\.part/);
    assert.match(
      ha5,
      /\$ install -o root -g root -m 0644 \/opt\/api7-ha\/incoming\/api7ops\/\S+\.part \/opt\/api7-ha\/artifacts\//,
    );
    const ha1 = text.slice(text.indexOf('== ha1'), text.indexOf('== ha2'));
    assert.doesNotMatch(ha1, /\[login\]|incoming/, 'a root host uploads beside the staged path');
    assert.match(ha1, /\$ mv -f \/opt\/api7-ha\/artifacts\/\S+\.part \/opt\/api7-ha\/artifacts\//);
    assert.match(ha1, /\[prepare\] \$ mkdir -p \/usr\/local\/etcd\/etcd_data/);
  });
});
