// Metrics charts (one or several overlaid) with their archive policy's granularities and
// aggregation methods, a time range and time zone, calendar resampling; and the aggregates
// query builder (POST /v1/aggregates) with its result charted.
import { useMemo, useState } from 'preact/hooks';
import { get, request, url } from './api.js';
import { Chart } from './chart.js';
import { ErrorText, Json, ValuesTable, useLoad } from './ui.js';
import { align, aggregateSeries, buildOperations, columns, granularities, type Point, type Series } from '../series.js';
import { formatInZone, isTimeZone, parseRange } from '../timerange.js';

interface Metric { id: string; name: string | null; unit: string | null; resource_id: string | null; archive_policy: { name: string; aggregation_methods: string[]; definition: Array<{ granularity: string; points: number; timespan: string }> } }

const VIEWER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const CALENDAR = [['', 'none'], ['W', 'week'], ['M', 'month'], ['Q', 'quarter'], ['H', 'half year'], ['Y', 'year']] as const;
const PRESETS = [['1h', 'last hour'], ['24h', 'last day'], ['7d', 'last week'], ['30d', 'last 30 days']] as const;

/** "0:05:00", "1 day, 0:00:00" (Python timedelta text, as Gnocchi writes granularities) in seconds. */
export function timedeltaSeconds(text: string): number {
  const m = /^(?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)$/.exec(text);
  if (!m) return Number(text);
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

function RangeFields({ start, stop, zone, onChange }: { start: string; stop: string; zone: string; onChange: (v: { start: string; stop: string; zone: string }) => void }) {
  return (
    <fieldset class="range">
      <legend>Time range</legend>
      <label>From <input name="start" value={start} size={18} placeholder="now-24h or 2026-01-01 00:00" onChange={(e) => onChange({ start: e.currentTarget.value, stop, zone })} /></label>
      <label>to <input name="stop" value={stop} size={18} placeholder="now (empty: no bound)" onChange={(e) => onChange({ start, stop: e.currentTarget.value, zone })} /></label>
      {PRESETS.map(([d, text]) => <button type="button" key={d} onClick={() => onChange({ start: `now-${d}`, stop: '', zone })}>{text}</button>)}
      <button type="button" onClick={() => onChange({ start: '', stop: '', zone })}>everything</button>
      <label>Time zone{' '}
        <input name="zone" list="zones" value={zone} size={18} onChange={(e) => onChange({ start, stop, zone: e.currentTarget.value })} />
      </label>
      <datalist id="zones">{[VIEWER_ZONE, 'UTC', ...(Intl.supportedValuesOf?.('timeZone') ?? [])].map((z) => <option key={z} value={z} />)}</datalist>
    </fieldset>
  );
}

function rangeQuery(zone: string, start: string, stop: string): { start?: string; stop?: string; error?: string } {
  try {
    if (!isTimeZone(zone)) return { error: `unknown time zone: ${zone}` };
    const r = parseRange(start, stop, zone, Date.now());
    return { start: r.start === undefined ? undefined : new Date(r.start).toISOString(), stop: r.stop === undefined ? undefined : new Date(r.stop).toISOString() };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

export function MetricsPage({ ids }: { ids: string[] }) {
  const metrics = useLoad((s) => Promise.all(ids.map((id) => get<Metric>(`v1/metric/${encodeURIComponent(id)}`, undefined, s))), [ids.join(',')]);
  const first = metrics.data?.[0];
  const [aggregation, setAggregation] = useState('');
  const [granularity, setGranularity] = useState('');
  const [resample, setResample] = useState('');
  const [view, setView] = useState({ start: '', stop: '', zone: VIEWER_ZONE });
  const range = rangeQuery(view.zone, view.start, view.stop);
  const methods = first?.archive_policy.aggregation_methods ?? [];
  const grans = (first?.archive_policy.definition ?? []).map((d) => timedeltaSeconds(d.granularity));
  const agg = aggregation || (methods.includes('mean') ? 'mean' : methods[0] ?? 'mean');
  const gran = granularity || (grans.length ? String(Math.min(...grans)) : '');
  const measures = useLoad(async (signal) => {
    if (!metrics.data || range.error) return null;
    const sampled = resample !== '' && gran !== '';
    return Promise.all(metrics.data.map(async (m) => {
      const q = { aggregation: agg, granularity: gran || undefined, start: range.start, stop: range.stop, resample: sampled ? resample : undefined, timezone: sampled ? view.zone : undefined };
      const points = await get<Point[]>(`v1/metric/${encodeURIComponent(m.id)}/measures`, q, signal);
      return { query: url(`v1/metric/${m.id}/measures`, q), series: columns(m.name ?? m.id, points) };
    }));
  }, [metrics.data, agg, gran, resample, range.start, range.stop, range.error, view.zone]);
  const series: Series[] = (measures.data ?? []).map((d) => d.series);
  const data = useMemo(() => align(series), [measures.data]);
  const names = series.map((s) => s.name);
  return (
    <div>
      <h1>{ids.length === 1 ? `Metric ${first?.name ?? ids[0]}` : `${ids.length} metrics`}</h1>
      <ErrorText error={metrics.error} />
      {metrics.data && (
        <ul class="metric-info">{metrics.data.map((m) => <li key={m.id}><code>{m.id}</code> {m.name} {m.unit ? `(${m.unit})` : ''} – archive policy {m.archive_policy.name}{m.resource_id ? <> – <a href={`#/resource/generic/${m.resource_id}`}>resource</a></> : null}</li>)}</ul>
      )}
      <form class="controls" onSubmit={(e) => e.preventDefault()} aria-label="Chart settings">
        <label>Aggregation{' '}
          <select name="aggregation" value={agg} onChange={(e) => setAggregation(e.currentTarget.value)}>{methods.map((m) => <option key={m} value={m}>{m}</option>)}</select>
        </label>
        <label>Granularity{' '}
          <select name="granularity" value={gran} onChange={(e) => setGranularity(e.currentTarget.value)}>{grans.map((g) => <option key={g} value={String(g)}>{g} s</option>)}</select>
        </label>
        <label>Calendar resampling{' '}
          <select name="resample" value={resample} onChange={(e) => setResample(e.currentTarget.value)}>{CALENDAR.map(([v, t]) => <option key={v} value={v}>{t}</option>)}</select>
        </label>
        <RangeFields {...view} onChange={setView} />
      </form>
      <ErrorText error={range.error ?? measures.error} />
      <p class="query" aria-live="polite">{measures.loading ? 'Loading…' : `${data.x.length} points`}{measures.data ? <> – <code class="last-query">{measures.data[0]?.query}</code></> : null}</p>
      {measures.data && <Chart label={names.join(', ')} names={names} data={data} zone={view.zone} />}
      {measures.data && <ValuesTable names={names} data={data} zone={view.zone} file="tally-measures.csv" />}
    </div>
  );
}

export function AggregatesPage({ ids }: { ids: string[] }) {
  const [mode, setMode] = useState<'metrics' | 'resources'>(ids.length ? 'metrics' : 'resources');
  const [metricsText, setMetricsText] = useState(ids.join(', '));
  const [resourceType, setResourceType] = useState('generic');
  const [search, setSearch] = useState('');
  const [metricName, setMetricName] = useState('');
  const [groupby, setGroupby] = useState('');
  const [aggregation, setAggregation] = useState('mean');
  const [reduce, setReduce] = useState('mean');
  const [granularity, setGranularity] = useState('');
  const [overlap, setOverlap] = useState('100');
  const [view, setView] = useState({ start: '', stop: '', zone: VIEWER_ZONE });
  const [ops, setOps] = useState('');
  const [result, setResult] = useState<{ answer: unknown; body: unknown } | null>(null);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const range = rangeQuery(view.zone, view.start, view.stop);
  const names = (mode === 'metrics' ? metricsText : metricName).split(',').map((s) => s.trim()).filter(Boolean);
  const built = JSON.stringify(buildOperations(names, aggregation, reduce));

  const run = async (ev: Event) => {
    ev.preventDefault();
    setError(undefined);
    setResult(null);
    setBusy(true);
    try {
      if (range.error) throw new Error(range.error);
      const operations: unknown = ops.trim() ? (ops.trim().startsWith('[') ? JSON.parse(ops) : ops.trim()) : JSON.parse(built);
      const body: Record<string, unknown> = { operations };
      if (mode === 'resources') {
        body.resource_type = resourceType;
        body.search = search.trim().startsWith('{') ? JSON.parse(search) : search.trim() || {};
      }
      const q = { granularity: granularity || undefined, start: range.start, stop: range.stop, needed_overlap: overlap, groupby: mode === 'resources' && groupby ? groupby : undefined };
      const target = new URL(url('v1/aggregates', q));
      if (q.groupby) {
        target.searchParams.delete('groupby');
        for (const g of groupby.split(',').map((s) => s.trim()).filter(Boolean)) target.searchParams.append('groupby', g);
      }
      setResult({ answer: await request<unknown>('POST', target.toString(), body), body });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const found = result ? aggregateSeries(result.answer) : [];
  const allPoints = found.flatMap((f) => f.points);
  const g = granularity ? Number(granularity) : granularities(allPoints).find((x) => typeof x === 'number');
  const series = found.map((f) => columns(f.name, f.points, g));
  const data = useMemo(() => align(series), [result, g]);
  return (
    <div>
      <h1>Aggregates</h1>
      <form class="aggregates" onSubmit={run} aria-label="Aggregates query">
        <fieldset>
          <legend>Over</legend>
          <label><input type="radio" name="mode" checked={mode === 'metrics'} onChange={() => setMode('metrics')} /> metrics by id</label>
          <label><input type="radio" name="mode" checked={mode === 'resources'} onChange={() => setMode('resources')} /> the metrics of resources found by a search</label>
        </fieldset>
        {mode === 'metrics' ? (
          <label>Metric ids (comma separated) <input name="metrics" size={80} value={metricsText} onInput={(e) => setMetricsText(e.currentTarget.value)} /></label>
        ) : (
          <>
            <label>Resource type <input name="resource_type" value={resourceType} onInput={(e) => setResourceType(e.currentTarget.value)} /></label>
            <label>Search (Gnocchi's search language or JSON) <input name="search" size={50} value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="project_id = 'p1'" /></label>
            <label>Metric name(s) <input name="metric_name" value={metricName} onInput={(e) => setMetricName(e.currentTarget.value)} placeholder="cpu_util" /></label>
            <label>Group by (attributes, comma separated) <input name="groupby" value={groupby} onInput={(e) => setGroupby(e.currentTarget.value)} placeholder="project_id" /></label>
          </>
        )}
        <label>Aggregation of each metric <input name="aggregation" size={8} value={aggregation} onInput={(e) => setAggregation(e.currentTarget.value)} /></label>
        <label>Across metrics{' '}
          <select name="reduce" value={reduce} onChange={(e) => setReduce(e.currentTarget.value)}>
            <option value="">none (each metric)</option>
            {['mean', 'sum', 'min', 'max', 'median', 'count', 'std'].map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </label>
        <label>Granularity (seconds) <input name="granularity" size={6} value={granularity} onInput={(e) => setGranularity(e.currentTarget.value)} /></label>
        <label>Needed overlap (%) <input name="needed_overlap" size={4} value={overlap} onInput={(e) => setOverlap(e.currentTarget.value)} /></label>
        <RangeFields {...view} onChange={setView} />
        <p>Operations: <code class="operations">{built}</code></p>
        <label>Or operations of your own (string or JSON) <input name="operations" size={60} value={ops} onInput={(e) => setOps(e.currentTarget.value)} placeholder="(aggregate sum (metric cpu_util mean))" /></label>
        <button type="submit" disabled={busy}>Run</button>
      </form>
      <ErrorText error={error} />
      {result && (
        <>
          <p class="aggregate-summary" aria-live="polite">{found.length} series, {data.x.length} points at granularity {String(g ?? '')}</p>
          {data.x.length > 0 && <Chart label="Aggregate" names={series.map((s) => s.name)} data={data} zone={view.zone} />}
          <ValuesTable names={series.map((s) => s.name)} data={data} zone={view.zone} file="tally-aggregates.csv" />
          <details><summary>Request and answer</summary><Json value={result} label="Request body and answer" /></details>
        </>
      )}
      <p class="hint">Times are shown in {view.zone}; now is {formatInZone(Date.now(), view.zone)}.</p>
    </div>
  );
}
