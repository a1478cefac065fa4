// `api7-ha verify approve <cluster>`: approve (or reject) the running verification of a
// cluster that waits at its approval gate, by sending it the Temporal Update `approve`.
import os from 'node:os';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { name as clusterName } from '../config/inventory';
import { connectClient } from '../temporal/connection';
import { runningRuns } from '../temporal/cluster-lock';
import { approvalRequestProblem, approveUpdate, type ApprovalRequest } from '../workflows/approval';
import { rootMessage } from './deploy';
import { NotFound, RefusedInput } from './exit';
import { pc } from './output';

export interface ApproveCliOptions {
  reject?: boolean;
  reason?: string;
  /** The approver's identity; default: the OS user at this host. */
  as?: string;
}

/** Who approves when `--as` is not given: user@host of this machine. */
export const defaultApprover = () => `${os.userInfo().username}@${os.hostname()}`;

export async function approveCommand(cluster: string, o: ApproveCliOptions): Promise<void> {
  if (!clusterName.safeParse(cluster).success)
    throw new RefusedInput(`cluster: "${cluster}" is not a cluster name (a DNS label)`);
  if (o.reason !== undefined && !o.reject && !o.reason.trim())
    throw new RefusedInput('--reason: must not be empty');
  const request: ApprovalRequest = {
    cluster,
    approver: o.as ?? defaultApprover(),
    ...(o.reject ? { reject: true } : {}),
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
  };
  const problem = approvalRequestProblem(request);
  if (problem)
    throw new RefusedInput(
      problem.startsWith('a rejection') ? `--reason: ${problem}` : `--as: ${problem}`,
    );

  const client = await connectClient();
  const running = await runningRuns(client, 'verifyHA', cluster);
  if (!running.length) throw new NotFound(`no running verification of cluster "${cluster}"`);
  if (running.length > 1)
    throw new RefusedInput(
      `several verifications of ${cluster} are running (${running.join(', ')}); approve one in the Temporal UI`,
    );
  const workflowId = running[0]!;
  try {
    const a = await client.workflow.getHandle(workflowId).executeUpdate(approveUpdate, {
      args: [request],
    });
    console.log(
      a.decision === 'approved'
        ? `${pc.green('approved')} by ${a.by}: ${workflowId} goes on with the drills`
        : `${pc.red('rejected')} by ${a.by}: ${workflowId} ends aborted, nothing injected`,
    );
  } catch (e) {
    // The workflow's validator refused it (not waiting, wrong cluster, bad identity).
    if (e instanceof WorkflowUpdateFailedError)
      throw new RefusedInput(`${workflowId} refused the approval: ${rootMessage(e)}`);
    throw e;
  }
}
