// `hosts trust`: fetch each host's key, compare it with what the inventory trusts, and
// (when asked) record accepted keys in known_hosts. Trust-on-first-use made explicit.
import { Client } from 'ssh2';
import { checkHostKey, fingerprintOf, knownHostFingerprints } from './host-keys';
import type { SshTarget } from './session';

export interface OfferedKey {
  host: string;
  address: string;
  port: number;
  type: string;
  base64: string;
  fingerprint: string;
}

/** The key a host offers, without authenticating (the connection is dropped at once). */
export function fetchHostKey(
  target: Omit<SshTarget, 'privateKey'>,
  timeoutMs = 10_000,
): Promise<OfferedKey> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let offered: OfferedKey | undefined;
    const done = () =>
      offered
        ? resolve(offered)
        : reject(
            new Error(`${target.name} (${target.address}:${target.port}): no host key received`),
          );
    client.on('error', done);
    client.on('close', done);
    client.connect({
      host: target.address,
      port: target.port,
      username: target.user,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        const typeLength = key.readUInt32BE(0);
        offered = {
          host: target.name,
          address: target.address,
          port: target.port,
          type: key.subarray(4, 4 + typeLength).toString(),
          base64: key.toString('base64'),
          fingerprint: fingerprintOf(key),
        };
        return false; // we only wanted the key
      },
    });
  });
}

export type TrustState = 'pinned' | 'known' | 'unknown' | 'changed';

export function trustState(
  offered: OfferedKey,
  pinned: string | undefined,
  knownHostsText: string,
): { state: TrustState; expected: string[] } {
  const known = knownHostFingerprints(knownHostsText, offered.address, offered.port);
  const verdict = checkHostKey(offered.fingerprint, pinned, known);
  if (verdict.ok)
    return { state: pinned ? 'pinned' : 'known', expected: pinned ? [pinned] : known };
  return { state: verdict.reason, expected: verdict.expected };
}

export function knownHostsLine(k: OfferedKey): string {
  const name = k.port === 22 ? k.address : `[${k.address}]:${k.port}`;
  return `${name} ${k.type} ${k.base64}`;
}
