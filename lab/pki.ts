// The lab's own small PKI for etcd TLS: a CA, one certificate per etcd host (serving and
// peer, for its address and name) and one client certificate for the dashboards, the
// gateways and api7-ha. Made with the openssl CLI, once; operators bring their own.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../src/util/exec';

export interface PkiHost {
  name: string;
  address: string;
}

const DAYS = '825';
const LEAF = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'];
export const CLIENT_EXTENSIONS = [
  ...LEAF,
  'extendedKeyUsage=clientAuth',
  'subjectAltName=DNS:api7-ha-client',
];

async function newKey(file: string) {
  if (existsSync(file)) return;
  await run([
    'openssl',
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    file,
  ]);
}

/** `<name>.crt` (and its key, if missing) signed by the CA in `dir`; kept if already there. */
export async function signCertificate(
  dir: string,
  name: string,
  subject: string,
  extensions: string[],
) {
  const crt = path.join(dir, `${name}.crt`);
  if (existsSync(crt)) return;
  const key = path.join(dir, `${name}.key`);
  await newKey(key);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, `${extensions.join('\n')}\n`);
  const csr = (await run(['openssl', 'req', '-new', '-key', key, '-subj', subject])).stdout;
  await run(
    [
      'openssl',
      'x509',
      '-req',
      '-CA',
      path.join(dir, 'ca.crt'),
      '-CAkey',
      path.join(dir, 'ca.key'),
      '-CAcreateserial',
      '-days',
      DAYS,
      '-extfile',
      ext,
      '-out',
      crt,
    ],
    { input: csr },
  );
}

/** Idempotent: files already there are kept. */
export async function ensureLabPki(dir: string, etcdHosts: PkiHost[]): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = path.join(dir, 'ca.key');
  const caCrt = path.join(dir, 'ca.crt');
  await newKey(caKey);
  if (!existsSync(caCrt))
    await run([
      'openssl',
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-subj',
      '/CN=api7-ha lab etcd CA',
      '-days',
      '3650',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      caCrt,
    ]);
  for (const h of etcdHosts)
    await signCertificate(dir, h.name, `/CN=${h.name}`, [
      ...LEAF,
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=IP:${h.address},DNS:${h.name}`,
    ]);
  // No CommonName: etcd's HTTP gateway (which APISIX uses) refuses client certificates
  // that have one (CVE-2018-16886), and over gRPC a CN would act as an etcd user name.
  await signCertificate(dir, 'client', '/O=api7-ha lab client', CLIENT_EXTENSIONS);
}
