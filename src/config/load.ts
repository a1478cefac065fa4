// Reading an inventory file: a regular file of bounded size, YAML 1.2 as the docs define
// it (no directives, tags, merge keys, 1.1 number or boolean forms, second documents, and
// few aliases), node and key counts capped before the document is built so parsing stays
// linear, then the schema. Every problem names its field or line.
import path from 'node:path';
import {
  CST,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  parseDocument,
  Scalar,
  visit,
} from 'yaml';
import type { z } from 'zod';
import { inventorySchema, inventoryWarnings, type Inventory } from './inventory';
import { LOCAL_FILE_LIMITS, LocalFileError, readLocalText } from './local-files';

export const MAX_INVENTORY_BYTES = LOCAL_FILE_LIMITS.inventory;
/** Bounds that keep any inventory cheap to read; a real one stays far below them. */
export const YAML_LIMITS = {
  /** Scalars and collections. */
  nodes: 20_000,
  /** Mapping keys, all together (duplicate-key checks are quadratic per mapping). */
  keys: 5_000,
  /** Nesting of flow collections ([ and {); deeper nests could exhaust the stack. */
  flowDepth: 32,
  aliases: 16,
} as const;

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

const YAML_TYPE: Record<string, string> = {
  boolean: 'true or false',
  number: 'a number',
  string: 'a string',
  array: 'a list',
  object: 'a mapping',
};

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const base = issue.path.length ? `${fieldPath(issue.path)}.` : '';
    return issue.keys.map((k) => `${base}${k}: is not a known field`).join('\n');
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined'))
    return `${fieldPath(issue.path)}: is required`;
  // zod's own words name its types; ours name what YAML the field takes.
  if (issue.code === 'invalid_type' && !issue.message.startsWith('must'))
    return `${fieldPath(issue.path)}: must be ${YAML_TYPE[issue.expected] ?? issue.expected}`;
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

/** YAML 1.1 spellings that YAML 1.2 reads differently (or not as numbers at all). */
const AMBIGUOUS_PLAIN: Array<[RegExp, string]> = [
  [
    /^[-+]?0[0-9_]+$/,
    'has a leading zero (octal in YAML 1.1, decimal in 1.2); write it without, or quote it',
  ],
  [/^[-+]?0o[0-7_]*$/i, 'is an octal number; write it in decimal, or quote it'],
  [/^[-+]?0x[0-9a-f_]*$/i, 'is a hexadecimal number; write it in decimal, or quote it'],
  [/^[-+]?0b[01_]*$/i, 'is a binary number (YAML 1.1); write it in decimal, or quote it'],
  [
    /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/,
    'is a base-60 number in YAML 1.1 and a string in 1.2; quote it',
  ],
  [
    /^[-+]?[0-9][0-9_]*_[0-9_]*(\.[0-9_]*)?$/,
    'has underscores (a number in YAML 1.1, a string in 1.2); quote it or drop them',
  ],
  [
    /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/,
    'is a boolean in YAML 1.1 and a string in 1.2; write true or false, or quote it',
  ],
];

/**
 * One linear pass over the tokens, before any document is built: refuse what changes
 * meaning (directives, tags, several documents) and what costs more than it should.
 */
function scanTokens(text: string, lines: LineCounter): string[] {
  const problems: string[] = [];
  const at = (offset: number) => `(yaml) line ${lines.linePos(offset).line}`;
  let offset = 0;
  let nodes = 0;
  let keys = 0;
  let aliases = 0;
  let depth = 0;
  let documents = 0;
  let ended = false;
  let content = false;
  let seen = false;
  const once = new Set<string>();
  const refuse = (key: string, message: string) => {
    if (once.has(key)) return;
    once.add(key);
    problems.push(message);
  };
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    switch (type) {
      case 'directive-line':
        refuse(
          'directive',
          `${at(offset)}: directives (${token.split(/\s/)[0]}) are not accepted; an inventory is plain YAML 1.2`,
        );
        break;
      case 'doc-start':
        // A document start after content (or a second one) begins another document.
        if (documents++ > 0 || seen)
          refuse('documents', `${at(offset)}: a second YAML document; an inventory is exactly one`);
        break;
      case 'doc-end':
        ended = true;
        break;
      case 'tag':
        refuse('tag', `${at(offset)}: tags (${token}) are not accepted; write plain values`);
        break;
      case 'alias':
        if (++aliases > YAML_LIMITS.aliases)
          refuse('aliases', `${at(offset)}: more than ${YAML_LIMITS.aliases} aliases (*name)`);
        nodes++;
        break;
      case 'flow-map-start':
      case 'flow-seq-start':
        seen = true;
        nodes++;
        if (++depth > YAML_LIMITS.flowDepth)
          refuse(
            'depth',
            `${at(offset)}: collections nested more than ${YAML_LIMITS.flowDepth} deep`,
          );
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        depth--;
        break;
      case 'map-value-ind':
        if (++keys > YAML_LIMITS.keys)
          refuse('keys', `(yaml): more than ${YAML_LIMITS.keys} mapping keys`);
        break;
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case 'block-scalar-header':
      case 'seq-item-ind':
        seen = true;
        if (ended) content = true;
        if (++nodes > YAML_LIMITS.nodes)
          refuse('nodes', `(yaml): more than ${YAML_LIMITS.nodes} values`);
        break;
    }
    if (ended && content)
      refuse(
        'documents',
        `${at(offset)}: content after the end of the document (...); an inventory is exactly one document`,
      );
    offset += token.length;
  }
  return problems;
}

/** Field path of a node inside the document, from visit()'s ancestors. */
function nodePath(ancestors: readonly unknown[], node: unknown): string {
  const parts: Array<string | number> = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const here = chain[i];
    const next = chain[i + 1];
    if (isSeq(here)) parts.push(here.items.indexOf(next as never));
    else if (isPair(here) && isScalar(here.key)) parts.push(String(here.key.value));
  }
  return fieldPath(parts);
}

/** What YAML 1.1 would read otherwise, merge keys, and keys that are not plain strings. */
function checkMeaning(doc: ReturnType<typeof parseDocument>, lines: LineCounter): string[] {
  const problems: string[] = [];
  visit(doc, {
    Pair(_, pair, ancestors) {
      const key = pair.key;
      const where =
        isScalar(key) && key.range ? `(yaml) line ${lines.linePos(key.range[0]).line}` : '(yaml)';
      if (isScalar(key) && key.value === '<<' && key.type === Scalar.PLAIN)
        problems.push(
          `${where}: ${nodePath(ancestors, pair) || 'a mapping'}: merge keys (<<) are not accepted; write each field out`,
        );
      else if (!isScalar(key) || typeof key.value !== 'string')
        problems.push(`${where}: mapping keys must be plain names`);
    },
    Scalar(key, node, ancestors) {
      // Keys are checked against the schema's names; values are what 1.1 would misread.
      if (key === 'key' || node.type !== Scalar.PLAIN || typeof node.source !== 'string') return;
      const source = node.source;
      for (const [re, why] of AMBIGUOUS_PLAIN)
        if (re.test(source)) {
          const line = node.range ? ` (line ${lines.linePos(node.range[0]).line})` : '';
          problems.push(`${nodePath(ancestors, node)}: ${source} ${why}${line}`);
          return;
        }
    },
  });
  return problems;
}

export function parseInventoryText(text: string, source = 'inventory'): Inventory {
  if (Buffer.byteLength(text) > MAX_INVENTORY_BYTES)
    throw new InventoryError(source, [`(file): larger than ${MAX_INVENTORY_BYTES} bytes`]);
  const lines = new LineCounter();
  lines.addNewLine(0);
  // LineCounter learns line starts from the parser; the scan needs them first.
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
  const scanned = scanTokens(text, lines);
  if (scanned.length) throw new InventoryError(source, scanned);
  const doc = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    merge: false,
    uniqueKeys: true,
    prettyErrors: false,
  });
  if (doc.errors.length)
    throw new InventoryError(
      source,
      doc.errors.map(
        (e) => `(yaml) line ${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`,
      ),
    );
  const meaning = checkMeaning(doc, lines);
  if (meaning.length) throw new InventoryError(source, meaning);
  let value: unknown;
  try {
    // maxAliasCount stops "billion laughs" documents from expanding.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch {
    throw new InventoryError(source, ['(yaml): aliases expand to too large a document']);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InventoryError(source, ['(top level): must be a YAML mapping']);
  return validateInventory(value, source);
}

export async function loadInventory(file: string): Promise<LoadedInventory> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readLocalText(abs, 'inventory', 'inventory');
  } catch (e) {
    throw new InventoryError(file, [
      e instanceof LocalFileError ? `(file): ${file} ${e.why}` : '(file): cannot be read',
    ]);
  }
  const inventory = parseInventoryText(text, file);
  return { inventory, warnings: inventoryWarnings(inventory), baseDir: path.dirname(abs) };
}
