// Before a deploy replaces a running dashboard or gateway with another bundle (a version
// change): which hosts run a container of the service from another bundle's compose
// project. The deploy takes an etcd backup first when any does (workflows/deploy-backup.ts).
import { parseServiceContainers, serviceContainersArgv } from '../commands/compose';
import { composeProject } from '../commands/layout';
import { bundled, hostsWith } from '../model/components';
import { withHost, type DeployInput } from './context';

/** `<host>: <service> runs <project>, the inventory has <project>`, per host that changes bundle. */
export async function bundleChanges(input: DeployInput): Promise<string[]> {
  const inv = input.inventory;
  const found = await Promise.all(
    (['control-plane', 'data-plane'] as const).flatMap((role) => {
      const b = bundled(inv, role);
      const want = composeProject(b.dir);
      return hostsWith(inv, role).map((h) =>
        withHost(input, h.name, async (ssh) => {
          const others = parseServiceContainers(
            await ssh.exec(serviceContainersArgv(b.composeService)),
          ).filter((c) => c.project && c.project !== want);
          return others.length
            ? [
                `${h.name}: ${b.composeService} runs ${others[0]!.project}, the inventory has ${want}`,
              ]
            : [];
        }),
      );
    }),
  );
  return found.flat();
}
