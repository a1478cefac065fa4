// What a vendor bundle may contain (pure). A pinned sha256 proves the bundle is the one
// the operator downloaded, not that it is well-formed, and it is unpacked as root into
// the install directory; so before anything is shipped its index is held to these rules:
// every entry stays inside the bundle's own directory, no link leads out of it or sits
// where api7-ha writes or reads, and nothing is a device, FIFO or set-id file.
import { COMPOSE_OVERRIDE_FILE, CLIENT_TLS_DIR } from './etcd-tls';
import { BUNDLE_MARKER, DASHBOARD_CONF, GATEWAY_CONFIG, IMAGES_MARKER } from './files';

export type BundleKind = 'dashboard' | 'gateway';

/** One entry of a tarball's index, as the tar parser reports it. */
export interface BundleEntry {
  path: string;
  type: string;
  linkpath?: string;
  mode?: number;
}

/** What the guide's layout needs in each bundle. */
export const BUNDLE_LAYOUT: Record<BundleKind, readonly string[]> = {
  dashboard: ['docker-compose.yaml', 'dashboard_conf', 'images'],
  gateway: ['docker-compose.yaml', 'gateway_conf', 'images'],
};

/** Paths in a bundle (relative to its directory) that api7-ha writes or reads on a host. */
export function touchedBundlePaths(kind: BundleKind): string[] {
  return [
    kind === 'dashboard' ? DASHBOARD_CONF : GATEWAY_CONFIG,
    'docker-compose.yaml',
    COMPOSE_OVERRIDE_FILE,
    CLIENT_TLS_DIR,
    BUNDLE_MARKER,
    IMAGES_MARKER,
    'images',
  ];
}

/** The characters remote paths may hold (see config/inventory.ts). */
const SAFE_NAME = /^[A-Za-z0-9._/@+-]+$/;
const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);
const SPECIAL: Record<string, string> = {
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a named pipe (FIFO)',
  Socket: 'a socket',
};
const MAX_LINK_HOPS = 40;

/** A name as tar extracts it: no ./ prefix, no empty or . segments, no trailing /. */
const segments = (p: string) => p.split('/').filter((s) => s !== '' && s !== '.');
/** Printable and bounded, so a hostile name cannot paint the terminal. */
const show = (p: string) => JSON.stringify(p.length > 120 ? `${p.slice(0, 120)}…` : p);

/**
 * Resolve `target` from directory `from` (segments) through the archive's own symlinks;
 * undefined when it leaves `top` (or loops).
 */
function resolveInside(
  top: string,
  from: string[],
  target: string,
  symlinks: ReadonlyMap<string, string>,
): string | undefined {
  if (target.startsWith('/')) return undefined;
  const stack = [...from];
  const queue = segments(target);
  let hops = 0;
  while (queue.length) {
    const s = queue.shift()!;
    if (s === '..') {
      stack.pop();
      if (!stack.length) return undefined; // above the bundle's directory
      continue;
    }
    stack.push(s);
    const link = symlinks.get(stack.join('/'));
    if (link === undefined) continue;
    if (++hops > MAX_LINK_HOPS || link.startsWith('/')) return undefined;
    stack.pop();
    queue.unshift(...segments(link));
  }
  return stack[0] === top ? stack.join('/') : undefined;
}

/** Every rule a bundle's index breaks, each naming the field and the entry. */
export function bundleEntryProblems(
  field: string,
  top: string,
  kind: BundleKind,
  entries: readonly BundleEntry[],
): string[] {
  const problems: string[] = [];
  const refuse = (e: BundleEntry, why: string) =>
    problems.push(`${field}: entry ${show(e.path)} ${why}`);
  const touched = touchedBundlePaths(kind).map((p) => `${top}/${p}`);
  const symlinks = new Map<string, string>();
  const names = new Map<BundleEntry, string>();

  for (const e of entries) {
    if (e.path.startsWith('/')) {
      refuse(e, 'is an absolute path');
      continue;
    }
    const parts = segments(e.path);
    if (parts.includes('..')) {
      refuse(e, 'has a ".." segment');
      continue;
    }
    if (!SAFE_NAME.test(e.path)) {
      refuse(e, 'has characters other than letters, digits and . _ / @ + -');
      continue;
    }
    if (parts[0] !== top) {
      refuse(
        e,
        `is outside the bundle's directory ${top}/ (it would land in the install directory)`,
      );
      continue;
    }
    if (SPECIAL[e.type]) {
      refuse(e, `is ${SPECIAL[e.type]}`);
      continue;
    }
    if (!REGULAR.has(e.type)) {
      refuse(e, `has an entry type tar bundles do not need (${e.type})`);
      continue;
    }
    if (e.mode !== undefined && (e.mode & 0o6000) !== 0) {
      refuse(e, 'is setuid or setgid');
      continue;
    }
    const name = parts.join('/');
    names.set(e, name);
    if (e.type === 'SymbolicLink') symlinks.set(name, e.linkpath ?? '');
  }

  const isAncestorOrSelf = (dir: string, p: string) => p === dir || p.startsWith(`${dir}/`);
  for (const [e, name] of names) {
    // Nothing may be unpacked through a link: tar would follow it.
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const above = parts.slice(0, i).join('/');
      if (symlinks.has(above)) {
        refuse(e, `lies under the symbolic link ${show(above)}`);
        break;
      }
    }
    if (e.type !== 'SymbolicLink' && e.type !== 'Link') continue;
    const what = e.type === 'SymbolicLink' ? 'symbolic link' : 'hard link';
    const hit = touched.find((t) => isAncestorOrSelf(name, t)) ?? (name === top ? top : undefined);
    if (hit) {
      refuse(e, `is a ${what} where api7-ha writes or reads (${hit})`);
      continue;
    }
    const target = e.linkpath ?? '';
    if (!SAFE_NAME.test(target)) {
      refuse(
        e,
        `is a ${what} to a target with characters other than letters, digits and . _ / @ + -`,
      );
      continue;
    }
    const resolved =
      e.type === 'SymbolicLink'
        ? resolveInside(top, parts.slice(0, -1), target, symlinks)
        : resolveInside(top, [], target, new Map());
    if (!resolved || (resolved === top && e.type === 'Link'))
      refuse(e, `is a ${what} that leads outside the bundle (${show(target)})`);
    else if (e.type === 'Link' && touched.some((t) => isAncestorOrSelf(t, resolved)))
      refuse(e, `is a hard link to ${resolved}, which api7-ha writes`);
  }
  return problems;
}

/** The guide's layout: what a bundle of this kind must contain. */
export function bundleLayoutProblems(
  field: string,
  file: string,
  top: string,
  kind: BundleKind,
  entries: readonly BundleEntry[],
): string[] {
  const names = entries.map((e) => segments(e.path).join('/'));
  // Directories may be listed only through the files in them.
  const has = (p: string) => names.some((n) => n === p || n.startsWith(`${p}/`));
  return BUNDLE_LAYOUT[kind]
    .filter((need) => !has(`${top}/${need}`))
    .map((need) => `${field}.path: ${file} has no ${top}/${need} (is it the vendor bundle?)`);
}
