// Secret references (env:NAME, file:PATH) are resolved only where the secret is used,
// so workflow and activity arguments, history and logs carry the reference alone.
import os from 'node:os';
import path from 'node:path';
import { LocalFileError, readLocalText } from './local-files';

export class SecretError extends Error {
  override name = 'SecretError';
}

/** A path on the operator's (or worker's) machine: ~/ is the home directory, relative is against baseDir. */
export function localFile(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(baseDir, p);
}

export function resolveSecret(ref: string, field: string, baseDir = process.cwd()): string {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = process.env[name];
    if (value === undefined || value === '')
      throw new SecretError(`${field}: environment variable ${name} is not set`);
    if (value.trim() === '')
      throw new SecretError(`${field}: environment variable ${name} holds only whitespace`);
    if (value.includes('\0'))
      throw new SecretError(`${field}: environment variable ${name} contains a NUL byte`);
    return value;
  }
  if (ref.startsWith('file:')) {
    const file = localFile(ref.slice(5), baseDir);
    let value: string;
    try {
      value = readLocalText(file, field, 'secret').replace(/\r?\n$/, '');
    } catch (e) {
      // The error names the file, never its content.
      throw new SecretError(
        e instanceof LocalFileError ? e.message : `${field}: cannot read ${file}`,
      );
    }
    if (value.trim() === '')
      throw new SecretError(`${field}: ${file} is empty${value ? ' (only whitespace)' : ''}`);
    if (value.includes('\0')) throw new SecretError(`${field}: ${file} contains a NUL byte`);
    return value;
  }
  throw new SecretError(`${field}: not a secret reference (expected env:NAME or file:PATH)`);
}
