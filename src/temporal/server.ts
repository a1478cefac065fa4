// The embedded default: `temporal server start-dev` from the CLI built by setup, with a
// SQLite file so history survives restarts, our search attributes registered, and the Web
// UI pointed at a loopback codec server so it shows payloads decrypted.
import path from 'node:path';
import { dataDir, temporalBinary } from '../paths';
import { ALL_SEARCH_ATTRIBUTES } from './search-attributes';

export interface DevServerOptions {
  dbFile?: string;
  ip?: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  /** The codec server the Web UI asks to decode payloads (`--ui-codec-endpoint`). */
  codecEndpoint?: string;
}

export const DEFAULT_CODEC_PORT = 8081;

/** Where the codec server beside a dev server listens: always loopback (it decrypts for anyone). */
export const codecEndpoint = (codecPort = DEFAULT_CODEC_PORT) => `http://127.0.0.1:${codecPort}`;

/** The origins a browser may load the dev server's Web UI from, which its codec server allows. */
export function uiOrigins(ip = '127.0.0.1', uiPort = 8233): string[] {
  const hosts = new Set(['localhost', '127.0.0.1', ip === '0.0.0.0' ? '127.0.0.1' : ip]);
  return [...hosts].map((h) => `http://${h.includes(':') ? `[${h}]` : h}:${uiPort}`);
}

export const defaultDbFile = () => path.join(dataDir, 'temporal.db');

/** Pure: the argv that starts the dev server. */
export function devServerArgv(opts: DevServerOptions = {}): string[] {
  const argv = [
    temporalBinary,
    'server',
    'start-dev',
    '--db-filename',
    opts.dbFile ?? defaultDbFile(),
    '--ip',
    opts.ip ?? '127.0.0.1',
    '--port',
    String(opts.port ?? 7233),
    '--ui-port',
    String(opts.uiPort ?? 8233),
    '--namespace',
    opts.namespace ?? 'default',
    '--log-level',
    'warn',
  ];
  for (const key of ALL_SEARCH_ATTRIBUTES) argv.push('--search-attribute', `${key.name}=Keyword`);
  if (opts.codecEndpoint) argv.push('--ui-codec-endpoint', opts.codecEndpoint);
  return argv;
}
