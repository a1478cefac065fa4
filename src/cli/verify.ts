// `api7-ha verify`: run the drills now (or show the last verdict), with a readable
// table and optional JSON / Markdown reports.
import { writeFileSync } from 'node:fs';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { referenceProblems } from '../activities/validate';
import { InventoryError, loadInventory } from '../config/load';
import { connectClient } from '../temporal/connection';
import { clusterRunsQuery } from '../temporal/lookup';
import { CLUSTER, TASK_QUEUE } from '../temporal/search-attributes';
import { sleep } from '../util/exec';
import {
  approvalLine,
  ALL_DRILLS,
  GUIDE_DRILLS,
  type DrillName,
  type Journal,
  type VerifyOptions,
} from '../workflows/journal';
import type { verifyHA, VerifyInput } from '../workflows/verify';
import { rootMessage } from './deploy';
import { NotFound, RefusedInput } from './exit';
import { pc, table } from './output';
import { uiUrl } from './ui';

export interface VerifyCliOptions {
  inventory?: string;
  last?: string;
  follow?: boolean;
  /** A file for the journal, or true: the result as JSON on stdout instead of the table. */
  json?: string | boolean;
  markdown?: string;
  /** A file for the self-contained HTML report with one chart per drill. */
  html?: string;
  rate?: number;
  hold?: number;
  drills?: string;
  dataPlaneHost?: string;
  controlPlaneHost?: string;
  etcdHost?: string;
  hostDrillHost?: string;
  partitionHost?: string;
  gatewayRestartHost?: string;
  maxFailedRatio?: number;
  maxRecovery?: number;
  requireApproval?: boolean;
  approvalTimeout?: number;
  abortFailedShare?: number;
  abortUnhealthyAfter?: number;
}

const DRILLS: readonly DrillName[] = ALL_DRILLS;

/** The role a drill's chosen host must have, and the flag that chooses it. */
const HOST_FLAGS: Record<DrillName, { flag: string; role?: string }> = {
  'data-plane': { flag: '--data-plane-host', role: 'data-plane' },
  'control-plane': { flag: '--control-plane-host', role: 'control-plane' },
  etcd: { flag: '--etcd-host', role: 'etcd' },
  host: { flag: '--host-drill-host' },
  'etcd-partition': { flag: '--partition-host', role: 'etcd' },
  'gateway-restart-degraded': { flag: '--gateway-restart-host', role: 'data-plane' },
};

export function verifyOptionsFrom(o: VerifyCliOptions): Partial<VerifyOptions> {
  const out: Partial<VerifyOptions> = {};
  if (o.drills) {
    const drills =
      o.drills.trim() === 'all' ? [...DRILLS] : o.drills.split(',').map((d) => d.trim());
    const bad = drills.filter((d) => !DRILLS.includes(d as DrillName));
    if (bad.length)
      throw new RefusedInput(
        `--drills: unknown drill ${bad.join(', ')} (choose from ${DRILLS.join(', ')}, or all)`,
      );
    if (new Set(drills).size !== drills.length)
      throw new RefusedInput('--drills: a drill is listed twice');
    out.drills = drills as DrillName[];
  }
  if (o.rate !== undefined) out.rate = o.rate;
  if (o.hold !== undefined) out.holdMs = o.hold * 1000;
  const hosts: Partial<Record<DrillName, string>> = {};
  if (o.dataPlaneHost) hosts['data-plane'] = o.dataPlaneHost;
  if (o.controlPlaneHost) hosts['control-plane'] = o.controlPlaneHost;
  if (o.etcdHost) hosts.etcd = o.etcdHost;
  if (o.hostDrillHost) hosts.host = o.hostDrillHost;
  if (o.partitionHost) hosts['etcd-partition'] = o.partitionHost;
  if (o.gatewayRestartHost) hosts['gateway-restart-degraded'] = o.gatewayRestartHost;
  if (Object.keys(hosts).length) out.hosts = hosts;
  const tolerances: Partial<VerifyOptions['tolerances']> = {};
  if (o.maxFailedRatio !== undefined) tolerances.maxFailedRatio = o.maxFailedRatio;
  if (o.maxRecovery !== undefined) tolerances.maxRecoveryMs = o.maxRecovery * 1000;
  if (Object.keys(tolerances).length) out.tolerances = tolerances as VerifyOptions['tolerances'];
  if (o.requireApproval) out.requireApproval = true;
  if (o.approvalTimeout !== undefined) out.approvalTimeoutMs = o.approvalTimeout * 1000;
  const safeguards: Partial<VerifyOptions['safeguards']> = {};
  if (o.abortFailedShare !== undefined) safeguards.maxFailedShare = o.abortFailedShare;
  if (o.abortUnhealthyAfter !== undefined) safeguards.unhealthyForMs = o.abortUnhealthyAfter * 1000;
  if (Object.keys(safeguards).length) out.safeguards = safeguards as VerifyOptions['safeguards'];
  return out;
}

/** Refuse fault hosts that are not in the inventory or lack the role, before anything starts. */
export function checkVerifyOptions(input: VerifyInput): void {
  for (const [drill, host] of Object.entries(input.options?.hosts ?? {})) {
    const { flag, role } = HOST_FLAGS[drill as DrillName];
    const h = input.inventory.hosts.find((x) => x.name === host);
    if (!h) throw new RefusedInput(`${flag}: no host named ${host} in the inventory`);
    if (role ? !(h.roles as string[]).includes(role) : !h.roles.length)
      throw new RefusedInput(`${flag}: ${host} has ${role ? `no ${role} role` : 'no role'}`);
  }
  const o = input.options ?? {};
  if (o.rate !== undefined && !(o.rate >= 1 && o.rate <= 1000))
    throw new RefusedInput('--rate: must be between 1 and 1000 requests per second');
  if (o.holdMs !== undefined && !(o.holdMs >= 1000 && o.holdMs <= 3_600_000))
    throw new RefusedInput('--hold: must be between 1 and 3600 seconds');
  const t = o.tolerances;
  if (t?.maxFailedRatio !== undefined && !(t.maxFailedRatio >= 0 && t.maxFailedRatio <= 1))
    throw new RefusedInput('--max-failed-ratio: must be between 0 and 1 (0.001 = 0.1 %)');
  if (t?.maxRecoveryMs !== undefined && !(t.maxRecoveryMs >= 1000 && t.maxRecoveryMs <= 3_600_000))
    throw new RefusedInput('--max-recovery: must be between 1 and 3600 seconds');
  if (
    o.approvalTimeoutMs !== undefined &&
    !(o.approvalTimeoutMs >= 1000 && o.approvalTimeoutMs <= 604_800_000)
  )
    throw new RefusedInput('--approval-timeout: must be between 1 and 604800 seconds (7 days)');
  if (
    o.approvalTimeoutMs !== undefined &&
    !o.requireApproval &&
    !input.inventory.verify.requireApproval
  )
    throw new RefusedInput(
      '--approval-timeout: goes with --require-approval (or verify.requireApproval in the inventory)',
    );
  const g = o.safeguards;
  if (g?.maxFailedShare !== undefined && !(g.maxFailedShare > 0 && g.maxFailedShare <= 1))
    throw new RefusedInput('--abort-failed-share: must be above 0 and at most 1 (0.5 = 50 %)');
  if (g?.unhealthyForMs !== undefined && !(g.unhealthyForMs >= 1000 && g.unhealthyForMs <= 600_000))
    throw new RefusedInput('--abort-unhealthy-after: must be between 1 and 600 seconds');
}

/** Inventory plus drill options from the command line, checked before anything starts. */
export async function loadVerifyInput(file: string, o: VerifyCliOptions): Promise<VerifyInput> {
  const loaded = await loadInventory(file);
  const input: VerifyInput = {
    inventory: loaded.inventory,
    baseDir: loaded.baseDir,
    options: verifyOptionsFrom(o),
  };
  checkVerifyOptions(input);
  // The drills' activities read these on the worker; a bad one is refused here first.
  const problems = referenceProblems(loaded.inventory, loaded.baseDir);
  if (problems.length) throw new InventoryError(file, problems);
  return input;
}

export function journalTable(j: Journal): string {
  const t = table({
    head: [
      'drill',
      'host',
      'verdict',
      'requests',
      'failed',
      'p50',
      'p95',
      'p99',
      'recovery',
      'restored',
    ],
  });
  const ms = (n?: number) => (n === undefined ? '-' : `${Math.round(n)} ms`);
  const colour = (v?: string) =>
    v === 'passed' ? pc.green(v) : v === 'deviated' ? pc.yellow(v) : v ? pc.red(v) : 'running';
  for (const d of j.drills)
    t.push([
      d.drill,
      d.host,
      colour(d.verdict),
      d.probe?.requests ?? '-',
      d.probe ? `${d.probe.failures} (${(d.probe.failedRatio * 100).toFixed(2)} %)` : '-',
      ms(d.probe?.p50Ms),
      ms(d.probe?.p95Ms),
      ms(d.probe?.p99Ms),
      ms(d.recoveryMs),
      d.restored ? 'yes' : pc.red('NO'),
    ]);
  const notes = j.drills
    .filter((d) => d.reasons.length)
    .map((d) => `  ${d.drill}: ${d.reasons.join('; ')}`);
  return [
    `verification of ${j.cluster}: ${colour(j.verdict)}`,
    ...(j.approval ? [approvalLine(j).replace(/\*\*|`/g, '')] : []),
    t.toString(),
    ...notes,
    j.summary ?? '',
  ].join('\n');
}

async function writeReports(j: Journal, o: VerifyCliOptions, workflowId?: string) {
  if (typeof o.json === 'string') writeFileSync(o.json, `${JSON.stringify(j, null, 2)}\n`);
  // The charting library loads only when a report with charts is asked for.
  if (o.markdown)
    for (const f of (await import('../report/markdown.js')).markdownReport(j, o.markdown))
      writeFileSync(f.path, f.text);
  if (o.html)
    writeFileSync(o.html, (await import('../report/html.js')).journalHtml(j, { workflowId }));
}

export async function startVerify(client: Client, input: VerifyInput) {
  return client.workflow.start<typeof verifyHA>('verifyHA', {
    taskQueue: TASK_QUEUE,
    workflowId: `verify-${input.inventory.cluster}-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    args: [input],
    typedSearchAttributes: [{ key: CLUSTER, value: input.inventory.cluster }],
    staticSummary: `Verify HA of "${input.inventory.cluster}": ${(input.options?.drills ?? GUIDE_DRILLS).join(', ')} drills`,
  });
}

/** `--json` without a file: what `status --json` gives for a deploy, for a verification. */
function printJson(
  run: { workflowId: string; runId: string; status: string },
  journal: Journal | undefined,
  failure?: string,
) {
  console.log(JSON.stringify({ ...run, verdict: journal?.verdict, journal, failure }, null, 2));
}

async function showLast(client: Client, cluster: string, o: VerifyCliOptions) {
  for await (const w of client.workflow.list({
    query: `${clusterRunsQuery('verifyHA', cluster)} AND ExecutionStatus != 'Running'`,
  })) {
    const handle = client.workflow.getHandle<typeof verifyHA>(w.workflowId, w.runId);
    let failure: string | undefined;
    const j = await handle.result().catch((e: unknown) => void (failure = rootMessage(e)));
    if (j?.verdict !== 'passed') process.exitCode = 1;
    if (o.json === true)
      return printJson(
        { workflowId: w.workflowId, runId: w.runId, status: w.status.name },
        j ?? undefined,
        failure,
      );
    console.log(
      `${w.workflowId} (${w.status.name}, ${w.startTime.toISOString()})\n  ${uiUrl(client, w.workflowId, w.runId)}`,
    );
    if (j) {
      console.log(journalTable(j));
      await writeReports(j, o, w.workflowId);
    } else if (failure) console.log(pc.red(`failed: ${failure}`));
    return;
  }
  throw new NotFound(`no finished verification of cluster "${cluster}" found`);
}

export async function verifyCommand(o: VerifyCliOptions): Promise<Journal | undefined> {
  if (o.last) {
    const client = await connectClient();
    await showLast(client, o.last, o);
    return undefined;
  }
  if (!o.inventory)
    throw new RefusedInput(
      'give -i <inventory> to run a verification, or --last <cluster> to see the latest result',
    );
  if ((o.json || o.markdown || o.html) && !o.follow)
    throw new RefusedInput(
      '--json, --markdown and --html need --follow (or use --last <cluster> later)',
    );
  // With the result as JSON on stdout, everything said along the way goes to stderr.
  const say = o.json === true ? console.error : console.log;
  const input = await loadVerifyInput(o.inventory, o);
  const client = await connectClient();
  const handle = await startVerify(client, input);
  say(
    `verification started: workflow ${handle.workflowId}\n  ${uiUrl(client, handle.workflowId, handle.firstExecutionRunId)}`,
  );
  if (!o.follow) return undefined;
  let done = false;
  let lastLine = '';
  const result = handle.result().finally(() => (done = true));
  const poll = (async () => {
    while (!done) {
      const j = await handle.query<Journal>('progress').catch(() => undefined);
      const line = j
        ? `  ${j.phase}${j.approval && !j.approval.decision ? ` until ${j.approval.until}: approve with \`api7-ha verify approve ${j.cluster}\`` : ''}`
        : '';
      if (line && line !== lastLine) say(line);
      lastLine = line || lastLine;
      await sleep(1000);
    }
  })();
  try {
    const j = await result;
    await poll;
    if (o.json === true)
      printJson(
        { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, status: 'COMPLETED' },
        j,
      );
    else console.log(journalTable(j));
    await writeReports(j, o, handle.workflowId);
    if (j.verdict !== 'passed') process.exitCode = 1;
    return j;
  } catch (e) {
    await poll;
    if (e instanceof WorkflowFailedError) throw new Error(`verification failed: ${rootMessage(e)}`);
    throw e;
  }
}
