// The per-second series of a probe and the reports drawn from it: buckets per second, a
// series small enough for workflow history over the longest hold, one chart per drill with
// its fault window in the HTML and Markdown reports. (test/e2e/approval.test.ts opens a real
// run's HTML report in a browser.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probeSeries } from '../../src/activities/probe';
import { drillChartSvg, drillTimeline } from '../../src/report/chart';
import { journalHtml } from '../../src/report/html';
import { markdownReport } from '../../src/report/markdown';
import type { DrillRecord, Journal, ProbeStats } from '../../src/workflows/journal';

const t0 = Date.parse('2026-12-02T10:00:00.000Z');
const at = (s: number) => new Date(t0 + s * 1000).toISOString();

/** A probe of `seconds` at `rate`/s whose requests fail from second 2 to 4. */
function probe(seconds: number, rate: number): ProbeStats {
  const samples = Array.from({ length: seconds * rate }, (_, i) => {
    const atMs = (i * 1000) / rate;
    const failed = atMs >= 2000 && atMs < 4000;
    return { atMs, latencyMs: failed ? 3000 : 4 + (i % 10), failed };
  });
  const failures = samples.filter((s) => s.failed).length;
  return {
    target: 'GET test.com/get via http://10.0.0.1',
    requests: samples.length,
    failures,
    failedRatio: failures / samples.length,
    p50Ms: 8,
    p95Ms: 13,
    p99Ms: 3000,
    errors: [],
    series: probeSeries(new Date(t0), samples, seconds),
  };
}

const drill = (over: Partial<DrillRecord>): DrillRecord => ({
  drill: 'data-plane',
  host: 'ha4',
  component: 'data-plane',
  verdict: 'passed',
  reasons: [],
  restored: true,
  startedAt: at(-0.2),
  faultAt: at(1.4),
  restoredAt: at(8.2),
  endedAt: at(12),
  ...over,
});

const journal = (drills: DrillRecord[]): Journal => ({
  cluster: 'lab',
  startedAt: at(-3),
  endedAt: at(40),
  phase: 'done',
  verdict: 'deviated',
  drills,
  events: [],
  summary: 'a <script>alert(1)</script> summary',
});

describe('the per-second series of a probe', () => {
  it('counts requests and failures per second, with p50 and p95 of that second', () => {
    const s = probe(6, 10).series!;
    assert.equal(s.startedAt, at(0));
    assert.deepEqual(s.requests, [10, 10, 10, 10, 10, 10]);
    assert.deepEqual(s.failures, [0, 0, 10, 10, 0, 0]);
    assert.deepEqual(s.p50Ms.slice(0, 3), [8, 8, 3000]);
    assert.deepEqual(s.p95Ms.slice(0, 2), [13, 13]);
  });

  it('has one entry per second even for seconds without requests', () => {
    const s = probeSeries(new Date(t0), [{ atMs: 2500, latencyMs: 7.26, failed: false }], 4);
    assert.deepEqual(s.requests, [0, 0, 1, 0]);
    assert.deepEqual(s.p50Ms, [0, 0, 7.3, 0], 'latencies in tenths of a millisecond');
  });

  it('stays small in workflow history for the longest hold (one hour at 1000 requests/s)', () => {
    const s = probe(3601, 1000).series!;
    assert.equal(s.requests.length, 3601);
    const bytes = Buffer.byteLength(JSON.stringify(s));
    // Temporal warns at 512 KiB per payload and refuses 2 MiB; a journal holds several drills.
    assert.ok(bytes < 100 * 1024, `${bytes} bytes for an hour`);
  });
});

describe('the charts of the report', () => {
  it('places the fault window in seconds from the probe start', () => {
    const d = drill({ probe: probe(10, 20) });
    assert.deepEqual(drillTimeline(d), {
      origin: at(0),
      faultStartS: 1.4,
      faultEndS: 8.2,
      spanS: 12,
    });
    const svg = drillChartSvg(d);
    assert.match(svg, /^<svg [^>]*width="860"/);
    assert.match(svg, /fault → restore/);
    assert.match(svg, /requests\/s/);
  });

  it('draws a drill without a probe (etcd) on the drill timeline, and one never restored', () => {
    const d = drill({ drill: 'etcd', restoredAt: undefined, restored: false, verdict: 'aborted' });
    assert.deepEqual(drillTimeline(d), {
      origin: at(-0.2),
      faultStartS: 1.6,
      faultEndS: undefined,
      spanS: 13,
    });
    assert.match(drillChartSvg(d), /fault \(not restored\)/);
  });

  it('draws both load balancers of the host drill, and the moment a safeguard ended a fault', () => {
    const cp = { ...probe(10, 5), target: 'login + read routes via http://10.0.0.2:9000' };
    const d = drill({
      drill: 'host',
      probe: probe(10, 20),
      controlPlaneProbe: cp,
      safeguard: { safeguard: 'failed-share', at: at(5), detail: 'x' },
    });
    assert.equal(drillTimeline(d).safeguardS, 5);
    const svg = drillChartSvg(d);
    assert.match(svg, /failures\/s http:\/\/10.0.0.1/);
    assert.match(svg, /failures\/s http:\/\/10.0.0.2:9000/);
    assert.match(svg, /safeguard: failed-share/);
  });

  it('the HTML report has one figure per drill with its fault window, and escapes text', () => {
    const html = journalHtml(
      journal([
        drill({ probe: probe(10, 20), verdict: 'deviated', reasons: ['40 of 200 <failed>'] }),
        drill({ drill: 'control-plane', host: 'ha1', probe: probe(10, 5) }),
        drill({ drill: 'etcd', host: 'ha1' }),
      ]),
    );
    const figures = [...html.matchAll(/<figure class="drill-chart" ([^>]*)>\n<svg /g)].map(
      (m) => m[1],
    );
    assert.equal(figures.length, 3);
    assert.match(figures[0]!, /data-drill="data-plane" data-host="ha4" data-verdict="deviated"/);
    assert.match(figures[0]!, /data-fault-start="1.4" data-fault-end="8.2"/);
    assert.match(figures[2]!, /data-drill="etcd"/);
    assert.ok(!html.includes('<script>'), 'no text becomes markup');
    assert.match(html, /40 of 200 &lt;failed&gt;/);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.doesNotMatch(html, /(src|href)="https?:/, 'nothing is fetched');
  });

  it('the Markdown report links one SVG file per drill beside it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'api7ha-report-'));
    try {
      const files = markdownReport(
        journal([drill({ probe: probe(10, 20) }), drill({ drill: 'etcd', host: 'ha1' })]),
        path.join(dir, 'verify.md'),
      );
      assert.deepEqual(
        files.map((f) => path.relative(dir, f.path)),
        ['verify.md', 'verify.data-plane.svg', 'verify.etcd.svg'],
      );
      assert.match(files[0]!.text, /^\| data-plane \| ha4 \| passed \|/m);
      assert.match(
        files[0]!.text,
        /!\[data-plane drill on ha4: fault window 1.4–8.2 s\]\(verify.data-plane.svg\)/,
      );
      assert.match(files[2]!.text, /^<svg /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
