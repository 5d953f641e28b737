// A uPlot chart of series on one time axis. uPlot draws on a canvas from typed arrays (no
// element per point), which keeps 100 000 points smooth. Zoom: drag across the chart, or the
// buttons (keyboard); pan: the arrow buttons. The shown range is announced as text.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Aligned } from '../series.js';
import { formatInZone } from '../timerange.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

export interface ChartProps {
  label: string;
  names: string[];
  data: Aligned;
  zone: string;
  height?: number;
}

export function Chart({ label, names, data, zone, height = 320 }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [range, setRange] = useState<{ min: number; max: number } | null>(null);
  const n = data.x.length;
  const full = n > 0 ? { min: data.x[0], max: data.x[n - 1] } : null;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(320, el.clientWidth || 800),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
      scales: { x: { time: true } },
      cursor: { drag: { x: true, y: false, setScale: true } },
      series: [{ label: 'time' }, ...names.map((name, i) => ({ label: name, stroke: COLORS[i % COLORS.length], width: 1, spanGaps: true, points: { show: false } }))],
      legend: { show: true },
      hooks: {
        setScale: [(u, key) => {
          if (key !== 'x') return;
          const { min, max } = u.scales.x;
          if (min !== undefined && max !== undefined) setRange({ min, max });
        }],
      },
    };
    const u = new uPlot(opts, [data.x, ...data.ys] as uPlot.AlignedData, el);
    plot.current = u;
    setRange(full);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(320, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [data, names.join('\u0000'), zone, height]);

  const move = (f: (r: { min: number; max: number }) => { min: number; max: number }) => {
    const u = plot.current;
    if (!u || !range) return;
    u.setScale('x', f(range));
  };
  const span = range ? range.max - range.min : 0;
  return (
    <figure class="chart">
      <div ref={host} role="img" aria-label={`${label}: chart of ${n} points per series${range ? `, showing ${formatInZone(range.min * 1000, zone)} to ${formatInZone(range.max * 1000, zone)}` : ''} (the values are in the table below)`} data-points={n} />
      <figcaption>
        <span class="shown-range" aria-live="polite" data-min={range?.min} data-max={range?.max}>
          {range ? <>Shown: {formatInZone(range.min * 1000, zone)} → {formatInZone(range.max * 1000, zone)} ({zone})</> : 'No points'}
        </span>
        <span class="chart-buttons">
          <button type="button" aria-label="Pan left" onClick={() => move((r) => ({ min: r.min - span / 2, max: r.max - span / 2 }))}>◀</button>
          <button type="button" aria-label="Zoom in" onClick={() => move((r) => ({ min: r.min + span / 4, max: r.max - span / 4 }))}>+</button>
          <button type="button" aria-label="Zoom out" onClick={() => move((r) => ({ min: r.min - span / 2, max: r.max + span / 2 }))}>−</button>
          <button type="button" aria-label="Pan right" onClick={() => move((r) => ({ min: r.min + span / 2, max: r.max + span / 2 }))}>▶</button>
          <button type="button" aria-label="Reset zoom" onClick={() => full && plot.current?.setScale('x', full)}>Reset</button>
        </span>
      </figcaption>
    </figure>
  );
}
