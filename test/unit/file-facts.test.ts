// Local artifact hashes remembered by file identity (src/config/file-facts.ts): an
// unchanged file is read once; a touched file, a file replaced by another of the same
// size, and a same-size rewrite that restores the old mtime are each read again.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalFileFacts } from '../../src/config/file-facts';
import { BUNDLE_TOPS, makeLocalArtifacts } from '../support/local-artifacts';

const sha = (b: string) => createHash('sha256').update(b).digest('hex');
/** As if the files were written long ago (files younger than 2 s are never remembered). */
const later = () => Date.now() + 60_000;

describe('local artifact hashes remembered by file identity', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-facts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bundle.tar.gz');

  it('reads an unchanged file once', async () => {
    writeFileSync(file, 'A'.repeat(100_000));
    const facts = new LocalFileFacts(later);
    assert.equal(await facts.sha256(file, 'f'), sha('A'.repeat(100_000)));
    assert.equal(await facts.sha256(file, 'f'), sha('A'.repeat(100_000)));
    assert.deepEqual([facts.stats.hashed, facts.stats.remembered], [1, 1]);
  });

  it('reads a touched file again', async () => {
    writeFileSync(file, 'B'.repeat(1000));
    const facts = new LocalFileFacts(later);
    await facts.sha256(file, 'f');
    const t = statSync(file).mtime;
    utimesSync(file, t, new Date(t.getTime() + 5000));
    assert.equal(await facts.sha256(file, 'f'), sha('B'.repeat(1000)));
    assert.equal(facts.stats.hashed, 2);
  });

  it('reads a file replaced by another of the same size and mtime again', async () => {
    writeFileSync(file, 'C'.repeat(1000));
    const facts = new LocalFileFacts(later);
    await facts.sha256(file, 'f');
    const { mtime, atime } = statSync(file);
    const other = path.join(dir, 'other');
    writeFileSync(other, 'D'.repeat(1000));
    utimesSync(other, atime, mtime);
    renameSync(other, file); // a new inode under the same path
    assert.equal(await facts.sha256(file, 'f'), sha('D'.repeat(1000)));
  });

  it('reads a same-size rewrite in place again, even with its old mtime restored (ctime)', async () => {
    writeFileSync(file, 'E'.repeat(1000));
    const facts = new LocalFileFacts(later);
    await facts.sha256(file, 'f');
    const { mtime, atime } = statSync(file);
    writeFileSync(file, 'F'.repeat(1000));
    utimesSync(file, atime, mtime);
    assert.equal(await facts.sha256(file, 'f'), sha('F'.repeat(1000)));
  });

  it('does not remember a file modified a moment ago', async () => {
    writeFileSync(file, 'G');
    const facts = new LocalFileFacts();
    await facts.sha256(file, 'f');
    await facts.sha256(file, 'f');
    assert.equal(facts.stats.hashed, 2);
  });

  it("remembers a bundle's index the same way", async () => {
    const art = mkdtempSync(path.join(dir, 'art-'));
    await makeLocalArtifacts(art, 'id');
    const bundle = path.join(art, `${BUNDLE_TOPS[0]}.tar.gz`);
    const facts = new LocalFileFacts(later);
    const first = await facts.bundleEntries(bundle, 'b');
    assert.ok(first.length > 0);
    assert.deepEqual(await facts.bundleEntries(bundle, 'b'), first);
    assert.deepEqual([facts.stats.indexed, facts.stats.remembered], [1, 1]);
    const t = statSync(bundle).mtime;
    utimesSync(bundle, t, new Date(t.getTime() + 5000));
    await facts.bundleEntries(bundle, 'b');
    assert.equal(facts.stats.indexed, 2);
  });
});
