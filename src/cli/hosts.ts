// `api7-ha hosts trust`: show each host's (and jump host's) key fingerprint and whether the
// inventory trusts it; --write records unknown keys in the inventory's known_hosts file.
import { appendFileSync } from 'node:fs';
import { loadInventory } from '../config/load';
import { readLocalTextIfExists } from '../config/local-files';
import { localFile } from '../config/secrets';
import { knownHostsLine, trustRows, type TrustState } from '../ssh/trust';
import { RefusedInput } from './exit';
import { pc, table } from './output';

export async function hostsTrustCommand(opts: {
  inventory: string;
  write?: boolean;
  json?: boolean;
}): Promise<void> {
  const { inventory: inv, baseDir } = await loadInventory(opts.inventory);
  const file = inv.ssh.knownHosts ? localFile(inv.ssh.knownHosts, baseDir) : undefined;
  if (opts.write && !file)
    throw new RefusedInput('ssh.knownHosts: --write needs a known_hosts file in the inventory');
  const text = (file && readLocalTextIfExists(file, 'ssh.knownHosts', 'knownHosts')) ?? '';
  const rows = await trustRows(inv, baseDir, text);
  const unknown = rows.filter((r) => r.state === 'unknown' && r.offered);
  const record = opts.write && file && unknown.length > 0;
  if (record)
    appendFileSync(file, unknown.map((r) => `${knownHostsLine(r.offered!)}\n`).join(''), {
      mode: 0o644,
    });
  if (rows.some((r) => r.state === 'changed' || r.state === 'unreachable')) process.exitCode = 1;
  if (opts.json)
    return void console.log(
      JSON.stringify(
        {
          hosts: rows.map((r) => ({
            host: r.host,
            keyType: r.offered?.type,
            fingerprint: r.offered?.fingerprint,
            state: r.state,
            expected: r.expected,
            error: r.error,
          })),
          recorded: record ? unknown.length : 0,
          knownHosts: file,
        },
        null,
        2,
      ),
    );
  const colour: Record<TrustState | 'unreachable', (s: string) => string> = {
    pinned: pc.green,
    known: pc.green,
    unknown: pc.yellow,
    changed: pc.red,
    unreachable: pc.red,
  };
  const t = table({ head: ['host', 'key', 'fingerprint', 'trusted?'] });
  for (const r of rows)
    t.push([
      r.host,
      r.offered?.type ?? '-',
      r.offered?.fingerprint ?? r.error ?? '-',
      colour[r.state](
        r.state === 'changed' ? `CHANGED (expected ${r.expected.join(' or ')})` : r.state,
      ),
    ]);
  console.log(t.toString());
  if (record) console.log(`recorded ${unknown.length} key(s) in ${file}`);
  else if (unknown.length)
    console.log(
      `check the fingerprints with the hosts' owners, then run again with --write to record ${unknown.length} key(s)`,
    );
  if (rows.some((r) => r.state === 'changed' || r.state === 'unreachable'))
    console.log(
      pc.red(
        'a changed key is never recorded: confirm it with the host owner, then remove the old line from known_hosts (or fix hosts[].ssh.hostKey)',
      ),
    );
}
