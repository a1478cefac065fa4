// `api7-ha hosts trust`: show each host's (and jump host's) key fingerprint and whether the
// inventory trusts it; --write records unknown keys in the inventory's known_hosts file.
import { appendFileSync } from 'node:fs';
import Table from 'cli-table3';
import pc from 'picocolors';
import { loadInventory } from '../config/load';
import { readLocalTextIfExists } from '../config/local-files';
import { localFile } from '../config/secrets';
import { knownHostsLine, trustRows, type TrustState } from '../ssh/trust';

export async function hostsTrustCommand(opts: {
  inventory: string;
  write?: boolean;
}): Promise<void> {
  const { inventory: inv, baseDir } = await loadInventory(opts.inventory);
  const file = inv.ssh.knownHosts ? localFile(inv.ssh.knownHosts, baseDir) : undefined;
  if (opts.write && !file)
    throw new Error('ssh.knownHosts: --write needs a known_hosts file in the inventory');
  const text = (file && readLocalTextIfExists(file, 'ssh.knownHosts', 'knownHosts')) ?? '';
  const rows = await trustRows(inv, baseDir, text);
  const colour: Record<TrustState | 'unreachable', (s: string) => string> = {
    pinned: pc.green,
    known: pc.green,
    unknown: pc.yellow,
    changed: pc.red,
    unreachable: pc.red,
  };
  const table = new Table({ head: ['host', 'key', 'fingerprint', 'trusted?'] });
  for (const r of rows)
    table.push([
      r.host,
      r.offered?.type ?? '-',
      r.offered?.fingerprint ?? r.error ?? '-',
      colour[r.state](
        r.state === 'changed' ? `CHANGED (expected ${r.expected.join(' or ')})` : r.state,
      ),
    ]);
  console.log(table.toString());
  const unknown = rows.filter((r) => r.state === 'unknown' && r.offered);
  if (opts.write && file && unknown.length) {
    appendFileSync(file, unknown.map((r) => `${knownHostsLine(r.offered!)}\n`).join(''), {
      mode: 0o644,
    });
    console.log(`recorded ${unknown.length} key(s) in ${file}`);
  } else if (unknown.length)
    console.log(
      `check the fingerprints with the hosts' owners, then run again with --write to record ${unknown.length} key(s)`,
    );
  if (rows.some((r) => r.state === 'changed' || r.state === 'unreachable')) {
    console.log(
      pc.red(
        'a changed key is never recorded: confirm it with the host owner, then remove the old line from known_hosts (or fix hosts[].ssh.hostKey)',
      ),
    );
    process.exitCode = 1;
  }
}
