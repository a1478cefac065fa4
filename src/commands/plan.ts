// `api7-ha plan`: every command and file the deploy would run or write, per host, built
// by the same builders the activities use. Touches nothing; secrets are shown redacted.
import { localFile } from '../config/secrets';
import { quote } from 'shell-quote';
import type { Inventory } from '../config/inventory';
import { composeArgv, type ComposeFlavor } from './compose';
import { REDACTED, renderDashboardConf, renderGatewayConfig } from './config-files';
import { loadImageArgv } from './docker';
import { etcdRunArgv } from './etcd';
import {
  clientTlsFiles,
  composeOverrides,
  COMPOSE_OVERRIDE_FILE,
  memberTlsFiles,
  renderComposeOverride,
  type TlsFile,
} from './etcd-tls';
import { bundledOn, configPath, hasRole } from '../model/components';
import { sshSettings } from '../model/hosts';
import { artifactsFor, composeProject, directoriesFor, stagedPath } from './layout';
import { makeDirArgv, unpackBundleArgv } from './files';
import { incomingDirArgv, placeArgv, uploadPaths } from './staging';

export type PlanStep =
  | { phase: string; run: string[]; when?: string }
  | { phase: string; upload: string; to: string; when?: string }
  | { phase: string; write: string; content: string; when?: string }
  /** A request api7-ha itself makes (not a command on the host). */
  | { phase: string; request: string; when?: string };

/** The bundles' own config files, which the deploy edits rather than replaces. */
export interface VendorFiles {
  dashboardConf?: string;
  gatewayConfig?: string;
}

export function deployPlan(
  inv: Inventory,
  baseDir: string,
  flavor: ComposeFlavor = 'plugin',
  vendor: VendorFiles = {},
): Record<string, PlanStep[]> {
  const clusterId = inv.dashboard.gatewayClusterId ?? '<cluster_id>';
  const plan: Record<string, PlanStep[]> = {};
  for (const host of inv.hosts) {
    const steps: PlanStep[] = [];
    const login = sshSettings(inv, host);
    if (login.sudo)
      steps.push({
        phase: 'login',
        request: `as ${login.user}: the commands below run through \`sudo -n --\`; uploads into its own directory do not`,
      });
    for (const dir of directoriesFor(inv, host))
      steps.push({ phase: 'prepare', run: makeDirArgv(dir), when: `unless ${dir} exists` });
    const uploads = artifactsFor(inv, host);
    if (login.sudo && uploads.length)
      steps.push({
        phase: 'ship',
        run: incomingDirArgv(login.user),
        when: `${login.user}'s own upload directory`,
      });
    for (const a of uploads) {
      const u = uploadPaths(a, login);
      steps.push({
        phase: 'ship',
        upload: localFile(a.path, baseDir),
        to: u.partial,
        when: `unless sha256 of ${u.staged} is ${a.sha256.slice(0, 12)}…`,
      });
      steps.push({ phase: 'ship', run: placeArgv(u), when: 'after its sha256 is checked' });
    }
    if (hasRole(host, 'etcd')) {
      if (inv.etcd.imageTarball)
        steps.push({
          phase: 'etcd',
          run: loadImageArgv(stagedPath(inv.etcd.imageTarball)),
          when: `unless ${inv.etcd.image} is present`,
        });
      steps.push(...tlsUploads(memberTlsFiles(inv, host.name), 'etcd', baseDir));
      steps.push({
        phase: 'etcd',
        run: etcdRunArgv(inv, host.name),
        when: `unless container ${inv.etcd.containerName} runs with these settings`,
      });
    }
    const bundles = bundledOn(inv, host);
    for (const b of bundles) {
      steps.push({
        phase: 'images',
        run: unpackBundleArgv(b.bundle, b.installDir),
        when: 'unless this bundle was unpacked before',
      });
      steps.push({
        phase: 'images',
        run: loadImageArgv(`${b.dir}/images/<each>.tar.gz`),
        when: `unless ${b.image} is present`,
      });
    }
    for (const b of bundles) {
      const phase = b.name === 'control-plane' ? 'dashboards' : 'gateways';
      steps.push(...clientTlsSteps(inv, b.dir, b.composeService, phase, baseDir));
      steps.push({
        phase,
        write: configPath(b),
        content:
          b.name === 'control-plane'
            ? renderDashboardConf(
                inv,
                { dashboardPassword: REDACTED, tokenSecret: REDACTED, etcdPassword: REDACTED },
                vendor.dashboardConf,
              )
            : renderGatewayConfig(inv, clusterId, { etcdPassword: REDACTED }, vendor.gatewayConfig),
      });
      steps.push({
        phase,
        run: composeArgv(
          flavor,
          b.dir,
          composeProject(b.dir),
          ['up', '-d', b.composeService],
          composeOverrides(inv, b.dir),
        ),
        when: `unless running with this ${b.configFile.slice(b.configFile.lastIndexOf('/') + 1)}`,
      });
    }
    plan[host.name] = steps;
  }
  if (inv.etcd.auth.enabled)
    plan['(api7-ha)'] = [
      {
        phase: 'etcd',
        request: `once etcd has quorum: user ${inv.etcd.auth.username} with role root (password ${REDACTED}), then auth enable`,
        when: 'unless etcd already accepts that user and password',
      },
    ];
  return plan;
}

/** Keys are shown by their secret reference, certificates by their local path. */
function tlsUploads(files: TlsFile[], phase: string, baseDir: string): PlanStep[] {
  return files.map((f) => ({
    phase,
    upload: f.secret ? f.source : localFile(f.source, baseDir),
    to: f.remote,
    when: 'unless the same content is there',
  }));
}

function clientTlsSteps(
  inv: Inventory,
  dir: string,
  service: string,
  phase: string,
  baseDir: string,
): PlanStep[] {
  const files = clientTlsFiles(inv, dir);
  if (!files.length) return [];
  return [
    ...tlsUploads(files, phase, baseDir),
    {
      phase,
      write: `${dir}/${COMPOSE_OVERRIDE_FILE}`,
      content: renderComposeOverride(service, 'version: "3"'),
    },
  ];
}

export function renderPlan(plan: Record<string, PlanStep[]>): string {
  const out: string[] = [];
  for (const [host, steps] of Object.entries(plan)) {
    out.push(`== ${host}`);
    for (const s of steps) {
      const when = s.when ? `   # ${s.when}` : '';
      if ('run' in s) out.push(`[${s.phase}] $ ${quote(s.run)}${when}`);
      else if ('upload' in s) out.push(`[${s.phase}] upload ${s.upload} -> ${s.to}${when}`);
      else if ('request' in s) out.push(`[${s.phase}] ${s.request}${when}`);
      else out.push(`[${s.phase}] write ${s.write}:\n${s.content.replace(/^/gm, '    | ')}`);
    }
    out.push('');
  }
  return out.join('\n');
}
