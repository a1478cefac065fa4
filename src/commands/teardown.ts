// What a deploy leaves on a host, and the commands that take it away again (pure). Every
// item comes from the facts the deploy itself uses (layout.ts, src/model/components.ts,
// files.ts, etcd-tls.ts, backup.ts): there is no second list. The teardown activity looks
// first and removes only what it finds, so it works from any state (half deployed,
// nothing deployed) and a second teardown changes nothing; `plan` and the sudoers rules
// are built from the same functions.
import { API7HA_DIR, type Host, type Inventory } from '../config/inventory';
import { bundledOn, hasRole } from '../model/components';
import { SNAPSHOT_CONTAINER } from './backup';
import { parseServiceContainers, serviceContainersArgv } from './compose';
import { imageIdArgv, removeContainersArgv, stopContainersArgv } from './docker';
import { etcdTls, memberTlsFiles } from './etcd-tls';
import { dirExistsArgv, guardedReadArgv, imageIdsByTag, imagesMarkerPath } from './files';
import { composeProject } from './layout';
import type { PlanStep } from './plan';

/** Everything api7-ha may have put on one host, by its roles. */
export interface Footprint {
  /** Containers by name: etcd's (`docker run`), and a backup's leftover snapshot container. */
  containers: string[];
  /** Compose services whose containers are ours, in whichever bundle's project they run. */
  services: string[];
  /** Our bundles' compose projects, whose networks compose made. */
  projects: string[];
  /** Images the deploy loaded (or pulled); the bundles' markers may name more (imageMarkers). */
  images: string[];
  /** Per bundle: its `docker save` manifests noted at unpack (files.ts IMAGES_MARKER). */
  imageMarkers: Array<{ dir: string; file: string }>;
  /** Directories that are api7-ha's alone: unpacked bundles, the staging/incoming/backup tree. */
  trees: string[];
  /** Files api7-ha wrote into a directory it shares with the operator (etcd's certDir). */
  files: string[];
  /** Removed only once empty (etcd's certDir). */
  emptyDirs: string[];
  /** etcd's data directory: kept unless the operator says delete. */
  etcdData?: string;
}

export function footprint(inv: Inventory, host: Host): Footprint {
  const etcd = hasRole(host, 'etcd');
  const bundles = bundledOn(inv, host);
  const tls = etcdTls(inv);
  return {
    containers: etcd ? [inv.etcd.containerName, SNAPSHOT_CONTAINER] : [],
    services: bundles.map((b) => b.composeService),
    projects: bundles.map((b) => composeProject(b.dir)),
    images: [...new Set([...(etcd ? [inv.etcd.image] : []), ...bundles.map((b) => b.image)])],
    imageMarkers: bundles.map((b) => ({
      dir: b.dir,
      file: imagesMarkerPath(b.bundle, b.installDir),
    })),
    trees: [...bundles.map((b) => b.dir), API7HA_DIR],
    files: etcd ? memberTlsFiles(inv, host.name).map((f) => f.remote) : [],
    emptyDirs: etcd && tls ? [tls.certDir] : [],
    etcdData: etcd ? inv.etcd.dataDir : undefined,
  };
}

/** The id of a container by name; exits non-zero when there is none. */
export const containerIdArgv = (name: string) => [
  'docker',
  'inspect',
  '--type',
  'container',
  '--format',
  '{{.Id}}',
  name,
];

/** Networks compose made for a project (ids, one per line). */
export const projectNetworksArgv = (project: string) => [
  'docker',
  'network',
  'ls',
  '-q',
  '--filter',
  `label=com.docker.compose.project=${project}`,
];
export const removeNetworksArgv = (ids: string[]) => ['docker', 'network', 'rm', ...ids];
/** Without -f: an image a container of someone else's still uses stays, and is reported. */
export const removeImageArgv = (image: string) => ['docker', 'image', 'rm', image];
export const fileExistsArgv = (file: string) => ['test', '-e', file];
export const removeTreeArgv = (dir: string) => ['rm', '-rf', '--one-file-system', dir];
export const removeFileArgv = (file: string) => ['rm', '-f', file];
export const removeEmptyDirArgv = (dir: string) => ['rmdir', '--ignore-fail-on-non-empty', dir];

/** How the teardown treats etcd's data directory. */
export type EtcdDataChoice = 'keep' | 'delete';

/** The commands that look, in one batch, in the order `parseObservation` reads them. */
export function observeCommands(f: Footprint): string[][] {
  return [
    ...f.containers.map(containerIdArgv),
    ...f.services.map(serviceContainersArgv),
    ...f.projects.map(projectNetworksArgv),
    ...f.images.map(imageIdArgv),
    ...f.trees.map(dirExistsArgv),
    ...f.files.map(fileExistsArgv),
    ...f.emptyDirs.map(dirExistsArgv),
    ...(f.etcdData ? [dirExistsArgv(f.etcdData)] : []),
    ...f.imageMarkers.map((m) => guardedReadArgv(m.dir, m.file)),
  ];
}

/** What is there, from the observation's results (exit code and stdout per command). */
export interface Found {
  /** Container ids, with what they are. */
  containers: Array<{ id: string; what: string }>;
  networks: string[];
  images: string[];
  trees: string[];
  files: string[];
  emptyDirs: string[];
  etcdData: boolean;
  /** Image tags the bundles' markers name besides the inventory's images (maybe not present). */
  markedImages: string[];
}

export function parseObservation(
  f: Footprint,
  results: ReadonlyArray<{ code: number; stdout: string }>,
): Found {
  let i = 0;
  const next = () => results[i++] ?? { code: 1, stdout: '' };
  const found: Found = {
    containers: [],
    networks: [],
    images: [],
    trees: [],
    files: [],
    emptyDirs: [],
    etcdData: false,
    markedImages: [],
  };
  for (const name of f.containers) {
    const r = next();
    const id = r.stdout.trim();
    if (r.code === 0 && id) found.containers.push({ id, what: name });
  }
  for (const service of f.services) {
    const r = next();
    if (r.code !== 0) continue;
    for (const c of parseServiceContainers(r.stdout))
      found.containers.push({ id: c.id, what: `${service} (${c.project})` });
  }
  for (let n = 0; n < f.projects.length; n++) {
    const r = next();
    if (r.code === 0) found.networks.push(...r.stdout.split('\n').filter(Boolean));
  }
  for (const image of f.images) if (next().code === 0) found.images.push(image);
  for (const dir of f.trees) if (next().code === 0) found.trees.push(dir);
  for (const file of f.files) if (next().code === 0) found.files.push(file);
  for (const dir of f.emptyDirs) if (next().code === 0) found.emptyDirs.push(dir);
  if (f.etcdData) found.etcdData = next().code === 0;
  for (let n = 0; n < f.imageMarkers.length; n++) {
    const r = next();
    if (r.code !== 0) continue;
    for (const tag of imageIdsByTag(r.stdout).keys())
      if (!f.images.includes(tag) && !found.markedImages.includes(tag))
        found.markedImages.push(tag);
  }
  return found;
}

/** The commands that remove what was found, in order: containers, networks, images, files. */
export function removeCommands(
  f: Footprint,
  found: Found,
  extraImages: string[],
  etcdData: EtcdDataChoice,
): string[][] {
  const ids = [...new Set(found.containers.map((c) => c.id))];
  const images = [...new Set([...found.images, ...extraImages])];
  return [
    // SIGTERM first, so requests in flight finish; then the containers go.
    ...(ids.length ? [stopContainersArgv(ids), removeContainersArgv(ids)] : []),
    ...(found.networks.length ? [removeNetworksArgv(found.networks)] : []),
    ...images.map(removeImageArgv),
    ...found.trees.map(removeTreeArgv),
    ...found.files.map(removeFileArgv),
    ...found.emptyDirs.map(removeEmptyDirArgv),
    ...(etcdData === 'delete' && found.etcdData && f.etcdData ? [removeTreeArgv(f.etcdData)] : []),
  ];
}

/** `api7-ha teardown --plan`: per host, what is looked for and how it is removed. */
export function teardownPlan(inv: Inventory, etcdData: EtcdDataChoice): Record<string, PlanStep[]> {
  const plan: Record<string, PlanStep[]> = {};
  for (const host of inv.hosts) {
    const f = footprint(inv, host);
    const steps: PlanStep[] = [
      {
        phase: 'look',
        request: `one batch: ${observeCommands(f).length} checks for the containers, networks, images, directories and files below`,
      },
    ];
    const containers = [
      ...f.containers.map((c) => `container ${c}`),
      ...f.services.map((s) => `containers of compose service ${s} (any project)`),
    ];
    if (containers.length)
      steps.push(
        { phase: 'containers', run: stopContainersArgv(['<ids>']), when: containers.join(', ') },
        { phase: 'containers', run: removeContainersArgv(['<ids>']) },
      );
    for (const p of f.projects)
      steps.push({
        phase: 'networks',
        run: removeNetworksArgv(['<ids>']),
        when: `networks of compose project ${p}, if any`,
      });
    for (const i of f.images)
      steps.push({ phase: 'images', run: removeImageArgv(i), when: 'if present' });
    for (const m of f.imageMarkers)
      steps.push({
        phase: 'images',
        run: removeImageArgv('<tag>'),
        when: `each other image ${m.file} names, if present`,
      });
    for (const d of f.trees)
      steps.push({ phase: 'files', run: removeTreeArgv(d), when: 'if there' });
    for (const x of f.files)
      steps.push({ phase: 'files', run: removeFileArgv(x), when: 'if there' });
    for (const d of f.emptyDirs)
      steps.push({ phase: 'files', run: removeEmptyDirArgv(d), when: 'if there and empty' });
    if (f.etcdData)
      steps.push(
        etcdData === 'delete'
          ? {
              phase: 'etcd data',
              run: removeTreeArgv(f.etcdData),
              when: 'if there (--delete-etcd-data: the keyspace of this member is gone)',
            }
          : {
              phase: 'etcd data',
              request: `keep ${f.etcdData} (a later deploy starts the members on it again; --delete-etcd-data removes it)`,
            },
      );
    plan[host.name] = steps;
  }
  return plan;
}
