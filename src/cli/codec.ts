// `api7-ha codec keygen` (create or rotate the payload key) and `api7-ha codec-server`
// (lets the Temporal UI decode payloads for people who hold the key).
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Payload } from '@temporalio/common';
import {
  defaultKeysFile,
  EncryptionCodec,
  loadCodecKeys,
  newKeyLine,
  type CodecKeys,
} from '../temporal/codec';
import { RefusedInput } from './exit';
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

export interface CodecServerOptions {
  host: string;
  port: number;
  /** Web UI origins whose pages may call it; requests from any other page are refused. */
  origins: string[];
  keys?: CodecKeys;
}

/**
 * The Temporal codec server protocol: POST /encode and /decode with {payloads: [...]}.
 * Resolves once it listens. Clients without an Origin (the temporal CLI) are served too.
 */
export function startCodecServer(opts: CodecServerOptions): Promise<http.Server> {
  const codec = new EncryptionCodec(opts.keys ?? loadCodecKeys());
  const allowed = new Set(opts.origins.map((o) => new URL(o).origin));
  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      // Any web page could otherwise make the browser of a key holder encode for it.
      if (!allowed.has(origin)) return void res.writeHead(403).end('origin not allowed');
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'origin');
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
      res.setHeader('access-control-max-age', '600');
      // Chromium asks before a page served from elsewhere calls a loopback address.
      if (req.headers['access-control-request-private-network'] === 'true')
        res.setHeader('access-control-allow-private-network', 'true');
      return void res.writeHead(204).end();
    }
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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** `api7-ha codec-server`: for a Web UI other than the embedded one (which gets its own). */
export async function codecServerCommand(opts: {
  port: number;
  host: string;
  origin?: string[];
}): Promise<http.Server> {
  const ui = uiBase();
  if (!opts.origin && !URL.canParse(ui))
    throw new RefusedInput(`TEMPORAL_UI_URL: ${ui} is not a URL like http://host:port`);
  const origins = opts.origin ?? [new URL(ui).origin];
  for (const o of origins)
    if (!URL.canParse(o))
      throw new RefusedInput(`--origin: ${o} is not a URL like http://host:port`);
  const server = await startCodecServer({ host: opts.host, port: opts.port, origins });
  console.log(
    `codec server on http://${opts.host}:${opts.port} for ${origins.join(', ')} — in the UI set the Codec Server endpoint to this URL`,
  );
  return server;
}
