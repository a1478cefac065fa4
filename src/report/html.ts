// `verify --html <file>`: the report as one self-contained HTML page — the drills table and
// one chart per drill — that needs no network to open (its CSP forbids any fetch).
import { approvalLine, type Journal } from '../workflows/journal';
import { drillChartSvg, drillTimeline } from './chart';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const ms = (n?: number) => (n === undefined ? '-' : `${Math.round(n)} ms`);
const pct = (r: number) => `${(r * 100).toFixed(2)} %`;

function drillsTable(j: Journal): string {
  const head = [
    'drill',
    'host',
    'verdict',
    'requests',
    'failed',
    'p50',
    'p95',
    'p99',
    'recovery',
    'restored',
    'notes',
  ];
  const rows = j.drills.map((d) => [
    d.drill,
    d.host,
    d.verdict ?? 'running',
    String(d.probe?.requests ?? '-'),
    d.probe ? `${d.probe.failures} (${pct(d.probe.failedRatio)})` : '-',
    ms(d.probe?.p50Ms),
    ms(d.probe?.p95Ms),
    ms(d.probe?.p99Ms),
    ms(d.recoveryMs),
    d.restored ? 'yes' : 'NO',
    d.reasons.join('; '),
  ]);
  const cells = (tag: string, r: string[]) =>
    `<tr>${r.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
  return `<table class="drills">\n<thead>${cells('th', head)}</thead>\n<tbody>\n${rows
    .map((r, i) =>
      cells('td', r).replace('<tr>', `<tr data-verdict="${escapeHtml(r[2]!)}" data-row="${i}">`),
    )
    .join('\n')}\n</tbody>\n</table>`;
}

/**
 * A drill's chart in a <figure> whose data attributes say, independently of how the chart
 * library structures its SVG, which drill it is and where the fault window lies (seconds
 * from the chart's origin).
 */
export function drillFigure(j: Journal, index: number): string {
  const d = j.drills[index]!;
  const tl = drillTimeline(d);
  const attrs: Record<string, string | number | undefined> = {
    'data-drill': d.drill,
    'data-host': d.host,
    'data-verdict': d.verdict ?? 'running',
    'data-origin': tl.origin,
    'data-fault-start': tl.faultStartS,
    'data-fault-end': tl.faultEndS,
    'data-fault-at': d.faultAt,
    'data-restored-at': d.restoredAt,
    'data-safeguard': d.safeguard?.safeguard,
    'data-safeguard-at': tl.safeguardS,
  };
  const attrText = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${escapeHtml(String(v))}"`)
    .join(' ');
  const window =
    tl.faultStartS === undefined
      ? 'no fault was injected'
      : `fault from ${tl.faultStartS} s to ${tl.faultEndS === undefined ? 'the end (not restored)' : `${tl.faultEndS} s (restore)`}`;
  return `<figure class="drill-chart" ${attrText}>\n${drillChartSvg(d)}\n<figcaption>${escapeHtml(
    `${d.drill} drill on ${d.host}: ${window}; seconds from ${tl.origin ?? 'the drill start'}`,
  )}</figcaption>\n</figure>`;
}

export function journalHtml(j: Journal, meta: { workflowId?: string } = {}): string {
  const verdict = j.verdict ?? j.phase;
  const facts = [
    meta.workflowId ? `workflow ${meta.workflowId}` : undefined,
    `started ${j.startedAt}`,
    j.endedAt ? `ended ${j.endedAt}` : undefined,
  ].filter(Boolean) as string[];
  const style = `
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table.drills { border-collapse: collapse; margin: 1rem 0; }
table.drills th, table.drills td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; }
.verdict-passed { color: #1a7f37; } .verdict-deviated { color: #9a6700; } .verdict-aborted { color: #cf222e; }
figure.drill-chart { margin: 1.5rem 0; } figcaption { font-size: 0.85rem; color: #555; }`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(`Verification of ${j.cluster}: ${verdict}`)}</title>
<style>${style}</style>
</head>
<body>
<main data-cluster="${escapeHtml(j.cluster)}" data-verdict="${escapeHtml(verdict)}">
<h1>Verification of ${escapeHtml(j.cluster)}: <span class="verdict-${escapeHtml(verdict)}">${escapeHtml(verdict)}</span></h1>
<p>${escapeHtml(facts.join(' · '))}</p>
${j.approval ? `<p class="approval" data-decision="${escapeHtml(j.approval.decision ?? 'waiting')}">${escapeHtml(approvalLine(j).replace(/\*\*|`/g, ''))}</p>` : ''}
${drillsTable(j)}
${j.steady && !j.steady.ok ? `<p><strong>Not steady:</strong> ${escapeHtml(j.steady.problems.join('; '))}</p>` : ''}
${j.summary ? `<p class="summary">${escapeHtml(j.summary)}</p>` : ''}
<section class="charts">
${j.drills.map((_, i) => drillFigure(j, i)).join('\n')}
</section>
</main>
</body>
</html>
`;
}
