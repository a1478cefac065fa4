// Phase 3: the directories the guide creates by hand (and our staging directory).
import { findHost, hasRole, STAGING_DIR } from '../commands/layout';
import { withHost, type DeployInput, type StepResult } from './context';

export function directoriesFor(input: DeployInput, hostName: string): string[] {
  const inv = input.inventory;
  const host = findHost(inv, hostName);
  const dirs = [STAGING_DIR];
  if (hasRole(host, 'etcd')) dirs.push(inv.etcd.dataDir);
  if (hasRole(host, 'control-plane')) dirs.push(inv.dashboard.installDir);
  if (hasRole(host, 'data-plane')) dirs.push(inv.gateway.installDir);
  return [...new Set(dirs)];
}

export async function prepareHost(input: DeployInput, hostName: string): Promise<StepResult> {
  const dirs = directoriesFor(input, hostName);
  return withHost(input, hostName, async (ssh) => {
    const missing: string[] = [];
    for (const d of dirs) if ((await ssh.execRaw(['test', '-d', d])).code !== 0) missing.push(d);
    if (missing.length) await ssh.exec(['mkdir', '-p', ...missing]);
    return {
      host: hostName,
      changed: missing.length > 0,
      detail: missing.length ? `created ${missing.join(' ')}` : 'directories present',
    };
  });
}
