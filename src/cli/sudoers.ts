// `api7-ha hosts sudoers`: the sudoers drop-in each host reached with ssh.sudo needs
// (commands/sudo.ts), printed for the operator to check and install. Touches no host.
import path from 'node:path';
import { loadInventory } from '../config/load';
import { findHost } from '../commands/layout';
import { renderSudoers } from '../commands/sudo';
import { sshSettings } from '../model/hosts';
import { RefusedInput } from './exit';

export async function hostsSudoersCommand(opts: {
  inventory: string;
  host?: string;
  user?: string;
}) {
  const { inventory: inv, warnings } = await loadInventory(opts.inventory);
  for (const w of warnings) console.warn(`warning: ${w}`);
  if (opts.host && !inv.hosts.some((h) => h.name === opts.host))
    throw new RefusedInput(`--host: no host named ${opts.host} in the inventory`);
  const hosts = opts.host
    ? [findHost(inv, opts.host)]
    : inv.hosts.filter((h) => sshSettings(inv, h).sudo);
  if (!hosts.length) {
    console.error(
      'no host in this inventory uses ssh.sudo; --host <name> shows the rules a host would need',
    );
    return;
  }
  const source = path.relative(process.cwd(), path.resolve(opts.inventory)) || opts.inventory;
  for (const h of hosts) {
    const login = sshSettings(inv, h);
    const user = opts.user ?? login.user;
    if (!opts.user && !login.sudo)
      console.error(
        `note: ${h.name} logs in as ${user} without sudo; these rules apply once ssh.sudo is true`,
      );
    console.log(renderSudoers(inv, h, user, source));
  }
}
