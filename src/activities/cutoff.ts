// The harsher drills' faults on one host: cut it (or only its etcd member) off by packet
// filtering on the host itself, heal it, and what the partition drill reads from the cut
// member. The filters leave SSH open, so healing works over the same link (see
// commands/drills.ts); healing is idempotent and safe to repeat after a worker crash.
import { forceRemoveContainerArgv } from '../commands/docker';
import {
  cutOffArgv,
  DRILL_ETCDCTL_CONTAINER,
  linearizableReadArgv,
  reconnectArgv,
  type CutOff,
} from '../commands/drills';
import { hostsWith } from '../model/components';
import { errorText } from '../util/errors';
import { etcdPassword, withHost, type DeployInput } from './context';

/** Cut `hostName` (all but SSH) or its etcd member off; returns what was cut, for the journal. */
export const cutOffHost = (input: DeployInput, hostName: string, what: CutOff) =>
  withHost(input, hostName, async (ssh) => {
    await ssh.exec(cutOffArgv(input.inventory, hostName, what));
    return what === 'host'
      ? `${hostName}: every port but SSH filtered (iptables)`
      : `${hostName}: etcd client and peer ports filtered (iptables)`;
  });

/** Undo cutOffHost: remove api7-ha's chains, whether or not they are there. */
export const reconnectHost = (input: DeployInput, hostName: string, what: CutOff) =>
  withHost(input, hostName, async (ssh) => {
    await ssh.exec(reconnectArgv(input.inventory, hostName, what));
    return `${hostName}: ${what} filters removed`;
  });

export interface PartitionReads {
  /** The cut member answered a linearizable read (it must not). */
  isolatedAnswered: boolean;
  /** Why it did not, as etcdctl said. */
  isolatedError?: string;
  /** The same read on a member of the majority, which must answer. */
  majorityHost?: string;
  majorityAnswered: boolean;
  problems: string[];
}

/** A linearizable read on the cut member (from its own host) and, as the control, on a majority member. */
export async function partitionReads(
  input: DeployInput,
  isolatedHost: string,
): Promise<PartitionReads> {
  const inv = input.inventory;
  const password = etcdPassword(input);
  const read = (host: string) =>
    withHost(input, host, async (ssh) => {
      await ssh.execRaw(forceRemoveContainerArgv(DRILL_ETCDCTL_CONTAINER)); // a crashed attempt's
      return ssh.execRaw(
        linearizableReadArgv(inv, host, password !== undefined),
        password !== undefined ? { stdin: `${password}\n` } : {},
      );
    });
  const out: PartitionReads = { isolatedAnswered: false, majorityAnswered: false, problems: [] };
  const isolated = await read(isolatedHost);
  out.isolatedAnswered = isolated.code === 0;
  if (isolated.code !== 0)
    out.isolatedError = (isolated.stderr || isolated.stdout)
      .trim()
      .split('\n')
      .pop()
      ?.slice(0, 300);
  else out.problems.push(`the cut-off member on ${isolatedHost} answered a linearizable read`);
  out.majorityHost = hostsWith(inv, 'etcd').find((h) => h.name !== isolatedHost)?.name;
  if (out.majorityHost) {
    try {
      const r = await read(out.majorityHost);
      out.majorityAnswered = r.code === 0;
      if (r.code !== 0)
        out.problems.push(
          `the member on ${out.majorityHost} did not answer a linearizable read: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
        );
    } catch (e) {
      out.problems.push(`${out.majorityHost}: ${errorText(e)}`);
    }
  }
  return out;
}
