// The verification journal: what VerifyHA did, measured and concluded. It is the
// workflow's result, its progress query and (rendered) its UI details and CLI report.
import type { ComponentName } from '../model/components';

export type Verdict = 'passed' | 'deviated' | 'aborted';

/**
 * The guide's three drills are named by the component they stop; the harsher ones by
 * what they do: a whole host gone, an etcd member partitioned off, a gateway restarted
 * while an etcd member is down.
 */
export type DrillName = ComponentName | 'host' | 'etcd-partition' | 'gateway-restart-degraded';
export const GUIDE_DRILLS: readonly DrillName[] = ['data-plane', 'control-plane', 'etcd'];
export const ALL_DRILLS: readonly DrillName[] = [
  ...GUIDE_DRILLS,
  'host',
  'etcd-partition',
  'gateway-restart-degraded',
];

/** Which safeguard ended a held fault early: the workflow restored at once. */
export interface SafeguardTrip {
  safeguard: 'failed-share' | 'second-component' | 'cancelled';
  at: string;
  detail: string;
}

export interface ProbeStats {
  target: string;
  requests: number;
  failures: number;
  failedRatio: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** A few distinct failure reasons, for the report. */
  errors: string[];
  /** Second by second, for the report's chart (runs before the series was kept have none). */
  series?: ProbeSeries;
}

/**
 * A probe's requests second by second: entry i counts the requests started from i to i+1
 * seconds after `startedAt`, with the latency percentiles of those requests (0 when none).
 * Columns rather than one object per second keep a long hold small in workflow history.
 */
export interface ProbeSeries {
  /** The probe's first request (the worker's clock), ISO 8601. */
  startedAt: string;
  requests: number[];
  failures: number[];
  p50Ms: number[];
  p95Ms: number[];
}

export interface DrillRecord {
  drill: DrillName;
  host: string;
  component: string;
  verdict?: Verdict;
  reasons: string[];
  startedAt?: string;
  faultAt?: string;
  restoredAt?: string;
  endedAt?: string;
  probe?: ProbeStats;
  /** The host drill probes both load balancers: the control plane's is here. */
  controlPlaneProbe?: ProbeStats;
  recoveryMs?: number;
  /** etcd drills: what was checked while the member was down or cut off. */
  checks?: Record<string, boolean | string | number>;
  /** Set when a safeguard ended the fault early. */
  safeguard?: SafeguardTrip;
  restored: boolean;
}

export interface VerifyTolerances {
  /** Largest acceptable share of failed probe requests during a fault (0.001 = 0.1 %). */
  maxFailedRatio: number;
  /** Longest acceptable time from restore to healthy, in ms. */
  maxRecoveryMs: number;
}

/** When a held fault is ended early (see activities/safeguards.ts). */
export interface SafeguardLimits {
  /** Abort when more than this share of requests through a load balancer fail within windowMs. */
  maxFailedShare: number;
  windowMs: number;
  /** Abort when a component that is not the target stays unhealthy this long. */
  unhealthyForMs: number;
}

export interface VerifyOptions {
  drills: DrillName[];
  /** Probe requests per second against the load balancer during a fault. */
  rate: number;
  /** How long each fault lasts, in ms. */
  holdMs: number;
  tolerances: VerifyTolerances;
  safeguards: SafeguardLimits;
  /**
   * Fault these hosts; otherwise the faulted host rotates between runs (the host drill:
   * among the hosts with the most roles). gateway-restart-degraded restarts the gateway
   * on its host and stops the etcd member on the etcd drill's host.
   */
  hosts?: Partial<Record<DrillName, string>>;
  /** Wait for `api7-ha verify approve` before the first fault (so does the inventory's `verify.requireApproval`). */
  requireApproval?: boolean;
  /** How long to wait for the approval (default: the inventory's, else one hour). */
  approvalTimeoutMs?: number;
}

export const DEFAULT_VERIFY_OPTIONS: VerifyOptions = {
  drills: [...GUIDE_DRILLS],
  rate: 20,
  holdMs: 15_000,
  tolerances: { maxFailedRatio: 0.001, maxRecoveryMs: 60_000 },
  safeguards: { maxFailedShare: 0.5, windowMs: 5000, unhealthyForMs: 6000 },
};

/** The approval gate of a run that required approval (src/workflows/approval.ts). */
export interface ApprovalRecord {
  waitingSince: string;
  /** When the wait times out. */
  until: string;
  timeoutMs: number;
  decision?: 'approved' | 'rejected' | 'timed out';
  /** The approver's identity, as sent with the approval. */
  by?: string;
  at?: string;
  reason?: string;
}

/** How long a run waits for approval unless the options or the inventory say otherwise. */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 3600;

export interface Journal {
  cluster: string;
  startedAt: string;
  endedAt?: string;
  phase: string;
  steady?: { ok: boolean; problems: string[]; checkedAt: string };
  /** Only for runs that required approval. */
  approval?: ApprovalRecord;
  drills: DrillRecord[];
  verdict?: Verdict;
  summary?: string;
  events: Array<{ at: string; what: string }>;
}

/** Overall verdict: aborted if any drill aborted, else deviated if any deviated, else passed. */
export function overallVerdict(drills: DrillRecord[]): Verdict {
  if (!drills.length || drills.some((d) => d.verdict === 'aborted' || !d.verdict)) return 'aborted';
  return drills.some((d) => d.verdict === 'deviated') ? 'deviated' : 'passed';
}

const ms = (n?: number) => (n === undefined ? '-' : `${Math.round(n)} ms`);
const pct = (r?: number) => (r === undefined ? '-' : `${(r * 100).toFixed(2)} %`);

/** What the approval gate says (for the report, the CLI and the UI). */
export function approvalLine(j: Journal): string {
  const a = j.approval;
  if (!a) return '';
  if (!a.decision)
    return `**Waiting for approval** until ${a.until}: \`api7-ha verify approve ${j.cluster}\` (or \`--reject --reason ...\`)`;
  if (a.decision === 'timed out') return `**Not approved:** no approval by ${a.until}`;
  return `**${a.decision === 'approved' ? 'Approved' : 'Rejected'}** by ${a.by} at ${a.at}${a.reason ? `: ${a.reason}` : ''}`;
}

export function journalMarkdown(j: Journal): string {
  const lines = [
    `**Verify ${j.cluster}** — ${j.verdict ? `verdict **${j.verdict}**` : `phase **${j.phase}**`}`,
    '',
    '| drill | host | verdict | requests | failed | p50 | p95 | p99 | recovery | restored | notes |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...j.drills.map(
      (d) =>
        `| ${d.drill} | ${d.host} | ${d.verdict ?? 'running'} | ${d.probe?.requests ?? '-'} | ${d.probe ? `${d.probe.failures} (${pct(d.probe.failedRatio)})` : '-'} | ${ms(d.probe?.p50Ms)} | ${ms(d.probe?.p95Ms)} | ${ms(d.probe?.p99Ms)} | ${ms(d.recoveryMs)} | ${d.restored ? 'yes' : 'no'} | ${d.reasons.join('; ').replace(/\|/g, '\\|')} |`,
    ),
  ];
  if (j.approval) lines.push('', approvalLine(j));
  if (j.steady && !j.steady.ok) lines.push('', `**Not steady:** ${j.steady.problems.join('; ')}`);
  if (j.summary) lines.push('', j.summary);
  return lines.join('\n');
}
