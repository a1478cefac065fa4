// `api7-ha codec keygen` (create or rotate the payload key) and `api7-ha codec-server`
// (lets the Temporal UI decode payloads for people who hold the key).
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Payload } from '@temporalio/common';
import { defaultKeysFile, EncryptionCodec, loadCodecKeys, newKeyLine } from '../temporal/codec';
import { uiBase } from './ui';

export function keygenCommand(opts: { file?: string; ifMissing?: boolean }): void {
  const file = opts.file ?? process.env.API7HA_CODEC_KEYS_FILE ?? defaultKeysFile();
  if (opts.ifMissing && existsSync(file)) return;
  mkdirSync(path.dirname(file), { recursive: true });
  // Appending rotates: the newest key encrypts, older ones still decrypt.
  appendFileSync(file, newKeyLine(`k${Date.now()}`), { mode: 0o600 });
  console.log(
    `added a new AES-256 key to ${file} (keep it secret; every client and worker needs it)`,
  );
}

type JsonPayload = { metadata?: Record<string, string>; data?: string };
const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: p.data === undefined ? undefined : Buffer.from(p.data, 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  ),
  data: p.data ? Buffer.from(p.data).toString('base64') : undefined,
});

/** Decode payloads in the JSON form the temporal CLI and codec servers use. */
export async function decodeJsonPayloads(
  codec: EncryptionCodec,
  payloads: JsonPayload[],
): Promise<JsonPayload[]> {
  return (await codec.decode(payloads.map(fromJson))).map(toJson);
}

/** The Temporal codec server protocol: POST /encode and /decode with {payloads: [...]}. */
export function codecServer(opts: { port: number; host: string; origin?: string }): http.Server {
  const codec = new EncryptionCodec(loadCodecKeys());
  const origin = opts.origin ?? uiBase();
  const server = http.createServer((req, res) => {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const action = req.url?.endsWith('/decode')
      ? 'decode'
      : req.url?.endsWith('/encode')
        ? 'encode'
        : undefined;
    if (req.method !== 'POST' || !action) return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const { payloads } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          payloads: JsonPayload[];
        };
        const out =
          action === 'decode'
            ? await decodeJsonPayloads(codec, payloads)
            : (await codec.encode(payloads.map(fromJson))).map(toJson);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ payloads: out }));
      } catch (e) {
        // The reason (e.g. an unknown key id) but never payload content.
        res
          .writeHead(400, { 'content-type': 'text/plain' })
          .end(e instanceof Error ? e.message : 'bad request');
      }
    });
  });
  server.listen(opts.port, opts.host, () =>
    console.log(
      `codec server on http://${opts.host}:${opts.port} for ${origin} — in the UI set the Codec Server endpoint to this URL`,
    ),
  );
  return server;
}
