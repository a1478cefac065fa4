// How an artifact travels to its staged path (pure). As root, the upload is written to
// <staged>.part beside its final path and renamed into place. A non-root SSH user
// (ssh.sudo) cannot write the root-owned staging directory, so its upload is written to
// its own directory, INCOMING_DIR/<user> (made by sudo, owned by the user, mode 0700),
// checked there, and copied into place as root:root 0644 by `sudo install`.
import path from 'node:path';
import type { FileArtifact } from '../config/inventory';
import { INCOMING_DIR, stagedPath } from './layout';

/** How api7-ha logs in to a host: the SSH user, and whether it needs sudo. */
export interface Login {
  user: string;
  sudo: boolean;
}

export interface UploadPaths {
  /** Where the artifact ends up (root-owned). */
  staged: string;
  /** Where the bytes are written over SFTP, resumed from its size after an interruption. */
  partial: string;
  /** The SSH user's own upload directory; only with sudo. */
  incoming?: string;
}

export const incomingDir = (user: string) => `${INCOMING_DIR}/${user}`;

export function uploadPaths(artifact: FileArtifact, login: Login): UploadPaths {
  const staged = stagedPath(artifact);
  if (!login.sudo) return { staged, partial: `${staged}.part` };
  const incoming = incomingDir(login.user);
  return { staged, partial: `${incoming}/${path.basename(staged)}.part`, incoming };
}

/** Privileged for the staged file; the user's own partial file is checked without sudo. */
export const checksumArgv = (file: string) => ['sha256sum', file];

/** Privileged, idempotent: the user's upload directory (parents are made 0755). */
export const incomingDirArgv = (user: string) => [
  'install',
  '-d',
  '-o',
  user,
  '-m',
  '0700',
  incomingDir(user),
];

/** Privileged: a checked upload into its staged path. */
export function placeArgv(u: UploadPaths): string[] {
  if (!u.incoming) return ['mv', '-f', u.partial, u.staged];
  return ['install', '-o', 'root', '-g', 'root', '-m', '0644', u.partial, u.staged];
}

/** A partial upload that is done with or bad. Run without sudo when it is the user's own. */
export const discardArgv = (file: string) => ['rm', '-f', file];
