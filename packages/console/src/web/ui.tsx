// Small pieces every page uses: hash routing, loading state, errors, the values table.
import { useEffect, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { toCsv, seriesRows } from '../csv.js';
import type { Aligned } from '../series.js';
import { formatInZone } from '../timerange.js';

export interface Route { path: string[]; query: URLSearchParams }

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const [p, q = ''] = h.split('?');
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const f = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return route;
}

export function href(path: Array<string>, query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v) q.set(k, v);
  const qs = q.toString();
  return `#/${path.map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`;
}

/** The result of an async load, reloaded when `deps` change. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): { data?: T; error?: string; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true, error: undefined }));
    load(ac.signal).then((data) => { if (!ac.signal.aborted) setState({ data, loading: false }); },
      (e: unknown) => { if (!ac.signal.aborted) setState({ error: e instanceof Error ? e.message : String(e), loading: false }); });
    return () => ac.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function ErrorText({ error }: { error?: string }) {
  return error ? <p class="error" role="alert">{error}</p> : null;
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return <section aria-label={title}><h2>{title}</h2>{children}</section>;
}

const PAGE = 100;

/** The chart's values as a table (its textual alternative), a page at a time, and as CSV. */
export function ValuesTable({ names, data, zone, file }: { names: string[]; data: Aligned; zone: string; file: string }) {
  const [page, setPage] = useState(0);
  useEffect(() => setPage(0), [data]);
  const n = data.x.length;
  const pages = Math.max(1, Math.ceil(n / PAGE));
  const rows: number[] = [];
  for (let i = page * PAGE; i < Math.min(n, (page + 1) * PAGE); i++) rows.push(i);
  const download = () => {
    const text = toCsv(['timestamp', ...names], seriesRows(data.x, data.ys, (s) => formatInZone(s * 1000, zone, true)));
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
    a.download = file;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  return (
    <div class="values">
      <div class="toolbar">
        <button type="button" onClick={download} aria-label={`Download the ${n} rows as CSV`}>Download CSV</button>
        <span>{n} rows</span>
        <button type="button" aria-label="Previous page of values" disabled={page === 0} onClick={() => setPage(page - 1)}>‹</button>
        <span>page {page + 1} / {pages}</span>
        <button type="button" aria-label="Next page of values" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>›</button>
      </div>
      <table class="values-table" aria-label="Values">
        <thead><tr><th scope="col">Time ({zone})</th>{names.map((nm) => <th scope="col" key={nm}>{nm}</th>)}</tr></thead>
        <tbody>
          {rows.map((i) => (
            <tr key={i}><td>{formatInZone(data.x[i] * 1000, zone)}</td>{data.ys.map((y, j) => <td key={j}>{y[i] ?? ''}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return <pre class="json" aria-label={label} tabIndex={0}>{JSON.stringify(value, null, 2)}</pre>;
}
