// Phase 3: the directories the guide creates by hand (and our staging directory).
import { directoriesFor, findHost } from '../commands/layout';
import { dirExistsArgv, makeDirArgv } from '../commands/files';
import { withHost, type DeployInput, type StepResult } from './context';

export async function prepareHost(input: DeployInput, hostName: string): Promise<StepResult> {
  const dirs = directoriesFor(input.inventory, findHost(input.inventory, hostName));
  return withHost(input, hostName, async (ssh) => {
    // Which are there, in one round trip.
    const found = await ssh.execBatch(dirs.map((d) => ({ argv: dirExistsArgv(d) })));
    const missing = dirs.filter((_, i) => found[i]!.code !== 0);
    // One directory per command, so each is one fixed sudo rule (commands/sudo.ts).
    for (const d of missing) await ssh.exec(makeDirArgv(d));
    return {
      host: hostName,
      changed: missing.length > 0,
      detail: missing.length ? `created ${missing.join(' ')}` : 'directories present',
    };
  });
}
