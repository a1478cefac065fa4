// Hostile inputs, one table: every class of issue 9 (files that are not regular or are
// too big, YAML that could mean something else or cost too much, values in
// non-canonical forms, secrets that cannot work, bundles that try to escape). Each case
// is refused with a message naming its field, within a time bound, and without a secret
// in the output; the legitimate spellings next to them are accepted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ApplicationFailure } from '@temporalio/common';
import { checkInventoryLocally } from '../../src/activities/validate';
import { parseInventoryText, InventoryError, loadInventory } from '../../src/config/load';
import { projectRoot } from '../../src/paths';
import { run } from '../../src/util/exec';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const SECRETS = ['S3cret-dashboard-pw', 'S3cret-token', 'PRIVATE KEY', 'AAAAC3NzaC1lZDI1NTE5'];
/** Every refusal here must come well within this (the slowest are 1 GiB files and 1 MiB YAML). */
const TIME_BOUND_MS = 3000;

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('hostile inputs are refused by field, fast, without secrets', () => {
  let dir: string;
  let exampleText: string;
  let good: Doc;
  const file = (name: string) => path.join(dir, name);

  /** A Python tarfile script: entries the real tar cannot easily make without root. */
  async function pyTar(out: string, body: string) {
    await run([
      'python3',
      '-c',
      `import tarfile, io, sys\nt = tarfile.open(sys.argv[1], 'w:gz')\ndef add(name, type=tarfile.REGTYPE, data=b'', link='', mode=0o644):\n    i = tarfile.TarInfo(name); i.type = type; i.linkname = link; i.mode = mode; i.size = len(data) if type == tarfile.REGTYPE else 0\n    t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)\ntop = 'api7-2.13.2209.1-cp'\nadd(top, tarfile.DIRTYPE, mode=0o755)\nadd(top + '/docker-compose.yaml', data=b'services: {}\\n')\nadd(top + '/dashboard_conf', tarfile.DIRTYPE, mode=0o755)\nadd(top + '/images', tarfile.DIRTYPE, mode=0o755)\n${body}\nt.close()\n`,
      out,
    ]);
  }

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-hostile-'));
    for (const [name, conf] of [
      ['api7-2.13.2209.1-cp', 'dashboard_conf'],
      ['api7-2.13.2209.1-dp', 'gateway_conf'],
    ] as const) {
      mkdirSync(path.join(dir, name, conf), { recursive: true });
      mkdirSync(path.join(dir, name, 'images'), { recursive: true });
      writeFileSync(path.join(dir, name, 'docker-compose.yaml'), 'services: {}\n');
      writeFileSync(path.join(dir, name, conf, 'conf.yaml'), 'conf: {}\n');
      await run(['tar', '-czf', file(`${name}.tar.gz`), '-C', dir, name]);
    }
    writeFileSync(file('etcd-3.4.13.tar.gz'), 'not really an image');
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file('id')]);
    await run([
      'ssh-keygen',
      '-q',
      '-t',
      'ed25519',
      '-N',
      'pass-phrase',
      '-C',
      '',
      '-f',
      file('enc'),
    ]);
    writeFileSync(file('empty'), '');
    writeFileSync(file('blank'), '  \n');
    writeFileSync(file('garbage'), 'not a key at all\n');
    writeFileSync(file('known_hosts'), '');
    execMkfifo(file('fifo'));
    mkdirSync(file('a-dir'));
    writeFileSync(file('big'), '');
    truncateSync(file('big'), 1024 ** 3); // 1 GiB, sparse
    symlinkSync(file('loop1'), file('loop2'));
    symlinkSync(file('loop2'), file('loop1'));

    exampleText = readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8')
      .replace('file:~/.ssh/api7_ha_ed25519', `file:${file('id')}`)
      .replace(/artifacts\//g, `${dir}/`);
    good = parse(exampleText) as Doc;
    good.dashboard.bundle.sha256 = sha(file('api7-2.13.2209.1-cp.tar.gz'));
    good.gateway.bundle.sha256 = sha(file('api7-2.13.2209.1-dp.tar.gz'));
    good.etcd.imageTarball.sha256 = sha(file('etcd-3.4.13.tar.gz'));
    process.env.API7_DASHBOARD_PASSWORD = 'S3cret-dashboard-pw';
    process.env.API7_DASHBOARD_TOKEN_SECRET = 'S3cret-token';
    process.env.API7HA_BLANK = '   ';
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function execMkfifo(p: string) {
    assert.equal(spawnSync('mkfifo', [p]).status, 0, 'mkfifo');
  }

  /** All local checks on an inventory text: its message, or '' when accepted. */
  async function check(text: string): Promise<string> {
    const started = Date.now();
    let message = '';
    try {
      const inventory = parseInventoryText(text, 'hostile.yaml');
      await checkInventoryLocally({ inventory, baseDir: dir });
    } catch (e) {
      assert.ok(
        e instanceof InventoryError || (e instanceof ApplicationFailure && e.nonRetryable),
        `a refusal, not a crash: ${String(e)}`,
      );
      message = e.message;
    }
    const took = Date.now() - started;
    assert.ok(took < TIME_BOUND_MS, `took ${took} ms`);
    for (const s of SECRETS) assert.ok(!message.includes(s), `no secret in: ${message}`);
    assert.ok(!/\bE[A-Z]{3,}\b|\n\s+at /.test(message), `no errno or stack trace: ${message}`);
    return message;
  }
  const mutate = (fn: (d: Doc) => void) => {
    const d = structuredClone(good);
    fn(d);
    return stringify(d);
  };
  const withBundle = async (name: string, body: string) => {
    // The bundle's directory comes from its file name, as the vendor names them.
    mkdirSync(file(name));
    const out = file(`${name}/api7-2.13.2209.1-cp.tar.gz`);
    await pyTar(out, body);
    return mutate((d) => {
      d.dashboard.bundle = { path: out, sha256: sha(out) };
    });
  };

  it('accepts the example inventory with real artifacts (the baseline)', async () => {
    assert.equal(await check(stringify(good)), '');
  });

  type Case = [name: string, text: () => string | Promise<string>, expect: RegExp];
  const refused: Case[] = [
    // YAML that would mean something else, or cost too much
    ['a %YAML 1.1 directive', () => `%YAML 1.1\n---\n${exampleText}`, /directives \(%YAML\)/],
    ['a %TAG directive', () => `%TAG !e! tag:example.com:\n---\n${exampleText}`, /directives/],
    ['a standard tag', () => exampleText.replace('port: 22', 'port: !!int 22'), /tags \(!!int\)/],
    [
      'a custom tag',
      () => exampleText.replace('cluster: prod-gw', 'cluster: !evil prod-gw'),
      /tags \(!evil\)/,
    ],
    ['a second document', () => `${exampleText}---\ncluster: other\n`, /a second YAML document/],
    [
      'content after the document end',
      () => `${exampleText}...\ncluster: other\n`,
      /after the end of the document/,
    ],
    [
      'a merge key',
      () => `${exampleText}x-defaults: &d {port: 22}\nextra:\n  <<: *d\n`,
      /extra: merge keys \(<<\)/,
    ],
    [
      'a YAML 1.1 octal port',
      () => exampleText.replace('port: 22', 'port: 022'),
      /ssh\.port: 022 has a leading zero/,
    ],
    [
      'a 1.2 octal port',
      () => exampleText.replace('port: 22', 'port: 0o26'),
      /ssh\.port: 0o26 is an octal number/,
    ],
    [
      'a hex port',
      () => exampleText.replace('port: 22', 'port: 0x16'),
      /ssh\.port: 0x16 is a hexadecimal/,
    ],
    [
      'a base-60 number',
      () => exampleText.replace('port: 22', 'port: 1:20'),
      /ssh\.port: 1:20 is a base-60 number/,
    ],
    [
      'a YAML 1.1 boolean',
      () => exampleText.replace('enabled: false', 'enabled: no'),
      /etcd\.auth\.enabled: no is a boolean in YAML 1\.1/,
    ],
    [
      'an alias bomb',
      () =>
        `a: &a [x,x,x,x,x,x,x,x,x]\n${Array.from({ length: 20 }, (_, i) => `b${i}: [*a,*a]`).join('\n')}\n`,
      /more than 16 aliases/,
    ],
    ['flow collections nested 100 000 deep', () => '['.repeat(100_000), /nested more than 32 deep/],
    [
      '60 000 keys in one mapping',
      () => Array.from({ length: 60_000 }, (_, i) => `k${i}: 1`).join('\n'),
      /more than 5000 mapping keys/,
    ],
    [
      'more than 1 MiB of text',
      () => `${exampleText}#${'x'.repeat(1024 * 1024)}\n`,
      /larger than 1048576 bytes/,
    ],
    // addresses in non-canonical or impossible forms
    [
      'an inet_aton shorthand',
      () => mutate((d) => (d.hosts[0].address = '10.1')),
      /hosts\[0\]\.address: must be an IPv4 address in dotted decimal/,
    ],
    [
      'a hex IPv4 address',
      () => mutate((d) => (d.hosts[0].address = '0x0a.0.0.1')),
      /hosts\[0\]\.address: must be an IPv4 address in dotted decimal/,
    ],
    [
      'an octal (leading-zero) IPv4 address',
      () => mutate((d) => (d.hosts[0].address = '012.0.0.1')),
      /hosts\[0\]\.address: must be an IPv4/,
    ],
    [
      'a 32-bit integer address',
      () => mutate((d) => (d.hosts[0].address = '167772171')),
      /hosts\[0\]\.address: must be an IPv4/,
    ],
    [
      'the unspecified address',
      () => mutate((d) => (d.hosts[0].address = '0.0.0.0')),
      /hosts\[0\]\.address: is an unspecified/,
    ],
    [
      'the broadcast address',
      () => mutate((d) => (d.hosts[1].address = '255.255.255.255')),
      /hosts\[1\]\.address: is the broadcast address/,
    ],
    [
      'a multicast address',
      () => mutate((d) => (d.hosts[1].address = '224.0.0.5')),
      /hosts\[1\]\.address: is a multicast address/,
    ],
    [
      'loopback in a five-host cluster',
      () => mutate((d) => (d.hosts[2].address = '127.0.0.1')),
      /hosts\[2\]\.address: 127\.0\.0\.1 is a loopback address/,
    ],
    [
      'localhost in a five-host cluster',
      () => mutate((d) => (d.hosts[2].address = 'localhost')),
      /hosts\[2\]\.address: localhost is a loopback/,
    ],
    [
      'the same host name in another case',
      () =>
        mutate((d) => {
          d.hosts[0].address = 'HA1.example.com';
          d.hosts[1].address = 'ha1.example.com';
        }),
      /hosts\[1\]\.address: duplicates hosts\[0\]\.address \(ha1\.example\.com\)/,
    ],
    [
      'a DNS label of 64 characters',
      () => mutate((d) => (d.hosts[0].address = `${'a'.repeat(64)}.example.com`)),
      /hosts\[0\]\.address: must be an IPv4 address or a host name/,
    ],
    [
      'a numeric top-level label',
      () => mutate((d) => (d.hosts[0].address = 'ha1.10')),
      /hosts\[0\]\.address: must be an IPv4 address in dotted decimal/,
    ],
    // ports and URLs
    [
      'an SSH port that an etcd port also claims',
      () => mutate((d) => (d.ssh.port = 2379)),
      /hosts\[0\]\.roles: port 2379 is used by both ssh\.port and etcd\.clientPort/,
    ],
    [
      'a load balancer on port 0',
      () => mutate((d) => (d.loadBalancers.dataPlane = 'http://10.0.0.200:0')),
      /loadBalancers\.dataPlane: port must be between 1 and 65535/,
    ],
    [
      'a load balancer host in hex shorthand',
      () => mutate((d) => (d.loadBalancers.controlPlane = 'http://0x7f.1:9000')),
      /loadBalancers\.controlPlane: host 0x7f\.1 must be an IPv4 address in dotted decimal/,
    ],
    [
      'a load balancer host label over 63',
      () => mutate((d) => (d.loadBalancers.controlPlane = `http://${'b'.repeat(64)}.example.com/`)),
      /loadBalancers\.controlPlane: host b+\.example\.com must be/,
    ],
    [
      'credentials in a load balancer URL',
      () => mutate((d) => (d.loadBalancers.controlPlane = 'http://u:p@10.0.0.100:9000')),
      /loadBalancers\.controlPlane: must be an http:\/\/ or https:\/\/ URL with a host, without credentials/,
    ],
    [
      'an upstream on port 0',
      () => mutate((d) => (d.smokeTest.upstream = ['10.0.0.50:0'])),
      /smokeTest\.upstream\[0\]: port must be between 1 and 65535/,
    ],
    [
      'an upstream with a leading-zero port',
      () => mutate((d) => (d.smokeTest.upstream = ['10.0.0.50:080'])),
      /smokeTest\.upstream\[0\]: port must be between 1 and 65535, without leading zeros/,
    ],
    [
      'an upstream host that is not one',
      () => mutate((d) => (d.smokeTest.upstream = ['bad_host:80'])),
      /smokeTest\.upstream\[0\]: host bad_host must be an IPv4 address or a host name/,
    ],
    // remote paths, in every spelling
    [
      '// as an install directory',
      () => mutate((d) => (d.dashboard.installDir = '//')),
      /dashboard\.installDir: must not be the root directory/,
    ],
    [
      '/./ as an install directory',
      () => mutate((d) => (d.gateway.installDir = '/./')),
      /gateway\.installDir: must not be the root directory/,
    ],
    [
      '/etc as an install directory',
      () => mutate((d) => (d.gateway.installDir = '/etc')),
      /gateway\.installDir: must not be a system directory or inside one \(\/etc\)/,
    ],
    [
      'a directory under /usr/lib',
      () => mutate((d) => (d.gateway.installDir = '/usr//lib/x')),
      /gateway\.installDir: must not be a system directory or inside one \(\/usr\/lib\*\)/,
    ],
    [
      '/lib64 for etcd data',
      () => mutate((d) => (d.etcd.dataDir = '/lib64/etcd')),
      /etcd\.dataDir: must not be a system directory or inside one \(\/lib\*\)/,
    ],
    [
      '/proc for etcd data',
      () => mutate((d) => (d.etcd.dataDir = '/proc/1/root')),
      /etcd\.dataDir: must not be a system directory/,
    ],
    [
      '/var itself for etcd data',
      () => mutate((d) => (d.etcd.dataDir = '/var/')),
      /etcd\.dataDir: must not be \/var itself/,
    ],
    [
      "etcd data inside api7-ha's own directory",
      () => mutate((d) => (d.etcd.dataDir = '/opt/api7-ha/etcd')),
      /etcd\.dataDir: \/opt\/api7-ha\/etcd overlaps api7-ha's own \/opt\/api7-ha/,
    ],
    [
      '".." in a path',
      () => mutate((d) => (d.etcd.dataDir = '/usr/local/../etc')),
      /etcd\.dataDir: must not contain "\.\." segments/,
    ],
    // fingerprints and artifact names
    [
      'a fingerprint in non-canonical base64',
      () =>
        mutate(
          (d) => (d.hosts[0].ssh.hostKey = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV'),
        ),
      /hosts\[0\]\.ssh\.hostKey: must be an OpenSSH fingerprint/,
    ],
    [
      'a fingerprint with two padding characters',
      () =>
        mutate(
          (d) => (d.hosts[0].ssh.hostKey = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=='),
        ),
      /hosts\[0\]\.ssh\.hostKey: must be an OpenSSH fingerprint/,
    ],
    [
      'a bundle file name with shell characters',
      () => mutate((d) => (d.gateway.bundle.path = `${dir}/$(reboot).tar.gz`)),
      /gateway\.bundle\.path: must end in a file name of letters, digits/,
    ],
    // secrets that cannot work
    [
      'an empty private key file',
      () => mutate((d) => (d.ssh.privateKey = `file:${file('empty')}`)),
      /ssh\.privateKey: \S+empty is empty/,
    ],
    [
      'a whitespace-only password file',
      () => mutate((d) => (d.dashboard.password = `file:${file('blank')}`)),
      /dashboard\.password: \S+blank is empty \(only whitespace\)/,
    ],
    [
      'a whitespace-only password variable',
      () => mutate((d) => (d.dashboard.tokenSecret = 'env:API7HA_BLANK')),
      /dashboard\.tokenSecret: environment variable API7HA_BLANK holds only whitespace/,
    ],
    [
      'a public key as the private key',
      () => mutate((d) => (d.ssh.privateKey = `file:${file('id.pub')}`)),
      /ssh\.privateKey \(file:\S+id\.pub\) is a public key/,
    ],
    [
      'an encrypted private key',
      () => mutate((d) => (d.ssh.privateKey = `file:${file('enc')}`)),
      /ssh\.privateKey \(file:\S+enc\) is encrypted/,
    ],
    [
      'a private key that does not parse',
      () => mutate((d) => (d.hosts[3].ssh = { privateKey: `file:${file('garbage')}` })),
      /hosts\[3\]\.ssh\.privateKey \(file:\S+garbage\) is not an SSH private key/,
    ],
    // files that are not regular, or too big
    [
      'a private key that is a FIFO',
      () => mutate((d) => (d.ssh.privateKey = `file:${file('fifo')}`)),
      /ssh\.privateKey: \S+fifo is a named pipe \(FIFO\), not a regular file/,
    ],
    [
      'a private key that is /dev/zero',
      () => mutate((d) => (d.ssh.privateKey = 'file:/dev/zero')),
      /ssh\.privateKey: \/dev\/zero is a kernel pseudo-file/,
    ],
    [
      'a password file in /proc',
      () => mutate((d) => (d.dashboard.password = 'file:/proc/self/environ')),
      /dashboard\.password: \/proc\/self\/environ leads to \/proc\/\d+\/environ, a kernel pseudo-file/,
    ],
    [
      'a password file that is a directory',
      () => mutate((d) => (d.dashboard.password = `file:${file('a-dir')}`)),
      /dashboard\.password: \S+a-dir is a directory, not a regular file/,
    ],
    [
      'a 1 GiB password file',
      () => mutate((d) => (d.dashboard.password = `file:${file('big')}`)),
      /dashboard\.password: \S+big is larger than 64 KiB/,
    ],
    [
      'a symlink loop as a key',
      () => mutate((d) => (d.ssh.privateKey = `file:${file('loop1')}`)),
      /ssh\.privateKey: \S+loop1 is a loop of symbolic links/,
    ],
    [
      'known_hosts as a FIFO',
      () => mutate((d) => (d.ssh.knownHosts = file('fifo'))),
      /ssh\.knownHosts: \S+fifo is a named pipe/,
    ],
    [
      'a bundle that is a FIFO',
      () => mutate((d) => (d.gateway.bundle.path = file('fifo'))),
      /gateway\.bundle\.path: \S+fifo is a named pipe/,
    ],
    [
      'a bundle that is /dev/zero',
      () => mutate((d) => (d.gateway.bundle.path = '/dev/zero')),
      /gateway\.bundle\.path: \/dev\/zero is a kernel pseudo-file/,
    ],
    [
      'a 1 GiB bundle that is no gzip',
      () =>
        mutate((d) => {
          d.gateway.bundle.path = file('big');
          d.gateway.bundle.sha256 =
            '49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14';
        }),
      /gateway\.bundle\.path: \S+big is not a gzip-compressed tarball/,
    ],
    // bundles that try to escape
    [
      'a bundle whose conf.yaml is a symlink',
      () =>
        withBundle(
          'b-conf-link',
          "add(top + '/dashboard_conf/conf.yaml', tarfile.SYMTYPE, link='/etc/passwd')",
        ),
      /dashboard\.bundle\.path: entry "api7-2\.13\.2209\.1-cp\/dashboard_conf\/conf\.yaml" is a symbolic link where api7-ha writes or reads/,
    ],
    [
      'a bundle whose dashboard_conf is a symlink',
      () =>
        withBundle('b-dir-link', "add(top + '/dashboard_conf', tarfile.SYMTYPE, link='../../etc')"),
      /entry "api7-2\.13\.2209\.1-cp\/dashboard_conf" is a symbolic link where api7-ha writes/,
    ],
    [
      'a bundle with a ".." entry',
      () =>
        withBundle('b-dotdot', "add(top + '/../../etc/cron.d/x', data=b'* * * * * root id\\n')"),
      /entry "api7-2\.13\.2209\.1-cp\/\.\.\/\.\.\/etc\/cron\.d\/x" has a "\.\." segment/,
    ],
    [
      'a bundle with an absolute entry',
      () => withBundle('b-abs', "add('/etc/cron.d/x', data=b'x')"),
      /entry "\/etc\/cron\.d\/x" is an absolute path/,
    ],
    [
      "a bundle entry outside the bundle's directory",
      () => withBundle('b-outside', "add('.ssh/authorized_keys', data=b'ssh-ed25519 AAAA evil')"),
      /entry "\.ssh\/authorized_keys" is outside the bundle's directory api7-2\.13\.2209\.1-cp\//,
    ],
    [
      'a bundle with a symlink out of it',
      () =>
        withBundle('b-link-out', "add(top + '/logs', tarfile.SYMTYPE, link='../../../var/log')"),
      /entry "api7-2\.13\.2209\.1-cp\/logs" is a symbolic link that leads outside the bundle/,
    ],
    [
      'a bundle with a chain of links out of it',
      () =>
        withBundle(
          'b-chain',
          "add(top + '/a', tarfile.SYMTYPE, link='images')\nadd(top + '/b', tarfile.SYMTYPE, link='a/../..')",
        ),
      /entry "api7-2\.13\.2209\.1-cp\/b" is a symbolic link that leads outside/,
    ],
    [
      'a bundle with a hard link out of it',
      () => withBundle('b-hard', "add(top + '/passwd', tarfile.LNKTYPE, link='etc/passwd')"),
      /entry "api7-2\.13\.2209\.1-cp\/passwd" is a hard link that leads outside/,
    ],
    [
      'a bundle entry written through a link',
      () =>
        withBundle(
          'b-through',
          "add(top + '/x', tarfile.SYMTYPE, link='images')\nadd(top + '/x/evil', data=b'x')",
        ),
      /entry "api7-2\.13\.2209\.1-cp\/x\/evil" lies under the symbolic link/,
    ],
    [
      'a bundle with a FIFO',
      () => withBundle('b-fifo', "add(top + '/pipe', tarfile.FIFOTYPE)"),
      /entry "api7-2\.13\.2209\.1-cp\/pipe" is a named pipe \(FIFO\)/,
    ],
    [
      'a bundle with a device',
      () => withBundle('b-dev', "add(top + '/zero', tarfile.CHRTYPE)"),
      /entry "api7-2\.13\.2209\.1-cp\/zero" is a character device/,
    ],
    [
      'a bundle with a setuid file',
      () => withBundle('b-suid', "add(top + '/cli.sh', data=b'#!/bin/sh\\n', mode=0o4755)"),
      /entry "api7-2\.13\.2209\.1-cp\/cli\.sh" is setuid or setgid/,
    ],
    [
      'a bundle entry name with shell characters',
      () => withBundle('b-name', "add(top + '/$(reboot)', data=b'x')"),
      /entry "api7-2\.13\.2209\.1-cp\/\$\(reboot\)" has characters other than/,
    ],
    [
      'a bundle entry name with a terminal escape',
      () => withBundle('b-esc', "add(top + '/\\x1b[2Jx', data=b'x')"),
      /entry "api7-2\.13\.2209\.1-cp\/\\u001b\[2Jx" has characters other than/,
    ],
    [
      'a bundle that declares 1 TiB',
      () =>
        withBundle(
          'b-bomb',
          "i = tarfile.TarInfo(top + '/huge'); i.size = 1 << 40\nt.fileobj.write(i.tobuf(tarfile.GNU_FORMAT))",
        ),
      /dashboard\.bundle\.path: \S+b-bomb\/\S+ unpacks to more than \d+ bytes/,
    ],
  ];

  for (const [name, text, expect] of refused)
    it(`refuses ${name}`, async () => {
      const message = await check(await text());
      assert.match(message, expect);
    });

  const accepted: Case[] = [
    [
      'a host name in upper case (compared lower-cased)',
      () => mutate((d) => (d.hosts[0].address = 'HA1.Example.COM')),
      /^$/,
    ],
    [
      'a fingerprint with its one padding character',
      () =>
        mutate(
          (d) => (d.hosts[0].ssh.hostKey = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='),
        ),
      /^$/,
    ],
    [
      'a path spelled with // and /./',
      () => mutate((d) => (d.etcd.dataDir = '//usr/local/./etcd//data/')),
      /^$/,
    ],
    [
      'quoted strings that look like 1.1 values',
      () =>
        stringify(good)
          .replace('cluster: prod-gw', "cluster: 'prod-gw'")
          .replace('username: admin', "username: 'yes'"),
      /^$/,
    ],
    [
      'a bundle with a symlink that stays inside it',
      () =>
        withBundle(
          'b-inside',
          "add(top + '/dashboard_conf/conf.yaml', data=b'conf: {}\\n')\nadd(top + '/latest', tarfile.SYMTYPE, link='images')",
        ),
      /^$/,
    ],
    [
      'a bundle listed with ./ prefixes',
      async () => {
        mkdirSync(file('dot'));
        const out = file('dot/api7-2.13.2209.1-cp.tar.gz');
        await run(['tar', '-czf', out, '-C', dir, './api7-2.13.2209.1-cp']);
        return mutate((d) => (d.dashboard.bundle = { path: out, sha256: sha(out) }));
      },
      /^$/,
    ],
  ];
  for (const [name, text] of accepted)
    it(`accepts ${name}`, async () => {
      assert.equal(await check(await text()), '');
    });

  it('uses values in canonical form', () => {
    const inv = parseInventoryText(
      mutate((d) => {
        d.hosts[0].address = 'HA1.Example.COM';
        d.hosts[0].ssh.hostKey = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
        d.etcd.dataDir = '//usr/local/./etcd//data/';
        d.loadBalancers.controlPlane = 'HTTP://LB.Example.com:9000';
        d.smokeTest.upstream = ['Echo.Local:80'];
      }),
    );
    assert.equal(inv.hosts[0]!.address, 'ha1.example.com');
    assert.equal(inv.hosts[0]!.ssh!.hostKey, 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
    assert.equal(inv.etcd.dataDir, '/usr/local/etcd/data');
    assert.equal(inv.loadBalancers.controlPlane, 'http://lb.example.com:9000/');
    assert.deepEqual(inv.smokeTest.upstream, ['echo.local:80']);
  });

  it('refuses an inventory file that is a FIFO, /dev/zero, a directory or 1 GiB, by name', async () => {
    for (const [p, why] of [
      [file('fifo'), /is a named pipe \(FIFO\)/],
      ['/dev/zero', /is a kernel pseudo-file/],
      [file('a-dir'), /is a directory/],
      [file('big'), /is larger than 1 MiB/],
      [file('nope.yaml'), /does not exist/],
    ] as const) {
      const started = Date.now();
      await assert.rejects(loadInventory(p), (e: Error) => {
        assert.ok(e instanceof InventoryError);
        assert.match(e.message, why);
        assert.ok(e.message.includes(p), 'names the file');
        return true;
      });
      assert.ok(Date.now() - started < TIME_BOUND_MS);
    }
  });
});
