// Payload encryption: every workflow/activity argument and result, and failure messages
// and stack traces, are AES-256-GCM encrypted before they reach Temporal, so history and
// the UI hold nothing readable without a key. Keys rotate: encode with the newest key,
// decode with whichever key id a payload names.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import path from 'node:path';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { readLocalTextIfExists } from '../config/local-files';
import { dataDir } from '../paths';

const ENCODING = 'binary/encrypted';
const CIPHER = 'AES256-GCM';
const te = (s: string) => new TextEncoder().encode(s);
const td = (b?: Uint8Array | null) => (b ? new TextDecoder().decode(b) : '');

export class CodecKeyError extends Error {
  override name = 'CodecKeyError';
}

export interface CodecKeys {
  /** key id -> 32-byte key; the last entry is the newest and encrypts. */
  keys: Map<string, Buffer>;
  current: string;
}

/** "id base64key" per line (or "id:base64key" comma-separated); # comments allowed. */
export function parseCodecKeys(text: string, source: string): CodecKeys {
  const keys = new Map<string, Buffer>();
  for (const raw of text.split(/[\n,]/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z0-9_.-]{1,64})[\s:]+([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m)
      throw new CodecKeyError(
        `${source}: a key entry is not "<id> <base64 key>" (the entry is not shown)`,
      );
    const key = Buffer.from(m[2]!, 'base64');
    if (key.length !== 32)
      throw new CodecKeyError(`${source}: key ${m[1]} is ${key.length} bytes; AES-256 needs 32`);
    keys.delete(m[1]!);
    keys.set(m[1]!, key);
  }
  const current = [...keys.keys()].at(-1);
  if (!current) throw new CodecKeyError(`${source}: no keys`);
  return { keys, current };
}

export const defaultKeysFile = () => path.join(dataDir, 'codec.keys');

/**
 * Keys from API7HA_CODEC_KEYS, else the file API7HA_CODEC_KEYS_FILE, else .data/codec.keys
 * (made by setup). No key is an error: api7-ha never runs with readable payloads.
 */
export function loadCodecKeys(env = process.env): CodecKeys {
  if (env.API7HA_CODEC_KEYS) return parseCodecKeys(env.API7HA_CODEC_KEYS, 'API7HA_CODEC_KEYS');
  const file = env.API7HA_CODEC_KEYS_FILE ?? defaultKeysFile();
  const field = env.API7HA_CODEC_KEYS_FILE ? 'API7HA_CODEC_KEYS_FILE' : 'codec keys';
  let text: string | undefined;
  try {
    text = readLocalTextIfExists(file, field, 'codecKeys');
  } catch (e) {
    throw new CodecKeyError((e as Error).message);
  }
  if (text === undefined)
    throw new CodecKeyError(
      `no payload encryption key: set API7HA_CODEC_KEYS or API7HA_CODEC_KEYS_FILE, or create ${file} with \`api7-ha codec keygen\``,
    );
  return parseCodecKeys(text, file);
}

export function newKeyLine(
  id = `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`,
): string {
  return `${id} ${randomBytes(32).toString('base64')}\n`;
}

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keys: CodecKeys) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.keys.get(this.keys.current)!;
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: te(ENCODING),
          'encryption-cipher': te(CIPHER),
          'encryption-key-id': te(this.keys.current),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      // Payloads written before encryption was on stay readable (replay of old histories).
      if (td(p.metadata?.encoding) !== ENCODING) return p;
      const id = td(p.metadata?.['encryption-key-id']);
      const key = this.keys.keys.get(id);
      if (!key)
        throw new CodecKeyError(
          `a payload is encrypted with key "${id}", which is not configured (have: ${[...this.keys.keys.keys()].join(', ')})`,
        );
      const data = Buffer.from(p.data ?? new Uint8Array());
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      decipher.setAuthTag(data.subarray(data.length - 16));
      const plain = Buffer.concat([
        decipher.update(data.subarray(12, data.length - 16)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/** The data converter client, worker and schedules share. */
export function dataConverter(keys: CodecKeys = loadCodecKeys()): DataConverter {
  return {
    payloadCodecs: [new EncryptionCodec(keys)],
    failureConverterPath: require.resolve('./failure-converter'),
  };
}
