// Teardown of one host: look at what a deploy left there (commands/teardown.ts, from the
// deploy's own facts), then remove only what was found. From any state: a host where
// nothing was deployed, or a deploy stopped half way, and a second teardown is a no-op.
import { clusterBlocker } from '../temporal/cluster-lock';
import { imageIdArgv } from '../commands/docker';
import { findHost } from '../commands/layout';
import {
  footprint,
  observeCommands,
  parseObservation,
  removeCommands,
  type EtcdDataChoice,
} from '../commands/teardown';
import { RemoteCommandError } from '../ssh/session';
import { withHost, type DeployInput, type StepResult } from './context';

export interface TeardownInput extends DeployInput {
  /** etcd's data directories: kept (the default) or deleted (`--delete-etcd-data`). */
  etcdData: EtcdDataChoice;
}

export interface TeardownHostResult extends StepResult {
  removed: string[];
  /** Kept on purpose (etcd's data directory). */
  kept: string[];
  /** Could not be removed, and why (an image someone else's container still uses). */
  left: string[];
}

/** Why a teardown must not start now, if it must not (the per-cluster lock). */
export async function checkTeardownExclusion(
  cluster: string,
  selfWorkflowId: string,
): Promise<{ blockedBy?: string }> {
  const blocked = await clusterBlocker({
    cluster,
    workflowId: selfWorkflowId,
    type: 'teardownCluster',
  });
  return { blockedBy: blocked?.message };
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

export async function teardownHost(
  input: TeardownInput,
  hostName: string,
): Promise<TeardownHostResult> {
  const inv = input.inventory;
  const f = footprint(inv, findHost(inv, hostName));
  return withHost(input, hostName, async (ssh) => {
    const found = parseObservation(
      f,
      await ssh.execBatch(observeCommands(f).map((argv) => ({ argv }))),
    );
    // Images a bundle carried besides the inventory's: only those that are there.
    const marked = await ssh.execBatch(found.markedImages.map((t) => ({ argv: imageIdArgv(t) })));
    const extra = found.markedImages.filter((_, i) => marked[i]?.code === 0);
    const left: string[] = [];
    for (const argv of removeCommands(f, found, extra, input.etcdData)) {
      const r = await ssh.execRaw(argv);
      if (r.code === 0) continue;
      // An image in use by a container that is not ours stays; everything else is retried.
      if (argv[1] === 'image') left.push(`image ${argv.at(-1)}: ${r.stderr.trim().slice(0, 200)}`);
      else throw new RemoteCommandError(hostName, ssh.commandLine(argv), r.code, r.stderr);
    }
    const images = [...found.images, ...extra].filter(
      (i) => !left.some((l) => l.startsWith(`image ${i}:`)),
    );
    const removed = [
      ...found.containers.map((c) => `container ${c.what}`),
      ...(found.networks.length ? [plural(found.networks.length, 'compose network')] : []),
      ...images.map((i) => `image ${i}`),
      ...found.trees.map((d) => `directory ${d}`),
      ...found.files.map((x) => `file ${x}`),
      ...(input.etcdData === 'delete' && found.etcdData ? [`etcd data ${f.etcdData}`] : []),
    ];
    const kept =
      input.etcdData === 'keep' && found.etcdData && f.etcdData ? [`etcd data ${f.etcdData}`] : [];
    const parts = [
      removed.length ? `removed ${removed.join(', ')}` : 'nothing of api7-ha found',
      ...(kept.length ? [`kept ${kept.join(', ')}`] : []),
      ...(left.length ? [`left ${left.join('; ')}`] : []),
    ];
    return {
      host: hostName,
      changed: removed.length > 0,
      detail: parts.join('; '),
      removed,
      kept,
      left,
    };
  });
}
