// verifyHA: failure drills — by default the vendor guide's three (one gateway, one
// dashboard, one etcd member down), on request also a whole host, an etcd partition and a
// gateway restart with a member down (drills/) — each behind a steady-state gate,
// measured through the load balancers, watched by safeguards and always restored.
import {
  defineQuery,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeployInput } from '../activities/context';
import { CLUSTER, PHASE, VERDICT } from '../temporal/search-attributes';
import { approvalGate, approvalSettings, notApprovedSummary } from './approval';
import { act, base } from './drills/activities';
import { runDrill } from './drills/fault';
import { planDrill } from './drills/pick';
import {
  DEFAULT_VERIFY_OPTIONS,
  journalMarkdown,
  overallVerdict,
  type DrillRecord,
  type Journal,
  type VerifyOptions,
} from './journal';

export interface VerifyInput extends DeployInput {
  options?: Partial<VerifyOptions>;
}

export const verifyProgressQuery = defineQuery<Journal>('progress');

export async function verifyHA(input: VerifyInput): Promise<Journal> {
  const inv = input.inventory;
  const options: VerifyOptions = {
    ...DEFAULT_VERIFY_OPTIONS,
    ...input.options,
    tolerances: { ...DEFAULT_VERIFY_OPTIONS.tolerances, ...input.options?.tolerances },
    safeguards: { ...DEFAULT_VERIFY_OPTIONS.safeguards, ...input.options?.safeguards },
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

  for (const drillName of options.drills) {
    const drill = planDrill(drillName, inv, options, exclusion.previousRuns);
    const host = drill.host;
    const record: DrillRecord = {
      drill: drillName,
      host,
      component: drill.component,
      reasons: [],
      restored: true,
    };
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
    // Fault, hold (safeguards watching), and always restore: drills/fault.ts.
    const cancelled = await runDrill(
      {
        input,
        options,
        record,
        clusterId,
        now,
        enter,
        note,
        injected: () => undefined,
        step: (summary, over) => ({ ...base, ...over, summary }),
      },
      drill,
    );
    publish();
    if (cancelled) {
      finish(
        `cancelled during the ${drillName} drill; ${record.restored ? `${host} was restored` : `RESTORE OF ${host} FAILED`}`,
      );
      throw cancelled;
    }
    if (!record.verdict) record.verdict = record.reasons.length ? 'deviated' : 'passed';
    note(`${drillName} drill: ${record.verdict}`);
    if (record.verdict === 'aborted' || !record.restored) break;
  }
  const v = overallVerdict(journal.drills);
  return finish(
    `${journal.drills.length} drill(s): ${journal.drills.map((d) => `${d.drill} on ${d.host} ${d.verdict}`).join(', ')}; overall ${v}`,
  );
}
