// The embedded default: `temporal server start-dev` from the CLI built by setup, with a
// SQLite file so history survives restarts, and our search attributes registered.
import path from 'node:path';
import { dataDir, temporalBinary } from '../paths';
import { ALL_SEARCH_ATTRIBUTES } from './search-attributes';

export interface DevServerOptions {
  dbFile?: string;
  ip?: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
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
  return argv;
}
