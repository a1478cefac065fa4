// Phase 4: artifacts to hosts over SFTP. A file already there with the right sha256 is
// skipped; an interrupted upload resumes from the bytes already written (src/ssh/sftp-upload.ts).
// A non-root user (ssh.sudo) uploads into its own directory and sudo puts the checked file
// in place (commands/staging.ts).
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { SFTPWrapper } from 'ssh2';
import { artifactField, type FileArtifact } from '../config/inventory';
import { openLocalFile } from '../config/local-files';
import { localFile } from '../config/secrets';
import { artifactsFor, findHost } from '../commands/layout';
import {
  checksumArgv,
  discardArgv,
  incomingDirArgv,
  placeArgv,
  uploadPaths,
} from '../commands/staging';
import { heartbeat, withHost, type DeployInput, type LiveDetail } from './context';
import type { SshSession } from '../ssh/session';
import { resumeOffset, uploadFrom } from '../ssh/sftp-upload';
import { fileIdentityArgv, parseIdentity, remoteClockArgv } from '../ssh/remote-file-facts';
import { activityDeps } from './deps';

export interface ShipResult {
  host: string;
  changed: boolean;
  detail: string;
  bytesUploaded: number;
  files: Array<{ remote: string; action: 'present' | 'uploaded' | 'resumed' }>;
}

async function remoteSha256(
  ssh: SshSession,
  file: string,
  privileged = true,
): Promise<string | undefined> {
  const r = await ssh.execRaw(checksumArgv(file), { privileged });
  return r.code === 0 ? r.stdout.split(' ')[0] : undefined;
}

async function remoteSize(sftp: SFTPWrapper, file: string): Promise<number> {
  return new Promise((resolve) => sftp.stat(file, (err, st) => resolve(err ? 0 : st.size)));
}

/** Send local bytes from `offset` to the remote file, heartbeating progress. */
function sendFrom(
  sftp: SFTPWrapper,
  local: FileHandle,
  remote: string,
  offset: number,
  total: number,
  label: string,
  host: string,
): Promise<number> {
  let lastBeat = 0;
  return uploadFrom(sftp, local, remote, offset, total, (bytes) => {
    const now = Date.now();
    if (now - lastBeat < 1000) return;
    lastBeat = now;
    heartbeat({ host, file: label, bytes, total } satisfies LiveDetail);
  });
}

/**
 * The sha256 of each artifact's staged file on the host (undefined when missing): one
 * round trip reads every file's identity, and only the files this worker has not seen
 * with that identity are hashed, in a second one (src/ssh/remote-file-facts.ts).
 */
async function stagedSha256s(
  ssh: SshSession,
  artifacts: FileArtifact[],
): Promise<Array<string | undefined>> {
  const facts = activityDeps().remoteFiles;
  const files = artifacts.map((a) => uploadPaths(a, ssh.target).staged);
  const identities = (
    await ssh.execBatch(files.map((f) => ({ argv: fileIdentityArgv(f), privileged: false })))
  ).map((r) => (r.code === 0 ? parseIdentity(r.stdout) : undefined));
  const known = files.map((f, i) => facts.sha256(ssh.target, f, identities[i]));
  const unknown = files.flatMap((f, i) => (known[i] ? [] : [{ f, i }]));
  if (!unknown.length) return known;
  // Hashed, then its identity again, then the host's clock: remembered only if unmoved.
  const results = await ssh.execBatch([
    ...unknown.flatMap(({ f }) => [
      { argv: checksumArgv(f) },
      { argv: fileIdentityArgv(f), privileged: false },
    ]),
    { argv: remoteClockArgv, privileged: false },
  ]);
  const hostNow = Number(results.at(-1)!.stdout.trim());
  for (const [j, { f, i }] of unknown.entries()) {
    const hashed = results[2 * j]!;
    const after = results[2 * j + 1]!;
    const sha256 = hashed.code === 0 ? hashed.stdout.split(' ')[0] : undefined;
    known[i] = sha256;
    if (sha256)
      facts.remember(
        ssh.target,
        f,
        identities[i],
        after.code === 0 ? parseIdentity(after.stdout) : undefined,
        sha256,
        hostNow,
      );
    else facts.forget(ssh.target, f);
  }
  return known;
}

/** After api7-ha put a checked file in place: its identity now goes with its sha256. */
async function rememberPlaced(ssh: SshSession, staged: string, sha256: string): Promise<void> {
  const [r] = await ssh.execBatch([{ argv: fileIdentityArgv(staged), privileged: false }]);
  const identity = r!.code === 0 ? parseIdentity(r!.stdout) : undefined;
  activityDeps().remoteFiles.remember(ssh.target, staged, identity, identity, sha256);
}

async function shipOne(
  ssh: SshSession,
  sftp: SFTPWrapper,
  input: DeployInput,
  a: FileArtifact,
  ensureIncoming: () => Promise<void>,
): Promise<{ remote: string; action: 'uploaded' | 'resumed'; bytes: number }> {
  const u = uploadPaths(a, ssh.target);
  if (u.incoming) await ensureIncoming();
  // Opened like every local file: a regular file of bounded size, never a FIFO or device.
  // A refusal (LocalFileError) is not retried (src/model/errors.ts).
  const opened = await openLocalFile(
    localFile(a.path, input.baseDir),
    artifactField(input.inventory, a),
    'artifact',
  );
  try {
    return await uploadChecked(ssh, sftp, a, u, opened.handle, opened.size);
  } finally {
    await opened.handle.close();
  }
}

/**
 * Upload a local file, resuming a partial one, check its sha256 on the host, and put it
 * in place with `place` (as root). Also the restore's snapshot upload (activities/restore.ts).
 */
export async function uploadChecked(
  ssh: SshSession,
  sftp: SFTPWrapper,
  a: { sha256: string },
  u: { staged: string; partial: string; incoming?: string },
  local: FileHandle,
  total: number,
  place: string[] = placeArgv(u),
): Promise<{ remote: string; action: 'uploaded' | 'resumed'; bytes: number }> {
  const remote = u.staged;
  // The partial file belongs to the SSH user: it is read and removed without sudo.
  const partial = u.partial;
  // A longer file there is a different one: start over.
  const offset = resumeOffset(await remoteSize(sftp, partial), total);
  const bytes = await ssh.watch(
    sendFrom(sftp, local, partial, offset, total, path.basename(remote), ssh.target.name),
  );
  const got = await remoteSha256(ssh, partial, false);
  if (got !== a.sha256) {
    await ssh.execRaw(discardArgv(partial), { privileged: false });
    throw new Error(
      `${path.basename(remote)} arrived with sha256 ${got ?? 'unknown'} instead of ${a.sha256}; the next attempt uploads it again`,
    );
  }
  activityDeps().remoteFiles.forget(ssh.target, remote);
  await ssh.exec(place);
  await rememberPlaced(ssh, remote, a.sha256);
  // `install` copied it; the user's partial file is not needed any more.
  if (u.incoming) await ssh.execRaw(discardArgv(partial), { privileged: false });
  return { remote, action: offset > 0 ? 'resumed' : 'uploaded', bytes };
}

export async function shipArtifacts(input: DeployInput, hostName: string): Promise<ShipResult> {
  const artifacts = artifactsFor(input.inventory, findHost(input.inventory, hostName));
  const resumedFrom = (() => {
    try {
      return Context.current().info.heartbeatDetails as { bytes?: number } | undefined;
    } catch {
      return undefined;
    }
  })();
  return withHost(input, hostName, async (ssh) => {
    // Every staged file's sha256 in one round trip; SFTP only opens when one is missing.
    const present = await stagedSha256s(ssh, artifacts);
    const files: ShipResult['files'] = [];
    let bytesUploaded = 0;
    let incomingReady = false;
    const ensureIncoming = async () => {
      if (incomingReady) return;
      await ssh.exec(incomingDirArgv(ssh.target.user));
      incomingReady = true;
    };
    let sftp: SFTPWrapper | undefined;
    try {
      for (const [i, a] of artifacts.entries()) {
        if (present[i] === a.sha256) {
          files.push({ remote: uploadPaths(a, ssh.target).staged, action: 'present' });
          continue;
        }
        sftp ??= await ssh.sftp();
        const r = await shipOne(ssh, sftp, input, a, ensureIncoming);
        files.push({ remote: r.remote, action: r.action });
        bytesUploaded += r.bytes;
      }
    } finally {
      sftp?.end();
    }
    const moved = files.filter((f) => f.action !== 'present');
    return {
      host: hostName,
      changed: moved.length > 0,
      bytesUploaded,
      files,
      detail: moved.length
        ? `${moved.map((f) => `${f.action} ${path.basename(f.remote)}`).join(', ')} (${(bytesUploaded / 2 ** 20).toFixed(1)} MiB${resumedFrom?.bytes ? `, resumed after ${(resumedFrom.bytes / 2 ** 20).toFixed(1)} MiB` : ''})`
        : 'all artifacts already present (sha256 match)',
    };
  });
}
