// Upload benchmark on the lab, one run, printed as ratios (docs/benchmarks.md):
//   api7-ha's shipArtifacts (SFTP, sha256 checked before and after, moved into place;
//   through the user's own directory and `sudo install` on a sudo host) vs. OpenSSH's
//   scp of the same files to the same host; and a second ship (already there) vs. scp.
// Each is measured several times, alternating, and the medians are compared.
// Run as root after `scripts/setup.sh`: node dist/bench/ship.js [--write docs/benchmarks.md]
import '../test/support/quiet';
import { statSync } from 'node:fs';
import { quote } from 'shell-quote';
import path from 'node:path';
import { prepareHost } from '../src/activities/prepare';
import { shipArtifacts } from '../src/activities/ship';
import type { DeployInput } from '../src/activities/context';
import { artifactsFor } from '../src/commands/layout';
import { uploadPaths } from '../src/commands/staging';
import { localFile } from '../src/config/secrets';
import { sshSettings } from '../src/model/hosts';
import { run } from '../src/util/exec';
import { sharedLab, sshAsRoot } from '../test/support/lab';
import { report } from './report';

const ROUNDS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main() {
  const lab = await sharedLab();
  const inv = lab.inventory;
  const input: DeployInput = { inventory: inv, baseDir: lab.baseDir };
  const key = path.join(lab.baseDir, 'ssh', 'id_ed25519');
  const knownHosts = path.join(lab.baseDir, 'ssh', 'known_hosts');
  const sshOptions = [
    '-i',
    key,
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
  ];
  const rows: string[] = [];
  // A root host and, if the lab has one, the host reached through sudo.
  const hosts = [
    inv.hosts.find((h) => h.roles.includes('data-plane') && !h.ssh?.sudo),
    inv.hosts.find((h) => h.ssh?.sudo),
  ].filter((h): h is NonNullable<typeof h> => Boolean(h));

  for (const host of hosts) {
    const { user, sudo, jump } = sshSettings(inv, host);
    if (jump.length > 1) throw new Error(`${host.name}: the bench's scp takes one jump host`);
    // Through the jump host as api7-ha goes (not ProxyJump: its ssh would not get -i).
    const proxy =
      jump.map((hop) => [
        '-o',
        `ProxyCommand=${quote(['ssh', ...sshOptions, '-p', String(hop.port), '-W', '%h:%p', `${hop.user}@${hop.address}`])}`,
      ])[0] ?? [];
    const artifacts = artifactsFor(inv, host);
    const files = artifacts.map((a) => localFile(a.path, lab.baseDir));
    const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
    const root = await sshAsRoot(lab, host.name);
    const scpDir = `/tmp/api7ha-bench-scp-${user}`;
    const staged = artifacts.map((a) => uploadPaths(a, { user, sudo }).staged);
    const ours: number[] = [];
    const again: number[] = [];
    const scp: number[] = [];
    try {
      // The deploy's step before ship: the directories it uploads into (a fresh lab has none).
      await prepareHost(input, host.name);
      for (let i = 0; i < ROUNDS; i++) {
        await root.exec(['rm', '-f', ...staged]);
        ours.push(await timed(() => shipArtifacts(input, host.name)));
        again.push(await timed(() => shipArtifacts(input, host.name)));
        await root.exec(['sh', '-c', 'rm -rf "$1" && install -d -o "$2" "$1"', 'sh', scpDir, user]);
        scp.push(
          await timed(() =>
            run([
              'scp',
              '-q',
              ...sshOptions,
              ...proxy,
              ...files,
              `${user}@${host.address}:${scpDir}/`,
            ]),
          ),
        );
      }
    } finally {
      await root.exec(['rm', '-rf', scpDir]);
      root.close();
    }
    const who = `${host.name} as ${user}${sudo ? ' (sudo)' : ''}`;
    const mib = (bytes / 1048576).toFixed(1);
    rows.push(
      `| ${who}: shipArtifacts, fresh (${mib} MiB) | ${secs(median(ours))} | ${(median(ours) / median(scp)).toFixed(2)}× scp |`,
      `| ${who}: scp of the same files | ${secs(median(scp))} | 1.00 |`,
      `| ${who}: shipArtifacts, already there | ${secs(median(again))} | ${(median(again) / median(scp)).toFixed(2)}× scp |`,
    );
  }

  const text = [
    `Upload benchmark, one run on the lab (${new Date().toISOString().slice(0, 10)}; medians of ${ROUNDS} rounds, alternating):`,
    '',
    '| measure | time | ratio |',
    '| --- | --- | --- |',
    ...rows,
    '',
    "How to read it: shipArtifacts is the deploy's ship step called directly (no Temporal). Fresh, it checks the sha256 on the host, uploads over SFTP, checks the sha256 of what arrived and moves (as root) or `sudo install`s (non-root user) the file into place; scp (OpenSSH, SFTP protocol) only copies. Already there, shipArtifacts compares the sha256 and uploads nothing.",
  ].join('\n');
  report('Upload', text);
  process.exit(0);
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
