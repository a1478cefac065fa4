// Phase 4: artifacts to hosts over SFTP. A file already there with the right sha256 is
// skipped; an interrupted upload resumes from the bytes already written (heartbeat details).
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

/** Append local bytes from `offset` to the remote file, heartbeating progress. */
function appendFrom(
  sftp: SFTPWrapper,
  local: FileHandle,
  remote: string,
  offset: number,
  total: number,
  label: string,
  host: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const source = local.createReadStream({
      start: offset,
      highWaterMark: 256 * 1024,
      autoClose: false,
    });
    const sink = sftp.createWriteStream(remote, { flags: offset > 0 ? 'a' : 'w', mode: 0o644 });
    let sent = 0;
    let lastBeat = 0;
    source.on('data', (chunk) => {
      sent += chunk.length;
      const now = Date.now();
      if (now - lastBeat > 1000) {
        lastBeat = now;
        heartbeat({ host, file: label, bytes: offset + sent, total } satisfies LiveDetail);
      }
    });
    source.on('error', reject);
    sink.on('error', (e: Error) =>
      reject(new Error(`cannot write ${remote} over SFTP: ${e.message}`)),
    );
    sink.on('close', () => resolve(sent));
    source.pipe(sink);
  });
}

/** The sha256 of each artifact's staged file on the host (undefined when missing), in one round trip. */
async function stagedSha256s(
  ssh: SshSession,
  artifacts: FileArtifact[],
): Promise<Array<string | undefined>> {
  const results = await ssh.execBatch(
    artifacts.map((a) => ({ argv: checksumArgv(uploadPaths(a, ssh.target).staged) })),
  );
  return results.map((r) => (r.code === 0 ? r.stdout.split(' ')[0] : undefined));
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
  let offset = await remoteSize(sftp, partial);
  if (offset > total) offset = 0; // a different file was there: start over
  const bytes = await ssh.watch(
    appendFrom(sftp, local, partial, offset, total, path.basename(remote), ssh.target.name),
  );
  const got = await remoteSha256(ssh, partial, false);
  if (got !== a.sha256) {
    await ssh.execRaw(discardArgv(partial), { privileged: false });
    throw new Error(
      `${path.basename(remote)} arrived with sha256 ${got ?? 'unknown'} instead of ${a.sha256}; the next attempt uploads it again`,
    );
  }
  await ssh.exec(place);
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
