// The pipelined SFTP upload against a fake SFTP server that answers writes out of order:
// the bytes land at their offsets, progress never passes a hole, and a resume offset
// never skips a byte that may be missing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import {
  CHUNK_BYTES,
  CONCURRENCY,
  RESUME_OVERLAP_BYTES,
  resumeOffset,
  uploadFrom,
} from '../../src/ssh/sftp-upload';

type Cb = (err?: Error | null) => void;

/** An SFTP server holding one file in memory; each write is answered after a random delay. */
function fakeSftp(initial: Buffer, failAt?: number) {
  const state = {
    file: Buffer.from(initial),
    inFlight: 0,
    maxInFlight: 0,
    closed: false,
    flags: '',
  };
  const sftp = {
    open(_p: string, flags: string, _o: unknown, cb: (e: Error | null, h: Buffer) => void) {
      state.flags = flags;
      if (flags === 'w') state.file = Buffer.alloc(0);
      cb(null, Buffer.from('h'));
    },
    write(_h: Buffer, buf: Buffer, off: number, len: number, pos: number, cb: Cb) {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      setTimeout(() => {
        state.inFlight--;
        if (failAt !== undefined && pos >= failAt) return cb(new Error('connection lost'));
        if (state.file.length < pos + len) {
          const grown = Buffer.alloc(pos + len);
          state.file.copy(grown);
          state.file = grown;
        }
        buf.copy(state.file, pos, off, off + len);
        cb(null);
      }, Math.random() * 3);
    },
    close(_h: Buffer, cb: Cb) {
      state.closed = true;
      cb(null);
    },
  };
  return { sftp: sftp as unknown as SFTPWrapper, state };
}

describe('pipelined SFTP upload', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-sftp-'));
  const data = randomBytes(CHUNK_BYTES * 200 + 123);
  const file = path.join(dir, 'artifact');
  writeFileSync(file, data);

  it('sends every byte with many writes in flight, and progress only over written bytes', async () => {
    const { sftp, state } = fakeSftp(Buffer.alloc(0));
    const local = await open(file);
    const seen: number[] = [];
    try {
      const sent = await uploadFrom(sftp, local, '/x', 0, data.length, (n) => seen.push(n));
      assert.equal(sent, data.length);
    } finally {
      await local.close();
    }
    assert.ok(state.file.equals(data), 'the remote file is the local one');
    assert.equal(state.maxInFlight, CONCURRENCY, 'writes were pipelined');
    assert.ok(state.closed);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
      'progress never goes back',
    );
    assert.equal(seen.at(-1), data.length);
  });

  it('resumes at an offset into the existing file without truncating it', async () => {
    const half = CHUNK_BYTES * 100;
    const { sftp, state } = fakeSftp(data.subarray(0, half));
    const offset = resumeOffset(half, data.length);
    assert.equal(offset, half - RESUME_OVERLAP_BYTES);
    const local = await open(file);
    try {
      assert.equal(await uploadFrom(sftp, local, '/x', offset, data.length), data.length - offset);
    } finally {
      await local.close();
    }
    assert.equal(state.flags, 'r+');
    assert.ok(state.file.equals(data));
  });

  it('fails when a write fails, closes the file, and what it left resumes correctly', async () => {
    const failAt = CHUNK_BYTES * 150;
    const { sftp, state } = fakeSftp(Buffer.alloc(0), failAt);
    const local = await open(file);
    try {
      await assert.rejects(uploadFrom(sftp, local, '/x', 0, data.length), /connection lost/);
    } finally {
      await local.close();
    }
    assert.ok(state.closed);
    // Everything below the resume offset of what is there was written.
    const from = resumeOffset(state.file.length, data.length);
    assert.ok(state.file.subarray(0, from).equals(data.subarray(0, from)));
  });

  it('starts over when the file there is longer than the artifact', () => {
    assert.equal(resumeOffset(data.length + 1, data.length), 0);
    assert.equal(resumeOffset(1000, data.length), 0);
  });

  it('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});
