// `api7-ha replace --plan`: the runbook a replace follows for one host, built by the same
// builders the activities use. Which steps run is decided on the live cluster (a member in
// place is left alone), so each says when it runs. The worker itself makes the membership
// calls with etcd3; the etcdctl lines are their equivalents, to run by hand if need be.
import { quote } from 'shell-quote';
import type { Inventory } from '../config/inventory';
import { forceRemoveContainerArgv } from './docker';
import { etcdMember, etcdMembers, etcdRunArgv, retireDataDirArgv } from './etcd';
import {
  endpointHashKvArgv,
  memberAddArgv,
  memberListArgv,
  memberPromoteArgv,
  memberRemoveArgv,
} from './etcd-members';

export interface ReplaceStep {
  /** Where it runs: a host, or `worker` for api7-ha's own requests. */
  on: string;
  what: string;
  run?: string;
  when?: string;
}

export function replacePlan(inv: Inventory, hostName: string): ReplaceStep[] {
  const host = inv.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`--host ${hostName}: the inventory has no host of that name`);
  const steps: ReplaceStep[] = [
    { on: 'worker', what: 'check that no other operation of the cluster runs (the cluster lock)' },
  ];
  if (host.roles.includes('etcd')) {
    const me = etcdMember(inv, hostName);
    const other = etcdMembers(inv).find((m) => m.host.name !== hostName)!;
    const on = other.host.name;
    const opts = { withAuth: inv.etcd.auth.enabled };
    const line = (argv: string[]) => quote(argv);
    const others = etcdMembers(inv)
      .filter((m) => m.host.name !== hostName)
      .map((m) => m.clientUrl);
    steps.push(
      {
        on,
        what: `list the members; refuse unless the voting members left after removing ${me.name} that answer are a majority`,
        run: line(memberListArgv(inv, on, opts)),
      },
      {
        on: hostName,
        what: 'preflight, prepare directories, ship artifacts (as deploy does)',
        when: `unless ${me.name} is listed at ${me.peerUrl}, a voter, and answers`,
      },
      {
        on,
        what: `remove the old member ${me.name}`,
        run: line(memberRemoveArgv(inv, on, '0', opts)).replace(/ 0$/, ` <id of ${me.name}>`),
        when: `when ${me.name} is listed`,
      },
      {
        on: hostName,
        what: 'remove the old container; move the data dir aside (kept) and make an empty one',
        run: `${line(forceRemoveContainerArgv(inv.etcd.containerName))}; ${line(
          retireDataDirArgv(inv.etcd.dataDir),
        )}`,
      },
      {
        on,
        what: 'add the new member as a learner (etcd 3.4+; a voter on older etcd)',
        run: line(
          memberAddArgv(inv, on, { name: me.name, peerUrl: me.peerUrl, learner: true }, opts),
        ),
      },
      {
        on: hostName,
        what: 'start it joining the running cluster (initial cluster: the members etcd listed after the add)',
        run: line(etcdRunArgv(inv, hostName, 'existing', '<members after the add>')),
      },
      {
        on,
        what: 'promote it; etcd refuses until it has caught up, so this is retried with backoff',
        run: line(memberPromoteArgv(inv, on, '0', opts)).replace(/ 0 -w/, ` <id of ${me.name}> -w`),
      },
      {
        on,
        what: 'wait until every member has the same revision and KV hash',
        run: line(endpointHashKvArgv(inv, on, { ...opts, endpoints: [...others, me.clientUrl] })),
      },
    );
  }
  steps.push({
    on: 'all hosts',
    what:
      "a deploy of the inventory as it is now (see `api7-ha plan`): the host's other components, " +
      'and the etcd endpoint lists of dashboards and gateways, restarted at most half at a time where they changed',
  });
  return steps;
}

export function renderReplacePlan(steps: ReplaceStep[]): string {
  return steps
    .map(
      (s, i) =>
        `${i + 1}. [${s.on}] ${s.what}${s.when ? ` (${s.when})` : ''}${s.run ? `\n     $ ${s.run}` : ''}`,
    )
    .join('\n');
}
