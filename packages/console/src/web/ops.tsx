// Processing (the backlog over time, polled while the page is open; archive policies and
// rules) and alarms (list, one alarm with its rule, state timeline and deliveries, and
// disabling or re-enabling it), the latter through /console/alarming/.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { get, request, url } from './api.js';
import { Chart } from './chart.js';
import { ErrorText, Json, Section, href, useLoad } from './ui.js';

const POLL_MS = 2_000;
const KEEP = 1_800;

interface Status { storage: { summary: { metrics: number; measures: number } }; metricd?: { processors?: string[] | null } }

export function StatusPage() {
  const [samples, setSamples] = useState<{ t: number[]; measures: number[]; metrics: number[] }>({ t: [], measures: [], metrics: [] });
  const [last, setLast] = useState<Status>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const s = await get<Status>('v1/status', { details: false });
        if (stopped) return;
        setLast(s);
        setError(undefined);
        setSamples((old) => ({
          t: [...old.t, Date.now() / 1000].slice(-KEEP),
          measures: [...old.measures, s.storage.summary.measures].slice(-KEEP),
          metrics: [...old.metrics, s.storage.summary.metrics].slice(-KEEP),
        }));
      } catch (e) {
        if (!stopped) setError(e instanceof Error ? e.message : String(e));
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => { stopped = true; clearTimeout(timer); };
  }, []);
  const policies = useLoad((s) => get<Array<{ name: string; back_window: number; aggregation_methods: string[]; definition: Array<{ granularity: string; points: number; timespan: string }> }>>('v1/archive_policy', undefined, s), []);
  const rules = useLoad((s) => get<Array<{ name: string; metric_pattern: string; archive_policy_name: string }>>('v1/archive_policy_rule', undefined, s), []);
  const data = useMemo(() => ({ x: new Float64Array(samples.t), ys: [new Float64Array(samples.measures), new Float64Array(samples.metrics)] }), [samples]);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return (
    <div>
      <h1>Processing</h1>
      <ErrorText error={error} />
      <Section title="Backlog">
        <p class="backlog" aria-live="polite">
          {last ? <>Measures waiting: <strong class="backlog-measures">{last.storage.summary.measures}</strong>, in <strong>{last.storage.summary.metrics}</strong> metrics; processors: {(last.metricd?.processors ?? []).length}. Sampled every {POLL_MS / 1000} s while this page is open ({samples.t.length} samples).</> : 'Loading…'}
        </p>
        {samples.t.length > 0 && <Chart label="Backlog" names={['measures waiting', 'metrics with measures waiting']} data={data} zone={zone} height={220} />}
      </Section>
      <Section title="Archive policies">
        <ErrorText error={policies.error} />
        <table aria-label="Archive policies">
          <thead><tr><th scope="col">name</th><th scope="col">back window</th><th scope="col">aggregation methods</th><th scope="col">definition</th></tr></thead>
          <tbody>{(policies.data ?? []).map((p) => (
            <tr key={p.name}><td>{p.name}</td><td>{p.back_window}</td><td>{p.aggregation_methods.join(', ')}</td>
              <td>{p.definition.map((d) => `${d.granularity} × ${d.points} (${d.timespan})`).join('; ')}</td></tr>
          ))}</tbody>
        </table>
      </Section>
      <Section title="Archive policy rules">
        <ErrorText error={rules.error} />
        <table aria-label="Archive policy rules">
          <thead><tr><th scope="col">name</th><th scope="col">metric pattern</th><th scope="col">archive policy</th></tr></thead>
          <tbody>{(rules.data ?? []).map((r) => <tr key={r.name}><td>{r.name}</td><td><code>{r.metric_pattern}</code></td><td>{r.archive_policy_name}</td></tr>)}</tbody>
        </table>
      </Section>
    </div>
  );
}

interface Alarm { alarm_id: string; name: string; type: string; state: string; state_reason?: string; enabled: boolean; severity: string; state_timestamp: string; description?: string; [k: string]: unknown }
interface Change { event_id: string; type: string; detail: string; timestamp: string; user_id?: string }
interface Delivery { id: number; status: string; action: string; previous: string | null; current: string; reason: string; created_at: string; attempts: number; last_error: string | null }

const PAGE = 50;

export function AlarmsPage({ enabled }: { enabled: boolean }) {
  const [markers, setMarkers] = useState<string[]>([]);
  const marker = markers[markers.length - 1];
  const list = useLoad((s) => (enabled ? get<Alarm[]>('alarming/v2/alarms', { limit: PAGE, marker, sort: 'name:asc' }, s) : Promise.resolve([])), [enabled, marker]);
  if (!enabled) return <div><h1>Alarms</h1><p>This API process serves no alarm API: start Tally with <code>tally serve</code> to see alarms here.</p></div>;
  const rows = list.data ?? [];
  return (
    <div>
      <h1>Alarms</h1>
      <ErrorText error={list.error} />
      <table aria-label="Alarms" aria-busy={list.loading}>
        <thead><tr><th scope="col">name</th><th scope="col">state</th><th scope="col">enabled</th><th scope="col">type</th><th scope="col">severity</th><th scope="col">since</th></tr></thead>
        <tbody>{rows.map((a) => (
          <tr key={a.alarm_id}>
            <td><a href={href(['alarm', a.alarm_id])}>{a.name}</a></td>
            <td><span class={`state state-${a.state.replace(/\s/g, '-')}`}>{a.state}</span></td>
            <td>{a.enabled ? 'yes' : 'no (silenced)'}</td><td>{a.type}</td><td>{a.severity}</td><td>{a.state_timestamp}</td>
          </tr>
        ))}</tbody>
      </table>
      <nav class="pager" aria-label="Alarm pages">
        <button type="button" disabled={markers.length === 0} onClick={() => setMarkers(markers.slice(0, -1))}>Previous page</button>
        <button type="button" disabled={rows.length < PAGE} onClick={() => setMarkers([...markers, rows[rows.length - 1].alarm_id])}>Next page</button>
      </nav>
    </div>
  );
}

function describe(c: Change): string {
  try {
    const d = JSON.parse(c.detail) as Record<string, unknown>;
    if (c.type === 'state transition') return `state ${String(d.state)}${d.transition_reason ?? d.state_reason ? ` – ${String(d.transition_reason ?? d.state_reason)}` : ''}`;
    if (c.type === 'creation') return `created (${String(d.state)})`;
    return Object.entries(d).map(([k, v]) => `${k} → ${JSON.stringify(v)}`).join(', ') || c.type;
  } catch {
    return c.detail;
  }
}

export function AlarmPage({ id }: { id: string }) {
  const base = `alarming/v2/alarms/${encodeURIComponent(id)}`;
  const alarm = useLoad((s) => get<Alarm>(base, undefined, s), [base]);
  const history = useLoad((s) => get<Change[]>(`${base}/history`, { limit: 100 }, s), [base, alarm.data?.enabled]);
  const deliveries = useLoad((s) => get<Delivery[]>(`${base}/deliveries`, { limit: 50 }, s), [base]);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const a = alarm.data;
  const setEnabled = async (on: boolean) => {
    if (!a) return;
    setBusy(true);
    setError(undefined);
    try {
      // Aodh's PUT replaces the alarm: send it back whole, with only `enabled` changed.
      await request<Alarm>('PUT', url(base), { ...a, enabled: on });
      alarm.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const rules = a ? Object.entries(a).filter(([k]) => k.endsWith('_rule')) : [];
  return (
    <div>
      <h1>Alarm {a?.name ?? id}</h1>
      <ErrorText error={alarm.error ?? error} />
      {a && (
        <>
          <p class="alarm-state" aria-live="polite">State <strong class={`state state-${a.state}`}>{a.state}</strong> since {a.state_timestamp}{a.state_reason ? ` – ${a.state_reason}` : ''}. <span class="alarm-enabled">{a.enabled ? 'Enabled' : 'Disabled (silenced)'}</span>.</p>
          {a.enabled
            ? <button type="button" disabled={busy} onClick={() => void setEnabled(false)} aria-label={`Silence alarm ${a.name} (disable it)`}>Silence (disable)</button>
            : <button type="button" disabled={busy} onClick={() => void setEnabled(true)} aria-label={`Re-enable alarm ${a.name}`}>Re-enable</button>}
          <Section title="Rule">
            <p>{a.type}, severity {a.severity}{a.description ? ` – ${a.description}` : ''}</p>
            {rules.map(([k, v]) => <Json key={k} value={v} label={k} />)}
          </Section>
        </>
      )}
      <Section title="State timeline">
        <ErrorText error={history.error} />
        <ol class="timeline" aria-label="Alarm history">
          {(history.data ?? []).map((c) => <li key={c.event_id}><time dateTime={c.timestamp}>{c.timestamp}</time> {c.type}: {describe(c)}</li>)}
        </ol>
      </Section>
      <Section title="Notification deliveries">
        <ErrorText error={deliveries.error} />
        <table aria-label="Deliveries">
          <thead><tr><th scope="col">queued</th><th scope="col">transition</th><th scope="col">action</th><th scope="col">status</th><th scope="col">attempts</th><th scope="col">last error</th></tr></thead>
          <tbody>{(deliveries.data ?? []).map((d) => <tr key={d.id}><td>{d.created_at}</td><td>{d.previous ?? '–'} → {d.current}</td><td>{d.action}</td><td>{d.status}</td><td>{d.attempts}</td><td>{d.last_error ?? ''}</td></tr>)}</tbody>
        </table>
      </Section>
    </div>
  );
}
