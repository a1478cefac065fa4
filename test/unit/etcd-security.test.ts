// etcd auth and TLS without any host: the builders and renderers with etcd.tls on, the
// schema's rules, and the local certificate checks on real certificates made by openssl.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { CLIENT_EXTENSIONS, ensureLabPki, signCertificate } from '../../lab/pki';
import { composeArgv } from '../../src/commands/compose';
import { renderDashboardConf, renderGatewayConfig } from '../../src/commands/config-files';
import { etcdConfigHash, etcdMembers, etcdRunArgv } from '../../src/commands/etcd';
import { clientTlsFiles, memberTlsFiles, renderComposeOverride } from '../../src/commands/etcd-tls';
import { faultArgv, restoreArgv } from '../../src/commands/drills';
import { deployPlan, renderPlan } from '../../src/commands/plan';
import { inventoryWarnings, type Inventory } from '../../src/config/inventory';
import { InventoryError, parseInventoryText, validateInventory } from '../../src/config/load';
import { checkEtcdTls } from '../../src/config/tls-check';
import { projectRoot } from '../../src/paths';

const plain = parseInventoryText(
  readFileSync(path.join(projectRoot, 'docs', 'inventory.example.yaml'), 'utf8'),
);

function secure(over: Partial<NonNullable<Inventory['etcd']['tls']>> = {}): Inventory {
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
    ...over,
  };
  return inv;
}

describe('etcd with TLS: commands and config files', () => {
  const inv = secure();

  it('runs etcd with https URLs, the certificate settings and the cert dir mounted read-only', () => {
    const argv = etcdRunArgv(inv, 'ha1');
    const env = argv.filter((_, i) => argv[i - 1] === '-e');
    const ip1 = inv.hosts[0]!.address;
    for (const want of [
      'ETCD_LISTEN_CLIENT_URLS=https://0.0.0.0:2379',
      'ETCD_LISTEN_PEER_URLS=https://0.0.0.0:2380',
      `ETCD_ADVERTISE_CLIENT_URLS=https://${ip1}:2379`,
      `ETCD_INITIAL_ADVERTISE_PEER_URLS=https://${ip1}:2380`,
      'ETCD_CERT_FILE=/etcd_certs/member.crt',
      'ETCD_KEY_FILE=/etcd_certs/member.key',
      'ETCD_TRUSTED_CA_FILE=/etcd_certs/ca.crt',
      'ETCD_CLIENT_CERT_AUTH=true',
      'ETCD_PEER_CERT_FILE=/etcd_certs/member.crt',
      'ETCD_PEER_CLIENT_CERT_AUTH=true',
    ])
      assert.ok(env.includes(want), `${want} in ${env.join(' ')}`);
    assert.ok(
      env.some((e) => /^ETCD_INITIAL_CLUSTER=(api7-etcd-\d=https:\/\/[^,]+,?){3}$/.test(e)),
      'every peer URL is https',
    );
    assert.ok(argv.join(' ').includes('-v /usr/local/etcd/certs:/etcd_certs:ro'));
    // No password in the container's settings, where docker inspect would show it.
    assert.ok(!argv.some((a) => /PASSWORD|ETCD_ROOT/.test(a)), argv.join(' '));
    assert.ok(etcdMembers(inv).every((m) => m.clientUrl.startsWith('https://')));
  });

  it('changes the settings hash with TLS, and not without it', () => {
    assert.notEqual(etcdConfigHash(inv, 'ha1'), etcdConfigHash(plain, 'ha1'));
    const off = secure({ enabled: false });
    assert.equal(etcdConfigHash(off, 'ha1'), etcdConfigHash(plain, 'ha1'));
    assert.ok(!etcdRunArgv(plain, 'ha1').join(' ').includes('etcd_certs'));
  });

  it('puts each member its own certificate, and the client files in the bundle dir', () => {
    assert.deepEqual(
      memberTlsFiles(inv, 'ha2').map((f) => [f.source, f.remote, f.secret]),
      [
        ['pki/ca.crt', '/usr/local/etcd/certs/ca.crt', false],
        ['pki/ha2.crt', '/usr/local/etcd/certs/member.crt', false],
        ['file:pki/ha2.key', '/usr/local/etcd/certs/member.key', true],
      ],
    );
    assert.deepEqual(
      clientTlsFiles(inv, '/root/b').map((f) => f.remote),
      [
        '/root/b/api7-ha-etcd-tls/ca.crt',
        '/root/b/api7-ha-etcd-tls/client.crt',
        '/root/b/api7-ha-etcd-tls/client.key',
      ],
    );
    assert.deepEqual(memberTlsFiles(plain, 'ha1'), []);
  });

  it("writes the dashboard's mtls block and the gateway's https hosts, etcd.tls and trusted CA", () => {
    const dash = parse(
      renderDashboardConf(inv, { dashboardPassword: 'p', tokenSecret: 't', etcdPassword: 'e' }),
    ) as { conf: { etcd: Record<string, unknown> } };
    assert.equal(dash.conf.etcd.enable_auth, true);
    assert.equal(dash.conf.etcd.password, 'e');
    assert.deepEqual(dash.conf.etcd.mtls, {
      enable: true,
      key_file: '/etc/api7-ha/etcd-tls/client.key',
      cert_file: '/etc/api7-ha/etcd-tls/client.crt',
      ca_file: '/etc/api7-ha/etcd-tls/ca.crt',
    });
    // The vendor's conf.yaml lists endpoints without a scheme; the dashboard uses mtls.
    assert.ok((dash.conf.etcd.endpoints as string[]).every((e) => /^[\d.]+:2379$/.test(e)));

    const vendor = 'apisix:\n  ssl:\n    enable: true\netcd:\n  host: ["127.0.0.1:2379"]\n';
    const gw = parse(renderGatewayConfig(inv, '123', { etcdPassword: 'e' }, vendor)) as {
      apisix: { ssl: Record<string, unknown> };
      etcd: { host: string[]; tls: unknown; user: string };
    };
    assert.ok(
      gw.etcd.host.every((h) => /^https:\/\/[\d.]+:2379$/.test(h)),
      gw.etcd.host.join(),
    );
    assert.deepEqual(gw.etcd.tls, {
      cert: '/etc/api7-ha/etcd-tls/client.crt',
      key: '/etc/api7-ha/etcd-tls/client.key',
      verify: true,
    });
    assert.equal(gw.apisix.ssl.ssl_trusted_certificate, '/etc/api7-ha/etcd-tls/ca.crt');
    assert.equal(gw.apisix.ssl.enable, true, 'vendor keys stay');
    assert.equal(gw.etcd.user, 'root');
  });

  it('turning TLS off undoes only what api7-ha wrote', () => {
    const on = renderGatewayConfig(inv, '123', { etcdPassword: 'e' });
    const off = parse(renderGatewayConfig(plain, '123', {}, on)) as {
      apisix?: { ssl?: Record<string, unknown> };
      etcd: Record<string, unknown>;
    };
    assert.equal(off.etcd.tls, undefined);
    assert.equal(off.apisix?.ssl?.ssl_trusted_certificate, undefined);
    assert.ok((off.etcd.host as string[]).every((h) => !h.startsWith('https')));
    const vendorTls = 'etcd:\n  tls:\n    verify: false\n';
    const kept = parse(renderGatewayConfig(plain, '123', {}, vendorTls)) as {
      etcd: { tls: unknown };
    };
    assert.deepEqual(kept.etcd.tls, { verify: false }, "a vendor's own etcd.tls stays");
    const dashOff = parse(
      renderDashboardConf(
        plain,
        { dashboardPassword: 'p', tokenSecret: 't' },
        renderDashboardConf(inv, { dashboardPassword: 'p', tokenSecret: 't', etcdPassword: 'e' }),
      ),
    ) as { conf: { etcd: { mtls: { enable: boolean } } } };
    assert.equal(dashOff.conf.etcd.mtls.enable, false);
  });

  it('mounts the client files with a second compose file of the same version, in every compose call', () => {
    const override = renderComposeOverride('api7-gateway', 'version: "3.8"\nservices: {}\n');
    const doc = parse(override) as {
      version: string;
      services: Record<string, { volumes: string[] }>;
    };
    assert.equal(doc.version, '3.8');
    assert.deepEqual(doc.services['api7-gateway']!.volumes, [
      './api7-ha-etcd-tls:/etc/api7-ha/etcd-tls:ro',
    ]);
    assert.equal(
      Object.hasOwn(parse(renderComposeOverride('s', 'services: {}')) as object, 'version'),
      false,
    );
    assert.deepEqual(composeArgv('plugin', '/d', 'p', ['down'], ['/d/o.yaml']), [
      'docker',
      'compose',
      '--project-directory',
      '/d',
      '-f',
      '/d/docker-compose.yaml',
      '-f',
      '/d/o.yaml',
      '-p',
      'p',
      'down',
    ]);
    for (const argv of [
      faultArgv(inv, 'standalone', 'gateway'),
      restoreArgv(inv, 'standalone', 'gateway'),
      restoreArgv(inv, 'plugin', 'dashboard'),
    ])
      assert.match(argv.join(' '), /-f \S+\/docker-compose\.override\.yaml -p /);
    assert.doesNotMatch(
      restoreArgv(plain, 'plugin', 'gateway').join(' '),
      /docker-compose\.override/,
    );
  });

  it('plan shows keys by their reference and the auth step with the password redacted', () => {
    const text = renderPlan(deployPlan(inv, '/ops'));
    assert.match(text, /upload file:pki\/ha1\.key -> \/usr\/local\/etcd\/certs\/member\.key/);
    assert.match(text, /upload \/ops\/pki\/ca\.crt -> /);
    assert.match(
      text,
      /upload file:pki\/client\.key -> \/root\/api7-[^ ]+-cp\/api7-ha-etcd-tls\/client\.key/,
    );
    assert.match(
      text,
      /user root with role root \(password <secret from inventory reference>\), then auth enable/,
    );
  });
});

describe('etcd TLS and auth in the inventory', () => {
  const input = () => structuredClone(plain) as unknown as Record<string, Record<string, unknown>>;
  const error = (mutate: (i: Record<string, Record<string, unknown>>) => void) => {
    const i = input();
    mutate(i);
    try {
      validateInventory(i);
    } catch (e) {
      assert.ok(e instanceof InventoryError);
      return e.message;
    }
    return '';
  };

  it('names a missing or wrongly typed TLS field', () => {
    assert.match(
      error(
        (i) =>
          (i.etcd!.tls = { ca: 'ca.crt', memberCert: 'm', memberKey: 'file:k', clientCert: 'c' }),
      ),
      /etcd\.tls\.clientKey/,
    );
    assert.match(
      error(
        (i) =>
          (i.etcd!.tls = {
            ca: 'ca.crt',
            memberCert: 'm',
            memberKey: '/etc/plain/path.key',
            clientCert: 'c',
            clientKey: 'file:k',
          }),
      ),
      /etcd\.tls\.memberKey: must be a secret reference/,
    );
    assert.match(
      error(
        (i) =>
          (i.etcd!.tls = {
            ca: 'ca.crt',
            memberCert: 'm',
            memberKey: 'file:k',
            clientCert: 'c',
            clientKey: 'file:k',
            certDir: '/etc/$(reboot)',
          }),
      ),
      /etcd\.tls\.certDir: may contain only/,
    );
  });

  it('warns when auth is on without TLS', () => {
    const inv = secure({ enabled: false });
    assert.match(inventoryWarnings(inv).join('\n'), /etcd\.auth is on without etcd\.tls/);
    assert.doesNotMatch(inventoryWarnings(secure()).join('\n'), /without etcd\.tls/);
  });
});

describe('local certificate checks', () => {
  let dir: string;
  let other: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-tls-'));
    other = mkdtempSync(path.join(os.tmpdir(), 'api7ha-tls-other-'));
    const hosts = plain.hosts
      .filter((h) => h.roles.includes('etcd'))
      .map((h) => ({ name: h.name, address: h.address }));
    await ensureLabPki(path.join(dir, 'pki'), hosts);
    await ensureLabPki(path.join(other, 'pki'), hosts);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  it('accepts certificates signed by the CA, for each address, with matching keys', () => {
    assert.deepEqual(checkEtcdTls(secure(), dir), []);
  });

  it('names the field and file of each problem, never a key', () => {
    const problems = (inv: Inventory, now?: Date) => {
      const found = checkEtcdTls(inv, dir, now);
      for (const p of found) assert.doesNotMatch(p, /PRIVATE KEY|BEGIN/);
      return found.join('\n');
    };
    // ha2's certificate used for every member: wrong address for ha1 and ha3.
    assert.match(
      problems(secure({ memberCert: 'pki/ha2.crt' })),
      /etcd\.tls\.memberCert: \S+ha2\.crt does not cover ha1's address 10\.0\.0\.11/,
    );
    assert.match(
      problems(secure({ memberCert: 'pki/ha2.crt', memberKey: 'file:pki/ha2.key' })),
      /does not cover ha3's address/,
    );
    assert.match(
      problems(secure({ clientKey: 'file:pki/ha1.key' })),
      /etcd\.tls\.clientKey \(file:pki\/ha1\.key\) is not the key of \S+client\.crt/,
    );
    assert.match(
      problems(
        secure({
          clientCert: `${other}/pki/client.crt`,
          clientKey: `file:${other}/pki/client.key`,
        }),
      ),
      /etcd\.tls\.clientCert: \S+ is not signed by etcd\.tls\.ca/,
    );
    assert.match(
      problems(secure({ ca: 'pki/ha1.crt' })),
      /etcd\.tls\.ca: \S+ is not a CA certificate/,
    );
    assert.match(
      problems(secure({ ca: 'pki/missing.crt' })),
      /etcd\.tls\.ca: \S+missing\.crt does not exist/,
    );
    assert.match(
      problems(secure({ memberKey: 'file:pki/nope-{host}.key' })),
      /etcd\.tls\.memberKey: \S+nope-ha1\.key does not exist/,
    );
    writeFileSync(path.join(dir, 'garbage.crt'), 'not a certificate');
    assert.match(
      problems(secure({ clientCert: 'garbage.crt' })),
      /etcd\.tls\.clientCert: \S+ is not a PEM certificate/,
    );
    assert.match(
      problems(secure(), new Date(Date.now() + 5000 * 24 * 3600_000)),
      /etcd\.tls\.ca: \S+ expired on /,
    );
    // The client certificate (clientAuth only) used as a member's, which must also serve.
    assert.match(
      problems(secure({ memberCert: 'pki/client.crt', memberKey: 'file:pki/client.key' })),
      /etcd\.tls\.memberCert: \S+client\.crt lacks the serverAuth extended key usage/,
    );
  });

  it("refuses a client certificate with a CommonName, which etcd's HTTP gateway rejects", async () => {
    // Everything like the lab's client certificate, but with a CommonName.
    await signCertificate(path.join(dir, 'pki'), 'cn-client', '/CN=api7', CLIENT_EXTENSIONS);
    assert.match(
      checkEtcdTls(
        secure({ clientCert: 'pki/cn-client.crt', clientKey: 'file:pki/cn-client.key' }),
        dir,
      ).join('\n'),
      /etcd\.tls\.clientCert: \S+ has CommonName "api7"; etcd's HTTP gateway/,
    );
  });
});
