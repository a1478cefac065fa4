// `hosts trust`: fetch each host's key, compare it with what the inventory trusts, and
// (when asked) record accepted keys in known_hosts. Trust-on-first-use made explicit.
import { Client } from 'ssh2';
import { checkHostKey, fingerprintOf, knownHostFingerprints } from './host-keys';
import type { Inventory } from '../config/inventory';
import { hopLabel, openJumpChain, type SshEndpoint, type SshHop } from './session';
import { hostEndpoint, jumpTargets } from './targets';

export interface OfferedKey {
  host: string;
  address: string;
  port: number;
  type: string;
  base64: string;
  fingerprint: string;
}

/**
 * The key a host offers, without authenticating (the connection is dropped at once).
 * Behind jump hosts (`via`, nearest first), those are logged in to, their keys checked.
 */
export async function fetchHostKey(
  target: Pick<SshEndpoint, 'name' | 'address' | 'port' | 'user'>,
  via: SshHop[] = [],
  timeoutMs = 10_000,
): Promise<OfferedKey> {
  const { hops, sock } = await openJumpChain({ ...target, jump: via }, timeoutMs);
  try {
    return await new Promise((resolve, reject) => {
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
        ...(sock ? { sock } : { host: target.address, port: target.port }),
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
  } finally {
    for (const c of hops.reverse()) c.end();
  }
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

export interface TrustRow {
  /** The host's name, or "bastion <name>" for a jump host. */
  host: string;
  offered?: OfferedKey;
  state: TrustState | 'unreachable';
  expected: string[];
  error?: string;
}

const trusted = (r: TrustRow) => r.state === 'pinned' || r.state === 'known';

/**
 * Every host's key and, once each, every jump host's on the way. A key behind a jump host
 * is fetched through it only when the jump host's own key is trusted already.
 */
export async function trustRows(
  inv: Inventory,
  baseDir: string,
  knownHostsText: string,
): Promise<TrustRow[]> {
  const rows = new Map<string, Promise<TrustRow>>();
  const row = (
    via: SshHop[],
    e: Pick<SshEndpoint, 'name' | 'address' | 'port' | 'user' | 'pinnedHostKey'>,
    label: string,
  ): Promise<TrustRow> => {
    const key = [...via, e].map((x) => `${x.address}:${x.port}`).join(' > ');
    const known = rows.get(key);
    if (known) return known;
    const p = (async (): Promise<TrustRow> => {
      const unreachable = (error: string): TrustRow => ({
        host: label,
        state: 'unreachable',
        expected: [],
        error,
      });
      for (const [i, hop] of via.entries()) {
        const before = await row(via.slice(0, i), hop, `bastion ${hop.name}`);
        if (!trusted(before))
          return unreachable(
            `behind ${hopLabel(hop)}, whose key is ${before.state}: trust it first, then run again`,
          );
      }
      try {
        const offered = await fetchHostKey(e, via);
        return { host: label, offered, ...trustState(offered, e.pinnedHostKey, knownHostsText) };
      } catch (err) {
        return unreachable((err as Error).message);
      }
    })();
    rows.set(key, p);
    return p;
  };
  for (const h of inv.hosts) {
    let via: SshHop[];
    try {
      via = jumpTargets(inv, h, baseDir);
    } catch (err) {
      rows.set(
        h.name,
        Promise.resolve({
          host: h.name,
          state: 'unreachable',
          expected: [],
          error: (err as Error).message,
        }),
      );
      continue;
    }
    // Jump hosts first, so each appears before the hosts behind it.
    via.forEach((hop, i) => void row(via.slice(0, i), hop, `bastion ${hop.name}`));
    void row(via, hostEndpoint(inv, h, baseDir), h.name);
  }
  return Promise.all(rows.values());
}
