// Tests share one lab: scripts/test.sh brings it up once; this reuses it (or starts it
// when a test file is run on its own) and never tears it down.
import { labUpCommand } from '../../lab/cli';
import { loadInventory, type LoadedInventory } from '../../src/config/load';
import { resolveSecret } from '../../src/config/secrets';
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

/**
 * Every secret value the lab's inventory refers to, as the strings a leak would show:
 * passwords whole, private keys (SSH, etcd TLS) by their long base64 lines.
 */
export function labSecrets(lab: LoadedInventory): string[] {
  const inv = lab.inventory;
  const refs = [
    inv.ssh.privateKey,
    inv.dashboard.password,
    inv.dashboard.tokenSecret,
    inv.etcd.auth.password,
    inv.etcd.tls?.clientKey,
    ...inv.hosts
      .filter((h) => h.roles.includes('etcd'))
      .map((h) => inv.etcd.tls?.memberKey.replaceAll('{host}', h.name)),
  ].filter((r): r is string => Boolean(r));
  const out = refs.flatMap((ref) => {
    const value = resolveSecret(ref, ref, lab.baseDir);
    return value.includes('-----BEGIN')
      ? value.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'))
      : [value];
  });
  if (out.length < 8) throw new Error(`expected the lab's secrets, found ${out.length}`);
  return out;
}
