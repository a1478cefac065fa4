// Payload encryption: round trip, key rotation, clear errors, tamper detection.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  CodecKeyError,
  EncryptionCodec,
  loadCodecKeys,
  newKeyLine,
  parseCodecKeys,
} from '../../src/temporal/codec';

const payload = (v: unknown) => defaultPayloadConverter.toPayload(v);

describe('payload codec', () => {
  const oldKeys = parseCodecKeys(newKeyLine('old'), 'test');
  const rotated = parseCodecKeys(
    `${newKeyLine('old').replace(/ .*/, ` ${oldKeys.keys.get('old')!.toString('base64')}`)}${newKeyLine('new')}`,
    'test',
  );

  it('encrypts so the value is unreadable, and decrypts it back', async () => {
    const codec = new EncryptionCodec(oldKeys);
    const secretish = { cluster: 'prod-gw', password: 'file:/etc/secret' };
    const [enc] = await codec.encode([payload(secretish)]);
    const raw = Buffer.from(enc!.data!);
    assert.ok(
      !raw.includes(Buffer.from('prod-gw')) && !raw.includes(Buffer.from('file:/etc/secret')),
    );
    assert.equal(Buffer.from(enc!.metadata!['encryption-key-id']!).toString(), 'old');
    const [dec] = await codec.decode([enc!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(dec!), secretish);
  });

  it('encrypts with the newest key and still decrypts payloads of older keys', async () => {
    const [old] = await new EncryptionCodec(oldKeys).encode([payload('before rotation')]);
    const codec = new EncryptionCodec(rotated);
    const [fresh] = await codec.encode([payload('after')]);
    assert.equal(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString(), 'new');
    assert.equal(
      defaultPayloadConverter.fromPayload((await codec.decode([old!]))[0]!),
      'before rotation',
    );
  });

  it('names a missing key id instead of returning garbage', async () => {
    const [enc] = await new EncryptionCodec(rotated).encode([payload(1)]);
    await assert.rejects(
      new EncryptionCodec(oldKeys).decode([enc!]),
      (e: unknown) =>
        e instanceof CodecKeyError &&
        /encrypted with key "new", which is not configured \(have: old\)/.test(e.message),
    );
  });

  it('detects tampering', async () => {
    const [enc] = await new EncryptionCodec(oldKeys).encode([payload('x')]);
    const data = Buffer.from(enc!.data!);
    data[20] = data[20]! ^ 1;
    await assert.rejects(new EncryptionCodec(oldKeys).decode([{ ...enc!, data }]));
  });

  it('passes payloads written before encryption through (old histories replay)', async () => {
    const plain = payload({ a: 1 });
    assert.deepEqual((await new EncryptionCodec(oldKeys).decode([plain]))[0], plain);
  });

  it('refuses to run without a key, and never prints a key in its errors', () => {
    assert.throws(
      () => loadCodecKeys({ API7HA_CODEC_KEYS_FILE: '/nonexistent/keys' }),
      /no payload encryption key: set API7HA_CODEC_KEYS/,
    );
    const short = randomBytes(16).toString('base64');
    assert.throws(
      () => parseCodecKeys(`k1 ${short}`, 'env'),
      (e: unknown) =>
        e instanceof CodecKeyError &&
        /key k1 is 16 bytes; AES-256 needs 32/.test(e.message) &&
        !e.message.includes(short),
    );
    assert.throws(
      () => parseCodecKeys('not a key line at all!', 'env'),
      (e: unknown) => e instanceof CodecKeyError && !e.message.includes('at all'),
    );
  });
});
