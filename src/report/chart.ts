// One chart per drill: the probe's requests, failures and latency second by second, with the
// fault window (from the fault to the restore) shaded. Drawn by Apache ECharts' server-side
// SVG renderer: no browser, no canvas, and no network when the file is opened.
import * as echarts from 'echarts';
import type { DrillRecord, ProbeStats } from '../workflows/journal';

export const CHART_WIDTH = 860;
export const CHART_HEIGHT = 340;

/** The load balancers a drill probed: most one, the host drill both. */
export const drillProbes = (d: DrillRecord): ProbeStats[] =>
  [d.probe, d.controlPlaneProbe].filter((p): p is ProbeStats => p !== undefined);

/** Where a drill's chart puts things, in seconds from its origin. */
export interface DrillTimeline {
  /** Second 0: the first probe's start, else the drill's own start. */
  origin?: string;
  faultStartS?: number;
  faultEndS?: number;
  /** When a safeguard ended the fault early. */
  safeguardS?: number;
  /** The x axis runs from 0 to here (covers the series and the restore). */
  spanS: number;
}

const seconds = (from: string, to?: string) =>
  to === undefined ? undefined : Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10;

export function drillTimeline(d: DrillRecord): DrillTimeline {
  const probes = drillProbes(d).filter((p) => p.series);
  const origin = probes[0]?.series?.startedAt ?? d.startedAt;
  if (!origin) return { spanS: 1 };
  const faultStartS = seconds(origin, d.faultAt);
  const faultEndS = seconds(origin, d.restoredAt);
  const longest = Math.max(0, ...probes.map((p) => p.series!.requests.length));
  const spanS = Math.ceil(
    Math.max(1, longest, (faultEndS ?? faultStartS ?? 0) + 1, seconds(origin, d.endedAt) ?? 0),
  );
  const safeguardS = seconds(origin, d.safeguard?.at);
  return {
    origin,
    faultStartS,
    faultEndS,
    spanS,
    ...(safeguardS === undefined ? {} : { safeguardS }),
  };
}

/** A short name for a probed load balancer in the legend: its URL. */
const lbName = (p: ProbeStats) => p.target.split(' via ').at(-1) ?? p.target;

/** The drill's chart as a standalone SVG document (text). */
export function drillChartSvg(d: DrillRecord): string {
  const tl = drillTimeline(d);
  const probes = drillProbes(d).filter((p) => p.series);
  const several = probes.length > 1;
  const series: echarts.SeriesOption[] = [];
  for (const p of probes) {
    const s = p.series!;
    // Each series is shifted to the chart's origin (several probes need not start together).
    const shift = seconds(tl.origin!, s.startedAt) ?? 0;
    // Second i spans i..i+1: the last second closes at its end.
    const points = (values: number[]) =>
      [...values, ...values.slice(-1)].map((v, i) => [shift + i, v]);
    const name = (what: string) => (several ? `${what} ${lbName(p)}` : what);
    const line = { type: 'line' as const, showSymbol: false, step: 'start' as const };
    series.push(
      { ...line, name: name('requests/s'), data: points(s.requests), yAxisIndex: 0 },
      {
        ...line,
        name: name('failures/s'),
        data: points(s.failures),
        yAxisIndex: 0,
        lineStyle: { color: '#d62728', width: 2 },
        itemStyle: { color: '#d62728' },
      },
      { ...line, step: false, name: name('p50 ms'), data: points(s.p50Ms), yAxisIndex: 1 },
      {
        ...line,
        step: false,
        name: name('p95 ms'),
        data: points(s.p95Ms),
        yAxisIndex: 1,
        lineStyle: { type: 'dashed' },
      },
    );
  }
  // The fault window on a series of its own, so it is drawn with or without probe data.
  const start = tl.faultStartS;
  const end = tl.faultEndS ?? tl.spanS;
  series.push({
    type: 'line',
    name: 'fault window',
    data: [],
    yAxisIndex: 0,
    itemStyle: { color: 'rgba(214, 39, 40, 0.35)' },
    markArea:
      start === undefined
        ? undefined
        : {
            silent: true,
            itemStyle: { color: 'rgba(214, 39, 40, 0.12)' },
            label: {
              show: true,
              position: 'insideTop',
              color: '#8b1a1a',
              formatter: d.restoredAt ? 'fault → restore' : 'fault (not restored)',
            },
            data: [[{ xAxis: start }, { xAxis: end }]],
          },
    markLine:
      tl.safeguardS === undefined
        ? undefined
        : {
            silent: true,
            symbol: 'none',
            lineStyle: { color: '#8b1a1a', type: 'dashed' },
            label: { formatter: `safeguard: ${d.safeguard!.safeguard}` },
            data: [{ xAxis: tl.safeguardS }],
          },
  });

  const chart = echarts.init(null, null, {
    renderer: 'svg',
    ssr: true,
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
  });
  try {
    chart.setOption({
      animation: false,
      title: {
        text: `${d.drill} drill on ${d.host}: ${d.verdict ?? 'running'}`,
        subtext: probes.length
          ? probes.map((p) => p.target).join('; ')
          : 'no load balancer was probed in this drill',
        left: 'center',
        textStyle: { fontSize: 14 },
        subtextStyle: { fontSize: 11 },
      },
      legend: { bottom: 0 },
      grid: { left: 56, right: 64, top: 64, bottom: 72 },
      xAxis: {
        type: 'value',
        min: 0,
        max: tl.spanS,
        name: `seconds from ${probes.length ? 'the probe start' : 'the drill start'}`,
        nameLocation: 'middle',
        nameGap: 26,
        minInterval: 1,
      },
      yAxis: [
        { type: 'value', name: 'requests/s', minInterval: 1 },
        { type: 'value', name: 'ms', position: 'right', splitLine: { show: false } },
      ],
      series,
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}
