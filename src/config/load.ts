// Reading an inventory file: size limit, YAML without alias bombs, schema, readable errors.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { inventorySchema, inventoryWarnings, type Inventory } from './inventory';

export const MAX_INVENTORY_BYTES = 1024 * 1024;

/** A bad inventory: every problem, each naming its field. */
export class InventoryError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not a valid inventory:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InventoryError';
  }
}

/** hosts[2].ssh.port style paths, which is how an operator finds the line. */
export function fieldPath(p: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of p)
    out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out || '(top level)';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const base = issue.path.length ? `${fieldPath(issue.path)}.` : '';
    return issue.keys.map((k) => `${base}${k}: is not a known field`).join('\n');
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined'))
    return `${fieldPath(issue.path)}: is required`;
  return `${fieldPath(issue.path)}: ${issue.message}`;
}

export interface LoadedInventory {
  inventory: Inventory;
  warnings: string[];
  /** Directory that relative local paths in the inventory are resolved against. */
  baseDir: string;
}

/** Validate an already-parsed value (e.g. a workflow argument). */
export function validateInventory(value: unknown, source = 'inventory'): Inventory {
  const result = inventorySchema.safeParse(value);
  if (!result.success)
    throw new InventoryError(
      source,
      result.error.issues.flatMap((i) => describeIssue(i).split('\n')),
    );
  return result.data;
}

export function parseInventoryText(text: string, source = 'inventory'): Inventory {
  if (Buffer.byteLength(text) > MAX_INVENTORY_BYTES)
    throw new InventoryError(source, [`(file): larger than ${MAX_INVENTORY_BYTES} bytes`]);
  // maxAliasCount stops "billion laughs" documents from expanding.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length)
    throw new InventoryError(
      source,
      doc.errors.map((e) => `(yaml): ${e.message.split('\n')[0]}`),
    );
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw new InventoryError(source, [`(yaml): ${(e as Error).message}`]);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InventoryError(source, ['(top level): must be a YAML mapping']);
  return validateInventory(value, source);
}

export async function loadInventory(file: string): Promise<LoadedInventory> {
  const abs = path.resolve(file);
  let size: number;
  try {
    size = (await stat(abs)).size;
  } catch (e) {
    throw new InventoryError(file, [
      `(file): cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    ]);
  }
  if (size > MAX_INVENTORY_BYTES)
    throw new InventoryError(file, [`(file): larger than ${MAX_INVENTORY_BYTES} bytes`]);
  const inventory = parseInventoryText(await readFile(abs, 'utf8'), file);
  return { inventory, warnings: inventoryWarnings(inventory), baseDir: path.dirname(abs) };
}
