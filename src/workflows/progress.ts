// The deploy's visible progress: a query result, a markdown table for the UI's
// "current details", and the phase search attribute. Pure and deterministic.
export const DEPLOY_PHASES = [
  'validate',
  'preflight',
  'prepare',
  'ship',
  'etcd',
  'quorum',
  'images',
  'dashboards',
  'cluster',
  'gateways',
  'prove',
] as const;
export type DeployPhase = (typeof DEPLOY_PHASES)[number] | 'done' | 'failed';

export type StepStatus = 'pending' | 'running' | 'done' | 'failed';

export interface HostProgress {
  roles: string[];
  step: string;
  status: StepStatus;
  detail: string;
  /** The steps this host has finished, in order. */
  done: string[];
}

export interface DeployProgress {
  cluster: string;
  phase: DeployPhase;
  phasesDone: string[];
  hosts: Record<string, HostProgress>;
  clusterId?: string;
  bytesUploaded: number;
  changes: number;
  warnings: string[];
  error?: string;
}

export function initialProgress(
  cluster: string,
  hosts: Array<{ name: string; roles: string[] }>,
): DeployProgress {
  return {
    cluster,
    phase: 'validate',
    phasesDone: [],
    hosts: Object.fromEntries(
      hosts.map((h) => [
        h.name,
        { roles: h.roles, step: '-', status: 'pending', detail: '', done: [] },
      ]),
    ),
    bytesUploaded: 0,
    changes: 0,
    warnings: [],
  };
}

/** What the CLI's table and the UI's markdown need of any operation's progress. */
export interface ProgressView {
  phase: string;
  phasesDone: string[];
  hosts: Record<string, HostProgress>;
  error?: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 120);

export function progressMarkdown(p: DeployProgress): string {
  return hostsMarkdown(
    p,
    `**Deploy ${p.cluster}** — phase **${p.phase}** (${p.phasesDone.length}/${DEPLOY_PHASES.length} done)${p.clusterId ? `, gateway cluster \`${p.clusterId}\`` : ''}`,
  );
}

/** A heading, then one row per host, then the failure if any. */
export function hostsMarkdown(p: ProgressView, heading: string): string {
  const lines = [
    heading,
    '',
    '| host | roles | step | status | done | detail |',
    '|---|---|---|---|---|---|',
    ...Object.entries(p.hosts).map(
      ([name, h]) =>
        `| ${name} | ${h.roles.join(', ')} | ${h.step} | ${h.status} | ${(h.done ?? []).join(' → ')} | ${cell(h.detail)} |`,
    ),
  ];
  if (p.error) lines.push('', `**Failed:** ${cell(p.error)}`);
  return lines.join('\n');
}
