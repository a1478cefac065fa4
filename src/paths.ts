// Where the project keeps its state (inside the checkout) and its caches (outside it).
import os from 'node:os';
import path from 'node:path';

export const projectRoot = path.resolve(__dirname, '..', '..');
export const dataDir = process.env.API7HA_DATA_DIR ?? path.join(projectRoot, '.data');
export const cacheDir =
  process.env.API7HA_CACHE ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'api7-ha');
export const temporalBinary =
  process.env.API7HA_TEMPORAL_BIN ?? path.join(cacheDir, 'bin', 'temporal');
export const labDir = path.join(dataDir, 'lab');
export const artifactsDir = path.join(dataDir, 'artifacts');
export const standinsDir = path.join(projectRoot, 'dist', 'standins');
