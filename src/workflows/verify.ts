// verifyHA: the vendor guide's three failure drills — one gateway, one dashboard, one etcd
// member down — measured through the load balancers, each always restored.
import {
  CancellationScope,
  defineQuery,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { VerifyActivities } from '../activities';
import type { DeployInput } from '../activities/context';
import { hostsWith } from '../model/components';
import {
  activityOptions,
  DRILL_ATTEMPTS,
  DRILL_STEP_TIMEOUT,
  RECOVERY_ATTEMPTS,
  RESTORE_ATTEMPTS,
  retryPolicy,
} from './activity-options';
import { CLUSTER, PHASE, VERDICT } from '../temporal/search-attributes';
import { approvalGate, approvalSettings, notApprovedSummary } from './approval';
import { failureMessage } from './failures';
import {
  DEFAULT_VERIFY_OPTIONS,
  journalMarkdown,
  overallVerdict,
  type DrillName,
  type DrillRecord,
  type Journal,
  type VerifyOptions,
} from './journal';

export interface VerifyInput extends DeployInput {
  options?: Partial<VerifyOptions>;
}

export const verifyProgressQuery = defineQuery<Journal>('progress');

const retry = retryPolicy(DRILL_ATTEMPTS, '5s');
const base = activityOptions(DRILL_STEP_TIMEOUT, retry);
const act = proxyActivities<VerifyActivities>(base);
// Restores run even after cancellation (in a non-cancellable scope).
const restore = proxyActivities<VerifyActivities>(
  activityOptions(DRILL_STEP_TIMEOUT, retryPolicy(RESTORE_ATTEMPTS, '10s')),
);
const recovery = proxyActivities<VerifyActivities>({
  ...base,
  retry: { ...retry, maximumAttempts: RECOVERY_ATTEMPTS },
});

export async function verifyHA(input: VerifyInput): Promise<Journal> {
  const inv = input.inventory;
  const options: VerifyOptions = {
    ...DEFAULT_VERIFY_OPTIONS,
    ...input.options,
    tolerances: { ...DEFAULT_VERIFY_OPTIONS.tolerances, ...input.options?.tolerances },
  };
  const now = () => new Date().toISOString(); // workflow time: deterministic
  const journal: Journal = {
    cluster: inv.cluster,
    startedAt: now(),
    phase: 'starting',
    drills: [],
    events: [],
  };
  setHandler(verifyProgressQuery, () => journal);
  const publish = () => setCurrentDetails(journalMarkdown(journal));
  const note = (what: string) => {
    journal.events.push({ at: now(), what });
    publish();
  };
  const enter = (phase: string) => {
    journal.phase = phase;
    upsertSearchAttributes([{ key: PHASE, value: phase }]);
    note(`phase ${phase}`);
  };
  upsertSearchAttributes([{ key: CLUSTER, value: inv.cluster }]);
  const approval = approvalGate(journal, { now, enter, note });

  const finish = (summary: string) => {
    journal.verdict = overallVerdict(journal.drills);
    journal.summary = summary;
    journal.endedAt = now();
    journal.phase = 'done';
    upsertSearchAttributes([
      { key: VERDICT, value: journal.verdict },
      { key: PHASE, value: 'done' },
    ]);
    publish();
    return journal;
  };

  enter('exclusion');
  const exclusion = await act.checkExclusion.executeWithOptions(
    { ...base, summary: `check no deploy or other verification of ${inv.cluster} runs` },
    [inv.cluster, workflowInfo().workflowId],
  );
  if (exclusion.blockedBy) return finish(`aborted before any fault: ${exclusion.blockedBy}`);

  // Runs that must be approved wait here, before the first fault.
  const gate = approvalSettings(inv, options);
  if (gate.required && !(await approval.wait(gate.timeoutMs)))
    return finish(notApprovedSummary(journal.approval!));

  const pickHost = (drill: DrillName): string => {
    const chosen = options.hosts?.[drill];
    if (chosen) return chosen;
    const candidates = hostsWith(inv, drill);
    return candidates[exclusion.previousRuns % candidates.length]!.name;
  };

  for (const drillName of options.drills) {
    const host = pickHost(drillName);
    const component = drillName; // a drill is named by the component it stops
    const record: DrillRecord = { drill: drillName, host, component, reasons: [], restored: true };
    journal.drills.push(record);

    // No drill starts while the cluster is degraded.
    enter(`${drillName}: steady state`);
    const steady = await act.steadyState.executeWithOptions(
      { ...base, summary: `steady-state check before the ${drillName} drill` },
      [input],
    );
    journal.steady = { ok: steady.ok, problems: steady.problems, checkedAt: now() };
    if (!steady.ok || !steady.clusterId) {
      record.verdict = 'aborted';
      record.reasons.push(`cluster not steady: ${steady.problems.join('; ')}`);
      break;
    }
    const clusterId = steady.clusterId;

    record.startedAt = now();
    enter(`${drillName}: fault on ${host}`);
    let stopped = false;
    try {
      await CancellationScope.cancellable(async () => {
        if (drillName === 'etcd') {
          stopped = true; // set before the call: a stop that lands but is not reported still gets restored
          await act.stopComponent.executeWithOptions(
            { ...base, summary: `${host}: stop etcd member` },
            [input, host, component],
          );
          record.faultAt = now();
          const checks = await act.etcdDrillChecks.executeWithOptions(
            {
              ...base,
              summary: `write, read and route through the control plane with ${host}'s etcd down`,
            },
            [input, clusterId, host, options.holdMs],
          );
          record.checks = { ...checks, problems: checks.problems.join('; ') };
          await sleep(Math.max(0, options.holdMs - 1000));
          if (!checks.routeWritten || !checks.routeReadBack)
            record.reasons.push('could not write and read back a route through the control plane');
          if (!checks.gatewaysRouted)
            record.reasons.push('the gateways did not pick up the new route');
          if (checks.healthyMembers !== hostsWith(inv, 'etcd').length - 1 || !checks.leader)
            record.reasons.push(
              `expected ${hostsWith(inv, 'etcd').length - 1} healthy members with a leader, saw ${checks.healthyMembers}${checks.leader ? '' : ' and no leader'}`,
            );
          record.reasons.push(...checks.problems);
        } else {
          const target = drillName;
          // Probe from just before the fault to its end, so the moment of failure is measured too.
          const probe = act.probeLoadBalancer.executeWithOptions(
            {
              ...base,
              startToCloseTimeout: options.holdMs + 120_000,
              summary: `probe the ${target} load balancer at ${options.rate}/s`,
            },
            [input, target, options.rate, options.holdMs + 1000, clusterId],
          );
          probe.catch(() => undefined); // awaited below; never an unhandled rejection if the stop fails
          await sleep(1000);
          stopped = true;
          await act.stopComponent.executeWithOptions(
            { ...base, summary: `${host}: docker compose down (${component})` },
            [input, host, component],
          );
          record.faultAt = now();
          record.probe = await probe;
          if (record.probe.failedRatio > options.tolerances.maxFailedRatio)
            record.reasons.push(
              `${record.probe.failures} of ${record.probe.requests} requests failed (more than ${options.tolerances.maxFailedRatio * 100} %)`,
            );
        }
      });
    } catch (e) {
      record.verdict = 'aborted';
      record.reasons.push(isCancellation(e) ? 'cancelled' : failureMessage(e));
      if (isCancellation(e)) {
        await restoreDrill();
        finish(
          `cancelled during the ${drillName} drill; ${record.restored ? `${host} was restored` : `RESTORE OF ${host} FAILED`}`,
        );
        throw e;
      }
    }
    await restoreDrill();
    if (!record.verdict) record.verdict = record.reasons.length ? 'deviated' : 'passed';
    note(`${drillName} drill: ${record.verdict}`);
    if (record.verdict === 'aborted' || !record.restored) break;

    // Restore always runs, even in a cancelled workflow (non-cancellable scope).
    async function restoreDrill() {
      if (!stopped) return;
      await CancellationScope.nonCancellable(async () => {
        enter(`${drillName}: restore ${host}`);
        try {
          // Time to recover: from the restore command to healthy (workflow time, replay-safe).
          const restoreStarted = Date.now();
          await restore.startComponent.executeWithOptions(
            { ...base, summary: `${host}: restore ${component}` },
            [input, host, component],
          );
          record.restoredAt = now();
          await recovery.waitRecovered.executeWithOptions(
            {
              ...base,
              startToCloseTimeout: options.tolerances.maxRecoveryMs + 300_000,
              summary: `${host}: wait until ${component} is healthy again`,
            },
            [input, host, component, options.tolerances.maxRecoveryMs + 240_000],
          );
          record.recoveryMs = Date.now() - restoreStarted;
          if (record.recoveryMs > options.tolerances.maxRecoveryMs)
            record.reasons.push(
              `recovery took ${Math.round(record.recoveryMs / 1000)} s (tolerance ${options.tolerances.maxRecoveryMs / 1000} s)`,
            );
          record.restored = true;
        } catch (e) {
          record.restored = false;
          record.verdict = 'aborted';
          record.reasons.push(`restore failed: ${failureMessage(e)}`);
        }
        record.endedAt = now();
        stopped = false;
        publish();
      });
    }
  }
  const v = overallVerdict(journal.drills);
  return finish(
    `${journal.drills.length} drill(s): ${journal.drills.map((d) => `${d.drill} on ${d.host} ${d.verdict}`).join(', ')}; overall ${v}`,
  );
}
