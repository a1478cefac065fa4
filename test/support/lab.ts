// Tests share one lab: scripts/test.sh brings it up once; this reuses it (or starts it
// when a test file is run on its own) and never tears it down.
import { labUpCommand } from '../../src/cli/lab';
import { loadInventory, type LoadedInventory } from '../../src/config/load';
import { SshSession } from '../../src/ssh/session';
import { sshTarget } from '../../src/ssh/targets';

let shared: Promise<LoadedInventory> | undefined;

export function sharedLab(): Promise<LoadedInventory> {
  shared ??= labUpCommand().then((file) => loadInventory(file));
  return shared;
}

export async function sshTo(lab: LoadedInventory, hostName: string): Promise<SshSession> {
  const host = lab.inventory.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`no host ${hostName} in the lab inventory`);
  return SshSession.connect(sshTarget(lab.inventory, host, lab.baseDir));
}

/**
 * Lab plumbing (cleaning up, looking behind the deploy's back) as root with the lab key,
 * which every lab host accepts, also the one the inventory reaches as a non-root user.
 */
export async function sshAsRoot(lab: LoadedInventory, hostName: string): Promise<SshSession> {
  const host = lab.inventory.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`no host ${hostName} in the lab inventory`);
  return SshSession.connect({
    ...sshTarget(lab.inventory, host, lab.baseDir),
    user: 'root',
    sudo: false,
  });
}
