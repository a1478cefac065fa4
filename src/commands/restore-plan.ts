// `api7-ha restore` without --yes: every command the restore would run, per host, built
// by the same builders its activities use (pure; touches nothing).
import type { Inventory } from '../config/inventory';
import type { BackupManifest } from '../backup/manifest';
import { bundled, hasRole } from '../model/components';
import { sshSettings } from '../model/hosts';
import { removeRemoteSnapshotArgv, snapshotStatusArgv } from './backup';
import { composeArgv, type ComposeFlavor } from './compose';
import { faultArgv } from './drills';
import { startContainerArgv } from './docker';
import { etcdRunArgv } from './etcd';
import { composeOverrides } from './etcd-tls';
import { restartMarkerPath } from './files';
import { composeProject } from './layout';
import type { PlanStep } from './plan';
import {
  cleanRestoringArgv,
  movedAsideDir,
  placeSnapshotArgv,
  RESTORE_MARKER,
  restoreToken,
  snapshotRestoreArgv,
  snapshotUploadPaths,
  stopMemberArgv,
  swapDataDirArgv,
} from './restore';
import { incomingDirArgv } from './staging';

/** The stamp is the restore's start time, known once it runs. */
const STAMP_PLACEHOLDER = '<stamp>';

export function restorePlan(
  inv: Inventory,
  snapshot: string,
  manifest: BackupManifest,
  flavor: ComposeFlavor = 'plugin',
): Record<string, PlanStep[]> {
  const plan: Record<string, PlanStep[]> = {
    '(api7-ha)': [
      {
        phase: 'check',
        request: `${snapshot}: sha256 ${manifest.sha256.slice(0, 12)}… and size against its manifest; cluster "${manifest.cluster}"; revision ${manifest.revision}, ${manifest.keys} keys, taken ${manifest.createdAt}`,
      },
      {
        phase: 'check',
        request: `read ${RESTORE_MARKER} on every member host and etcd's member list`,
        when: 'stop here, changing nothing, when the cluster already is this snapshot restored',
      },
    ],
  };
  const gateways = bundled(inv, 'data-plane');
  for (const host of inv.hosts) {
    const steps: PlanStep[] = [];
    const login = sshSettings(inv, host);
    if (login.sudo)
      steps.push({
        phase: 'login',
        request: `as ${login.user}: the commands below run through \`sudo -n --\`; uploads into its own directory do not`,
      });
    if (hasRole(host, 'etcd')) {
      const up = snapshotUploadPaths(login);
      if (up.incoming) steps.push({ phase: 'upload', run: incomingDirArgv(login.user) });
      steps.push(
        {
          phase: 'upload',
          upload: snapshot,
          to: up.partial,
          when: 'unless the host has it (sha256)',
        },
        { phase: 'upload', run: placeSnapshotArgv(login), when: 'after its sha256 is checked' },
        {
          phase: 'upload',
          run: snapshotStatusArgv(inv),
          when: "etcd's own check against the manifest, before anything stops",
        },
      );
    }
    if (hasRole(host, 'control-plane'))
      steps.push({ phase: 'dashboards-stop', run: faultArgv(inv, flavor, 'control-plane') });
    if (hasRole(host, 'etcd')) {
      steps.push(
        { phase: 'etcd-stop', run: stopMemberArgv(inv) },
        { phase: 'restore', run: cleanRestoringArgv(inv), when: 'a leftover of a crashed attempt' },
        {
          phase: 'restore',
          run: snapshotRestoreArgv(inv, host.name, restoreToken(inv, STAMP_PLACEHOLDER)),
        },
        {
          phase: 'restore',
          run: swapDataDirArgv(inv),
          when: `stamp on stdin: moves ${inv.etcd.dataDir} to ${movedAsideDir(inv, STAMP_PLACEHOLDER)} (kept), the rebuilt dir into place`,
        },
        {
          phase: 'restore',
          write: RESTORE_MARKER,
          content: '{ sha256, stamp, member, movedAside }',
        },
        {
          phase: 'etcd-start',
          run: startContainerArgv(inv.etcd.containerName),
          when: `or, when the container is gone: ${etcdRunArgv(inv, host.name).slice(0, 3).join(' ')} … (as a deploy)`,
        },
        { phase: 'etcd-start', run: removeRemoteSnapshotArgv() },
      );
    }
    if (hasRole(host, 'control-plane'))
      steps.push({
        phase: 'dashboards-start',
        run: composeArgv(
          flavor,
          bundled(inv, 'control-plane').dir,
          composeProject(bundled(inv, 'control-plane').dir),
          ['up', '-d', bundled(inv, 'control-plane').composeService],
          composeOverrides(inv, bundled(inv, 'control-plane').dir),
        ),
        when: 'once etcd has quorum and auth, users and roles are back',
      });
    if (hasRole(host, 'data-plane'))
      steps.push(
        {
          phase: 'gateways',
          write: restartMarkerPath(gateways.dir),
          content: 'etcd restored; read it anew',
        },
        {
          phase: 'gateways',
          run: composeArgv(
            flavor,
            gateways.dir,
            composeProject(gateways.dir),
            ['up', '-d', '--force-recreate', gateways.composeService],
            composeOverrides(inv, gateways.dir),
          ),
          when: `at most half of the gateways at once, each until it serves, then ${inv.deploy.restartPauseSeconds} s for the load balancer`,
        },
      );
    if (steps.length) plan[host.name] = steps;
  }
  plan['(api7-ha, at the end)'] = [
    {
      phase: 'prove',
      request: `GET ${inv.smokeTest.host}${inv.smokeTest.uri} through ${inv.loadBalancers.dataPlane}`,
    },
  ];
  return plan;
}
