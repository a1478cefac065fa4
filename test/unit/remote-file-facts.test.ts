// What the worker remembers of staged files on the hosts (pure): only for an unmoved,
// not racily fresh regular file, per host and login, and only for that exact identity.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  fileIdentityArgv,
  parseIdentity,
  RACY_SECONDS,
  RemoteFileFacts,
} from '../../src/ssh/remote-file-facts';

const host = { name: 'ha1', address: '10.0.0.1', port: 22, user: 'root' };
const file = '/opt/api7-ha/artifacts/b.tar.gz';
const id = (mtime: string, ctime = mtime) =>
  parseIdentity(`2049 131 39113140 ${mtime} ${ctime} regular file\n`);
const sha = 'a'.repeat(64);

describe('remote file facts', () => {
  it('reads stat lines of regular files only', () => {
    assert.deepEqual(fileIdentityArgv(file), ['stat', '-c', '%d %i %s %.9Y %.9Z %F', file]);
    assert.equal(id('1.5')?.ctime, 1.5);
    assert.equal(parseIdentity('2049 131 0 1.0 1.0 regular empty file')?.ctime, 1);
    assert.equal(parseIdentity('2049 131 9 1.0 1.0 symbolic link'), undefined);
    assert.equal(parseIdentity('2049 131 9 1.0 1.0 directory'), undefined);
    assert.equal(parseIdentity(''), undefined);
  });

  it('answers for the same identity only', () => {
    const f = new RemoteFileFacts();
    f.remember(host, file, id('100.1'), id('100.1'), sha, 200);
    assert.equal(f.sha256(host, file, id('100.1')), sha);
    assert.equal(f.sha256(host, file, id('100.2')), undefined, 'modified');
    assert.equal(f.sha256(host, file, id('100.1', '150.0')), undefined, 'ctime moved');
    assert.equal(f.sha256({ ...host, address: '10.0.0.9' }, file, id('100.1')), undefined);
    assert.equal(f.sha256({ ...host, user: 'ops' }, file, id('100.1')), undefined);
    assert.equal(f.sha256(host, `${file}x`, id('100.1')), undefined);
    assert.equal(f.sha256(host, file, undefined), undefined);
  });

  it('does not remember a file that moved while hashed, or one changed just now', () => {
    const f = new RemoteFileFacts();
    f.remember(host, file, id('100.1'), id('100.3'), sha, 200);
    assert.equal(f.sha256(host, file, id('100.3')), undefined, 'moved');
    f.remember(host, file, id('100.1'), id('100.1'), sha, 100.1 + RACY_SECONDS / 2);
    assert.equal(f.sha256(host, file, id('100.1')), undefined, 'racy');
    f.remember(host, file, id('100.1'), id('100.1'), sha); // put there by api7-ha itself
    assert.equal(f.sha256(host, file, id('100.1')), sha);
    f.forget(host, file);
    assert.equal(f.sha256(host, file, id('100.1')), undefined);
  });
});
