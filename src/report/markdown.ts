// `verify --markdown <file>`: the journal's table, then one chart per drill. Markdown viewers
// (GitHub's among them) do not draw inline <svg> and drop data: images, so each chart is an
// SVG file beside the Markdown file (<name>.<drill>.svg), linked by a relative path.
import path from 'node:path';
import { journalMarkdown, type Journal } from '../workflows/journal';
import { drillChartSvg, drillTimeline } from './chart';

export interface ReportFile {
  path: string;
  text: string;
}

/** The Markdown file and the SVG files beside it, for a report written to `markdownPath`. */
export function markdownReport(j: Journal, markdownPath: string): ReportFile[] {
  const dir = path.dirname(markdownPath);
  const stem = path.basename(markdownPath).replace(/\.(md|markdown)$/i, '');
  const charts = j.drills.map((d) => {
    const file = `${stem}.${d.drill}.svg`;
    const tl = drillTimeline(d);
    const window =
      tl.faultStartS === undefined
        ? 'no fault injected'
        : `fault window ${tl.faultStartS}–${tl.faultEndS ?? 'end'} s`;
    return {
      file: { path: path.join(dir, file), text: drillChartSvg(d) },
      line: `![${d.drill} drill on ${d.host}: ${window}](${encodeURI(file)})`,
    };
  });
  const text = [
    journalMarkdown(j),
    ...(charts.length
      ? ['', '### Drills second by second', '', ...charts.flatMap((c) => [c.line, ''])]
      : ['']),
  ].join('\n');
  return [{ path: markdownPath, text }, ...charts.map((c) => c.file)];
}
