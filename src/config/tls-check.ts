// The operator's etcd certificates, checked on this machine before any host is touched:
// readable, signed by the CA, valid now, for the right addresses and uses, and matching
// their keys. Messages name the field and file, never a key's content.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { clientTlsSources, etcdTls, memberTlsFiles, type TlsFile } from '../commands/etcd-tls';
import { hostsWithRole } from '../commands/layout';
import type { Inventory } from './inventory';
import { LocalFileError, readLocalFile } from './local-files';
import { localFile, resolveSecret, SecretError } from './secrets';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export function checkEtcdTls(inv: Inventory, baseDir: string, now = new Date()): string[] {
  if (!etcdTls(inv)) return [];
  const problems: string[] = [];
  const where = (f: TlsFile) => `${f.field}: ${localFile(f.source, baseDir)}`;

  const certificate = (f: TlsFile): X509Certificate | undefined => {
    let pem: Buffer;
    try {
      pem = readLocalFile(localFile(f.source, baseDir), f.field, 'certificate');
    } catch (e) {
      problems.push(e instanceof LocalFileError ? e.message : `${where(f)} cannot be read`);
      return undefined;
    }
    try {
      const cert = new X509Certificate(pem);
      if (new Date(cert.validTo) < now) problems.push(`${where(f)} expired on ${cert.validTo}`);
      else if (new Date(cert.validFrom) > now)
        problems.push(`${where(f)} is not valid before ${cert.validFrom}`);
      return cert;
    } catch {
      problems.push(`${where(f)} is not a PEM certificate`);
      return undefined;
    }
  };

  const keyMatches = (f: TlsFile, cert: X509Certificate | undefined, certFile: TlsFile) => {
    let pem: string;
    try {
      pem = resolveSecret(f.source, f.field, baseDir);
    } catch (e) {
      problems.push(e instanceof SecretError ? e.message : `${f.field}: cannot be read`);
      return;
    }
    try {
      if (cert && !cert.checkPrivateKey(createPrivateKey(pem)))
        problems.push(
          `${f.field} (${f.source}) is not the key of ${localFile(certFile.source, baseDir)}`,
        );
    } catch {
      problems.push(`${f.field} (${f.source}) is not a PEM private key`);
    }
  };

  const signedAndUsable = (
    f: TlsFile,
    cert: X509Certificate,
    ca: X509Certificate,
    uses: string[],
  ) => {
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
      problems.push(`${where(f)} is not signed by etcd.tls.ca`);
    const eku = cert.keyUsage; // extended key usage OIDs; undefined = any use
    const names: Record<string, string> = {
      [SERVER_AUTH]: 'serverAuth',
      [CLIENT_AUTH]: 'clientAuth',
    };
    for (const use of uses)
      if (eku && !eku.includes(use))
        problems.push(`${where(f)} lacks the ${names[use]} extended key usage`);
  };

  const [caFile, clientCertFile, clientKeyFile] = clientTlsSources(inv) as [
    TlsFile,
    TlsFile,
    TlsFile,
  ];
  const ca = certificate(caFile);
  if (ca && !ca.ca) problems.push(`${where(caFile)} is not a CA certificate`);

  const client = certificate(clientCertFile);
  keyMatches(clientKeyFile, client, clientCertFile);
  if (client && ca) signedAndUsable(clientCertFile, client, ca, [CLIENT_AUTH]);
  // etcd's HTTP/JSON gateway answers 400 to a client certificate with a CommonName
  // (CVE-2018-16886); APISIX and the dashboard reach etcd through that gateway.
  const cn = client && /^CN=(.*)$/m.exec(client.subject)?.[1];
  if (cn)
    problems.push(
      `${where(clientCertFile)} has CommonName "${cn}"; etcd's HTTP gateway, which the gateways and dashboards use, refuses client certificates with a CommonName — issue one without (subject alternative names are fine)`,
    );

  for (const host of hostsWithRole(inv, 'etcd')) {
    const [, certFile, keyFile] = memberTlsFiles(inv, host.name) as [TlsFile, TlsFile, TlsFile];
    const cert = certificate(certFile);
    keyMatches(keyFile, cert, certFile);
    if (!cert || !ca) continue;
    // Peers present the same certificate, so it serves and it is a client too.
    signedAndUsable(certFile, cert, ca, [SERVER_AUTH, CLIENT_AUTH]);
    const covers = /^[0-9.]+$/.test(host.address)
      ? cert.checkIP(host.address)
      : cert.checkHost(host.address);
    if (!covers)
      problems.push(`${where(certFile)} does not cover ${host.name}'s address ${host.address}`);
  }
  return problems;
}
