// docs/benchmarks.md holds one section per benchmark script; each run rewrites its own
// section (between HTML comment markers) and keeps the others.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const HEADER = `# Benchmarks

Measured by the scripts in \`bench/\` (as root, after \`scripts/setup.sh\`; each brings the lab up if needed):
\`node dist/bench/deploy.js --write docs/benchmarks.md\` (wipes the lab's hosts),
\`node dist/bench/ship.js --write docs/benchmarks.md\`, and, on a 12-host lab
(\`api7-ha lab down; api7-ha lab up --hosts 12\`), \`node dist/bench/scale.js --write docs/benchmarks.md\`.
All figures of a section come from one run; the ratios compare measurements of that run, not timings across runs.
`;

export function writeSection(file: string, title: string, body: string): void {
  const begin = `<!-- bench:${title} -->`;
  const end = `<!-- /bench:${title} -->`;
  const section = `${begin}\n\n## ${title}\n\n${body}\n\n${end}`;
  let doc = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (!doc.startsWith(HEADER)) {
    // Keep the sections already written; replace everything before them.
    const first = doc.indexOf('<!-- bench:');
    doc = HEADER + (first >= 0 ? `\n${doc.slice(first)}` : '');
  }
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  doc =
    a >= 0 && b > a
      ? doc.slice(0, a) + section + doc.slice(b + end.length)
      : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, doc);
}

/** Print a benchmark's figures; with `--write <file>`, also put them (and how to read them) in its section. */
export function report(title: string, text: string, howToRead = ''): void {
  console.log(text);
  const at = process.argv.indexOf('--write');
  const file = at > 0 ? process.argv[at + 1] : undefined;
  if (file) writeSection(file, title, howToRead ? `${text}\n\n${howToRead}` : text);
}
