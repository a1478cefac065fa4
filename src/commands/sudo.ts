// What runs as root on a host when api7-ha logs in as a non-root user with `ssh.sudo`,
// and the sudoers drop-in that allows exactly that (pure). The rules come from the same
// builders the activities run, with every argument fixed by the inventory, so a rule
// allows one command line; only docker and docker-compose take any arguments.
import type { Host, Inventory } from '../config/inventory';
import { bundledOn, configPath, hasRole } from '../model/components';
import { artifactsFor, directoriesFor } from './layout';
import { clientTlsFiles, COMPOSE_OVERRIDE_FILE, memberTlsFiles, type TlsFile } from './etcd-tls';
import { retireDataDirArgv } from './etcd';
import {
  bundleMarkerPath,
  chmodArgv,
  dirExistsArgv,
  findBundleImagesArgv,
  imagesMarkerPath,
  makeDirArgv,
  makePrivateDirsArgv,
  guardedReadArgv,
  guardedSha256Argv,
  guardedWriteArgv,
  restartMarkerPath,
  readImageManifestsArgv,
  unpackBundleArgv,
} from './files';
import {
  fileExistsArgv,
  footprint,
  removeEmptyDirArgv,
  removeFileArgv,
  removeTreeArgv,
} from './teardown';
import { checksumArgv, incomingDirArgv, placeArgv, uploadPaths } from './staging';
import { cutOffArgv, reconnectArgv, type CutOff } from './drills';
import {
  handOverArgv,
  remoteBackupDirArgv,
  removeRemoteSnapshotArgv,
  REMOTE_SNAPSHOT,
} from './backup';
import {
  cleanRestoringArgv,
  dataDirStateArgv,
  placeSnapshotArgv,
  RESTORE_MARKER,
  swapDataDirArgv,
} from './restore';
import { API7HA_DIR } from '../config/inventory';

/**
 * TLS files as activities/remote-files.ts puts them: their directories (mode 700), then
 * each file compared by sha256 and either given its mode or written (keys 600, else 644).
 */
function tlsFileRules(files: TlsFile[]): SudoRule[] {
  if (!files.length) return [];
  const dirs = [...new Set(files.map((f) => f.remote.slice(0, f.remote.lastIndexOf('/'))))];
  return [
    { argv: makePrivateDirsArgv(dirs) },
    ...files.flatMap((f) => {
      const mode = f.secret ? '600' : '644';
      return [
        { argv: guardedSha256Argv(f.root, f.remote) },
        { argv: chmodArgv(mode, f.remote) },
        { argv: guardedWriteArgv(f.root, f.remote, mode) },
      ];
    }),
  ];
}

export interface SudoRule {
  /** The command line as the deploy runs it; with anyArgs, only the command. */
  argv: string[];
  /** Any arguments allowed (docker, docker-compose). */
  anyArgs?: boolean;
  /** Not every host has it (docker-compose when the compose plugin is there). */
  optional?: boolean;
}

export interface SudoSection {
  /** Becomes the Cmnd_Alias API7HA_<NAME>. */
  name: string;
  why: string;
  rules: SudoRule[];
}

/** Where sudo finds each command (Debian, Ubuntu and other merged-/usr systems). */
export const COMMAND_PATHS: Readonly<Record<string, readonly string[]>> = {
  docker: ['/usr/bin/docker', '/usr/local/bin/docker'],
  'docker-compose': ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'],
  sh: ['/bin/sh'],
};
export const commandPaths = (command: string): readonly string[] =>
  COMMAND_PATHS[command] ?? [`/usr/bin/${command}`];

/** Every command the deploy and the drills run as root on this host, grouped by purpose. */
export function sudoSections(inv: Inventory, host: Host, user: string): SudoSection[] {
  const sections: SudoSection[] = [
    {
      name: 'DOCKER',
      why: 'The Docker engine and compose: probes, images, the etcd container, compose up and\ndown, the drills. Any arguments: this is root-equivalent (docker run -v /:/host).',
      rules: [
        { argv: ['docker'], anyArgs: true },
        { argv: ['docker-compose'], anyArgs: true, optional: true },
      ],
    },
    {
      name: 'PREPARE',
      why: "prepare: the guide's directories and the staging directory.",
      rules: directoriesFor(inv, host).flatMap((d) => [
        { argv: dirExistsArgv(d) },
        { argv: makeDirArgv(d) },
      ]),
    },
  ];

  const artifacts = artifactsFor(inv, host);
  if (artifacts.length)
    sections.push({
      name: 'SHIP',
      why: `ship: ${user}'s upload directory; each artifact's sha256 and its copy into place as root.`,
      rules: [
        { argv: incomingDirArgv(user) },
        ...artifacts.flatMap((a) => {
          const u = uploadPaths(a, { user, sudo: true });
          return [{ argv: checksumArgv(u.staged) }, { argv: placeArgv(u) }];
        }),
      ],
    });

  if (hasRole(host, 'etcd'))
    sections.push({
      name: 'ETCD_TLS',
      why: "etcd, with etcd.tls: the member's CA, certificate and key.",
      rules: tlsFileRules(memberTlsFiles(inv, host.name)),
    });

  if (hasRole(host, 'etcd'))
    sections.push({
      name: 'REPLACE',
      why: "replace: the old member's data dir moved aside (kept) and an empty one made, by a fixed script.",
      rules: [{ argv: retireDataDirArgv(inv.etcd.dataDir) }],
    });

  if (hasRole(host, 'etcd'))
    sections.push({
      name: 'BACKUP',
      why: `backup: the snapshot directory, the snapshot's sha256, ${user}'s copy to download\n(etcdctl itself runs in a container, under DOCKER), and its removal.`,
      rules: [
        { argv: remoteBackupDirArgv() },
        { argv: checksumArgv(REMOTE_SNAPSHOT) },
        { argv: incomingDirArgv(user) },
        { argv: handOverArgv({ user, sudo: true }) },
        { argv: removeRemoteSnapshotArgv() },
      ],
    });

  const cuts: CutOff[] = hasRole(host, 'etcd') ? ['host', 'etcd'] : ['host'];
  sections.push({
    name: 'DRILLS',
    why: `verify: the host and etcd-partition drills cut this host (or its etcd member) off\nwith iptables chains of api7-ha's own, and heal it (fixed scripts; SSH stays open).`,
    rules: cuts.flatMap((what) => [
      { argv: cutOffArgv(inv, host.name, what) },
      { argv: reconnectArgv(inv, host.name, what) },
    ]),
  });
  if (hasRole(host, 'etcd'))
    sections.push({
      name: 'RESTORE',
      why: `restore: the snapshot from ${user}'s upload into the snapshot slot (root, 0600), the\nmember's data dir moved aside and the rebuilt one into place (a fixed script; the stamp\non stdin), and the restore marker (etcdctl and docker stop run under DOCKER).`,
      rules: [
        { argv: placeSnapshotArgv({ user, sudo: true }) },
        { argv: dataDirStateArgv(inv) },
        { argv: cleanRestoringArgv(inv) },
        { argv: swapDataDirArgv(inv) },
        { argv: guardedReadArgv(API7HA_DIR, RESTORE_MARKER) },
        { argv: guardedWriteArgv(API7HA_DIR, RESTORE_MARKER, '600') },
      ],
    });

  const bundles = bundledOn(inv, host);
  if (bundles.length) {
    sections.push({
      name: 'BUNDLES',
      why: "images: unpack each bundle once (its sha256 in a marker file), note its images' ids\n(their manifests, by a fixed script), find its images.",
      rules: bundles.flatMap(({ bundle, installDir, dir }) => {
        return [
          { argv: guardedReadArgv(dir, bundleMarkerPath(bundle, installDir)) },
          { argv: unpackBundleArgv(bundle, installDir) },
          { argv: guardedWriteArgv(dir, bundleMarkerPath(bundle, installDir), '644') },
          { argv: readImageManifestsArgv(bundle, installDir) },
          { argv: guardedReadArgv(dir, imagesMarkerPath(bundle, installDir)) },
          { argv: guardedWriteArgv(dir, imagesMarkerPath(bundle, installDir), '644') },
          { argv: findBundleImagesArgv(dir) },
        ];
      }),
    });
    sections.push({
      name: 'CONFIG',
      why: 'dashboards, gateways: read the config file, write it when it differs (content on\nstdin, mode 600; the script is fixed, never follows a link, and so are its arguments),\nand the marker of a restart that change still owes.',
      rules: bundles.flatMap((b) => [
        { argv: guardedReadArgv(b.dir, configPath(b)) },
        { argv: guardedWriteArgv(b.dir, configPath(b), '600') },
        { argv: guardedReadArgv(b.dir, restartMarkerPath(b.dir)) },
        { argv: guardedWriteArgv(b.dir, restartMarkerPath(b.dir), '600') },
      ]),
    });
    sections.push({
      name: 'CLIENT_TLS',
      why: "dashboards, gateways, with etcd.tls: the client files in the bundle directory and\nthe compose file that mounts them (made from the vendor's compose file).",
      rules: bundles.flatMap(({ dir }) => {
        const files = clientTlsFiles(inv, dir);
        if (!files.length) return [];
        const override = `${dir}/${COMPOSE_OVERRIDE_FILE}`;
        return [
          ...tlsFileRules(files),
          { argv: guardedReadArgv(dir, `${dir}/docker-compose.yaml`) },
          { argv: guardedReadArgv(dir, override) },
          { argv: guardedWriteArgv(dir, override, '644') },
        ];
      }),
    });
  }
  const f = footprint(inv, host);
  sections.push({
    name: 'TEARDOWN',
    why: "teardown: which of api7-ha's directories and files are there, their removal\n(etcd's data directory only with --delete-etcd-data); containers and images go under DOCKER.",
    rules: [
      ...[...f.trees, ...f.emptyDirs, ...(f.etcdData ? [f.etcdData] : [])].map((d) => ({
        argv: dirExistsArgv(d),
      })),
      ...f.files.map((x) => ({ argv: fileExistsArgv(x) })),
      ...f.imageMarkers.map((m) => ({ argv: guardedReadArgv(m.dir, m.file) })),
      ...f.trees.map((d) => ({ argv: removeTreeArgv(d) })),
      ...f.files.map((x) => ({ argv: removeFileArgv(x) })),
      ...f.emptyDirs.map((d) => ({ argv: removeEmptyDirArgv(d) })),
      ...(f.etcdData ? [{ argv: removeTreeArgv(f.etcdData) }] : []),
    ],
  });
  // Each rule once, in the first section that needs it (backup shares ship's upload dir).
  const seen = new Set<string>();
  return sections
    .map((s) => ({ ...s, rules: unique(s.rules, seen) }))
    .filter((s) => s.rules.length > 0);
}

function unique(rules: SudoRule[], seen: Set<string>): SudoRule[] {
  return rules.filter((r) => {
    const key = JSON.stringify(r.argv);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * One argument as sudoers must spell it to match it literally: sudo joins the arguments
 * with single spaces and compares them with the rule (wildcards expanded), so a literal
 * `*`, `?`, `[`, `]` and the sudoers specials `, : = # !` take a backslash, and a
 * backslash takes three more.
 */
export function sudoersArg(arg: string): string {
  if (arg === '' || /[^\S ]/.test(arg) || / {2}|^ | $/.test(arg))
    throw new Error(
      `cannot express ${JSON.stringify(arg)} as a sudoers argument (empty, or whitespace other than single spaces)`,
    );
  return arg.replace(/\\/g, '\\\\\\\\').replace(/[,:=#!*?[\]]/g, (c) => `\\${c}`);
}

/** The sudoers spellings of one rule: one per path the command may have. */
export function sudoersCommands(rule: SudoRule): string[] {
  const [command, ...args] = rule.argv;
  if (!command) throw new Error('empty sudo rule');
  const tail = rule.anyArgs ? '' : args.length ? ` ${args.map(sudoersArg).join(' ')}` : ' ""';
  return commandPaths(command).map((p) => `${p}${tail}`);
}

/** The drop-in for one host: `visudo -cf` it, then install it as /etc/sudoers.d/api7-ha (0440). */
export function renderSudoers(inv: Inventory, host: Host, user: string, source?: string): string {
  const sections = sudoSections(inv, host, user);
  const lines = [
    `# /etc/sudoers.d/api7-ha on ${host.name} (${host.address}): what api7-ha runs as root when it`,
    `# logs in as ${user} with ssh.sudo.${source ? ` Made by: api7-ha hosts sudoers -i ${source} --host ${host.name}` : ''}`,
    '# Every rule but docker and docker-compose fixes all arguments; make it again when the',
    "# inventory's bundles, directories, roles or user change. Check: visudo -cf <file>.",
    `Defaults:${user} !requiretty`,
  ];
  for (const s of sections) {
    lines.push('', ...s.why.split('\n').map((l) => `# ${l}`));
    const commands = s.rules.flatMap(sudoersCommands);
    lines.push(`Cmnd_Alias API7HA_${s.name} = ${commands.join(', \\\n    ')}`);
  }
  lines.push(
    '',
    `${user} ALL=(root) NOPASSWD: ${sections.map((s) => `API7HA_${s.name}`).join(', ')}`,
    '',
  );
  return lines.join('\n');
}

/** Asks sudo, without running anything, whether the user may run a rule's command line. */
export function sudoCheckArgv(rule: SudoRule): string[] {
  return ['sudo', '-n', '-l', '--', ...(rule.anyArgs ? rule.argv.slice(0, 1) : rule.argv)];
}
