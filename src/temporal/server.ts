// The embedded default: `temporal server start-dev` from the CLI built by setup, with a
// SQLite file so history survives restarts, our search attributes registered, and the Web
// UI pointed at a loopback codec server so it shows payloads decrypted.
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { dataDir, temporalBinary } from '../paths';
import { isAlive } from '../util/exec';
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

/** The Web UI's port when none is given: the gRPC port + 1000, as `temporal server start-dev` does. */
export const defaultUiPort = (port = 7233) => port + 1000;

/** Where the codec server beside a dev server listens: always loopback (it decrypts for anyone). */
export const codecEndpoint = (codecPort = DEFAULT_CODEC_PORT) => `http://127.0.0.1:${codecPort}`;

/** The origins a browser may load the dev server's Web UI from, which its codec server allows. */
export function uiOrigins(ip = '127.0.0.1', uiPort = defaultUiPort()): string[] {
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
    String(opts.uiPort ?? defaultUiPort(opts.port)),
    '--namespace',
    opts.namespace ?? 'default',
    '--log-level',
    'warn',
  ];
  for (const key of ALL_SEARCH_ATTRIBUTES) argv.push('--search-attribute', `${key.name}=Keyword`);
  if (opts.codecEndpoint) argv.push('--ui-codec-endpoint', opts.codecEndpoint);
  return argv;
}

/**
 * What a running `api7-ha server` tells the CLI: its gRPC address and its Web UI, so the
 * links the CLI prints open the UI of the server it is connected to.
 */
export interface EmbeddedServer {
  address: string;
  ui: string;
  /** The process that keeps the server running; the record counts only while it lives. */
  pid: number;
}

const embeddedServerFile = () => path.join(dataDir, 'run', 'temporal-server.json');

export function recordEmbeddedServer(server: EmbeddedServer): void {
  mkdirSync(path.dirname(embeddedServerFile()), { recursive: true });
  writeFileSync(embeddedServerFile(), `${JSON.stringify(server)}\n`);
}

export function forgetEmbeddedServer(): void {
  rmSync(embeddedServerFile(), { force: true });
}

/** The running embedded server's record, if there is one and its process is alive. */
export function readEmbeddedServer(): EmbeddedServer | undefined {
  try {
    const r = JSON.parse(readFileSync(embeddedServerFile(), 'utf8')) as Partial<EmbeddedServer>;
    if (typeof r.address !== 'string' || typeof r.ui !== 'string' || typeof r.pid !== 'number')
      return undefined;
    return isAlive(r.pid) ? (r as EmbeddedServer) : undefined;
  } catch {
    return undefined;
  }
}
