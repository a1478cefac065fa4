// Host-key checking: a host is trusted only if its key matches the fingerprint pinned in
// the inventory or an entry of the operator's known_hosts file. Pure functions.
import { createHash, createHmac } from 'node:crypto';

/** OpenSSH's SHA256 fingerprint of a raw public key blob. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** known_hosts names a non-default port as [host]:port. */
function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function nameMatches(field: string, wanted: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(wanted).digest('base64') === hash;
  }
  return field.split(',').includes(wanted);
}

/** Fingerprints of every key known_hosts lists for host:port (revoked/CA lines ignored). */
export function knownHostFingerprints(knownHosts: string, host: string, port: number): string[] {
  const wanted = hostPattern(host, port);
  const out: string[] = [];
  for (const raw of knownHosts.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [names, , key] = line.split(/\s+/);
    if (names && key && nameMatches(names, wanted))
      out.push(fingerprintOf(Buffer.from(key, 'base64')));
  }
  return out;
}

export type HostKeyVerdict =
  { ok: true } | { ok: false; reason: 'unknown' | 'changed'; expected: string[] };

/** A fingerprint pinned in the inventory wins over known_hosts. */
export function checkHostKey(
  offered: string,
  pinned: string | undefined,
  known: string[],
): HostKeyVerdict {
  const expected = pinned ? [pinned] : known;
  if (expected.length === 0) return { ok: false, reason: 'unknown', expected };
  return expected.includes(offered) ? { ok: true } : { ok: false, reason: 'changed', expected };
}
