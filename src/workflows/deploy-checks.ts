// The deploy's two global barriers, before any host is changed: the inventory is valid,
// and every host passes preflight. Every problem on every host is reported at once.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { DeployActivities } from '../activities';
import type { DeployInput } from '../activities/context';
import type { ComposeFlavor } from '../commands/compose';
import {
  activityOptions,
  DEPLOY_ATTEMPTS,
  PREFLIGHT_ATTEMPTS,
  retryPolicy,
  STEP_TIMEOUT,
} from './activity-options';
import { settleBounded } from './bounded';
import type { DeployTracker } from './deploy-tracker';
import { failureMessage } from './failures';

export const deployRetry = retryPolicy(DEPLOY_ATTEMPTS, '10s');
export const deployOptions = activityOptions(STEP_TIMEOUT, deployRetry);

// Call sites pass complete options (with a summary for the UI) via executeWithOptions.
export const deployActs = proxyActivities<DeployActivities>(deployOptions);

export async function validate(input: DeployInput, t: DeployTracker): Promise<void> {
  t.enter('validate');
  t.progress.warnings = (
    await deployActs.validateDeploy.executeWithOptions(
      { ...deployOptions, summary: `validate inventory of ${input.inventory.cluster}` },
      [input],
    )
  ).warnings;
  t.finish('validate');
}

/** Preflight every host; returns each host's compose flavour, or fails listing every problem. */
export async function preflight(
  input: DeployInput,
  t: DeployTracker,
  bound: number,
): Promise<Record<string, ComposeFlavor>> {
  const inv = input.inventory;
  t.enter('preflight');
  const compose: Record<string, ComposeFlavor> = {};
  const checked = await settleBounded(inv.hosts, bound, async (h) => {
    t.mark(h.name, 'preflight', 'running');
    return deployActs.preflightHost.executeWithOptions(
      {
        ...deployOptions,
        retry: { ...deployRetry, maximumAttempts: PREFLIGHT_ATTEMPTS },
        summary: `${h.name}: preflight`,
      },
      [input, h.name],
    );
  });
  const problems: string[] = [];
  for (const c of checked) {
    const found = c.ok ? c.value.problems : [failureMessage(c.error)];
    if (c.ok && c.value.compose) compose[c.item.name] = c.value.compose;
    problems.push(...found.map((p) => `${c.item.name}: ${p}`));
    t.mark(
      c.item.name,
      'preflight',
      found.length ? 'failed' : 'done',
      found.join('; ') ||
        (c.ok
          ? `kernel ${c.value.kernel}, Docker ${c.value.docker}, compose ${c.value.compose ?? '-'}`
          : ''),
    );
  }
  if (problems.length)
    throw ApplicationFailure.nonRetryable(
      `preflight found ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      'PreflightFailed',
    );
  t.finish('preflight');
  return compose;
}
