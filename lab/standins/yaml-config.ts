// Reading the products' YAML config files, and small typed accessors for their loose shapes
// (a field may be missing, a list may be written as a single value).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type Tree = Record<string, unknown>;

/** Parse a YAML file; a missing or broken file is a startup error naming the path. */
export function readYamlFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`failed to read config file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 50 });
  } catch (err) {
    throw new Error(`failed to parse config file ${file}: ${(err as Error).message}`);
  }
  return isTree(doc) ? doc : {};
}

export function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function tree(v: unknown): Tree {
  return isTree(v) ? v : {};
}

export function str(v: unknown, fallback: string): string;
export function str(v: unknown): string | undefined;
export function str(v: unknown, fallback?: string): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return fallback;
}

export function num(v: unknown, fallback: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : fallback;
}

export function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

/** A list of strings; a single string counts as a one-element list. */
export function strList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v))
    return v
      .filter((x): x is string | number => typeof x === 'string' || typeof x === 'number')
      .map(String);
  return [];
}
