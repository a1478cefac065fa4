// replaceHost: a host comes back as the inventory names it now (the same name, perhaps a
// new address or host key). For an etcd host the member is swapped the way the runbook
// says — quorum checked first (refused, changing nothing, when the members left would not
// have it), the old member removed by name, the new one joined (etcd-join.ts) — and then
// everything is deployed as a normal deploy would: the host's other components, and the
// dashboards' and gateways' etcd endpoint lists re-rendered and restarted at most half at a
// time where they changed. A member already in place is left alone: repeating is a no-op.
import { ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { ReplaceInput, EtcdReplacePlan } from '../activities/replace';
import { CLUSTER } from '../temporal/search-attributes';
import type { DeploySummary } from './deploy';
import { deployInPipelines } from './deploy-pipelines';
import { DeployTracker } from './deploy-tracker';
import { joinMember, memberActs, memberOptions } from './etcd-join';
import { deployActs, deployOptions } from './deploy-checks';

export type { ReplaceInput } from '../activities/replace';

export interface ReplaceSummary {
  host: string;
  /** What was done to the host's etcd member (undefined: no etcd role). */
  etcd?: EtcdReplacePlan & { swapped: boolean };
  deploy: DeploySummary;
}

export async function replaceHost(input: ReplaceInput): Promise<ReplaceSummary> {
  const inv = input.inventory;
  const host = input.host;
  const t = new DeployTracker(inv);
  upsertSearchAttributes([{ key: CLUSTER, value: inv.cluster }]);
  try {
    // The per-cluster lock and the inventory, before anything else.
    t.enter('validate');
    await memberActs.checkReplace.executeWithOptions(
      { ...memberOptions, summary: `check no other operation of ${inv.cluster} runs; inventory` },
      [input],
    );
    const h = inv.hosts.find((x) => x.name === host);
    if (!h) throw ApplicationFailure.nonRetryable(`no host ${host}`, 'InventoryError');
    let etcd: ReplaceSummary['etcd'];
    if (h.roles.includes('etcd')) {
      const plan = await t.step(host, 'etcd quorum check', async () => {
        const p = await memberActs.planEtcdReplace.executeWithOptions(
          { ...memberOptions, summary: `${host}: check the other etcd members have quorum` },
          [input],
        );
        return {
          ...p,
          host,
          changed: false,
          detail: p.inPlace
            ? 'member in place and answering: nothing to swap'
            : `${p.answering} of ${p.voters} voting members answer; ${p.oldMember ? `old member ${p.oldMember.id} to remove` : 'no old member listed'}`,
        };
      });
      if (!plan.inPlace) {
        // The host is made ready first, so the cluster is one member short for as little as possible.
        await t.step(host, 'preflight', () =>
          deployActs.preflightHost
            .executeWithOptions({ ...deployOptions, summary: `${host}: preflight` }, [input, host])
            .then((r) => {
              if (r.problems.length)
                throw ApplicationFailure.nonRetryable(
                  `${host}: ${r.problems.join('; ')}`,
                  'PreflightFailed',
                );
              return { host, changed: false, detail: 'preflight passed' };
            }),
        );
        await t.step(host, 'prepare', () =>
          deployActs.prepareHost.executeWithOptions(
            { ...deployOptions, summary: `${host}: prepare directories` },
            [input, host],
          ),
        );
        await t.step(host, 'ship', () =>
          deployActs.shipArtifacts.executeWithOptions(
            { ...deployOptions, startToCloseTimeout: '2h', summary: `${host}: ship artifacts` },
            [input, host],
          ),
        );
        if (plan.oldMember) {
          const old = plan.oldMember;
          await t.step(host, 'etcd member remove', () =>
            memberActs.removeMember.executeWithOptions(
              { ...memberOptions, summary: `${host}: etcd member remove ${old.name} (${old.id})` },
              [input, old.name, old.peerURLs[0]],
            ),
          );
        }
        await t.step(host, 'etcd retire', () =>
          memberActs.retireEtcdMember.executeWithOptions(
            { ...memberOptions, summary: `${host}: remove the old container, data dir aside` },
            [input, host],
          ),
        );
        await joinMember(input, t, host);
      }
      etcd = { ...plan, swapped: !plan.inPlace };
    }
    // The rest is a deploy of the inventory as it is now (its steps are no-ops where
    // nothing changed): the host's other components, and every endpoint list.
    const deploy = await deployInPipelines(input, t);
    return { host, etcd, deploy };
  } catch (e) {
    t.failed(e);
    throw e;
  }
}
