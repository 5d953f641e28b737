// Resources: a paginated search (Gnocchi's limit/marker, never the whole list), one
// resource with its attributes and metrics, and its revisions as a timeline.
import { useEffect, useState } from 'preact/hooks';
import { get, request, url } from './api.js';
import { ErrorText, Json, Section, href, useLoad } from './ui.js';
import { GENERIC_ATTRIBUTES, OPERATORS, SearchInputError, buildFilter, filterToString, type AttributeType, type Condition, type Filter, type Operator } from '../search.js';

interface ResourceType { name: string; attributes: Record<string, { type: string }> }
export interface Resource { id: string; type: string; original_resource_id?: string; project_id?: string | null; user_id?: string | null; started_at?: string; ended_at?: string | null; revision_start?: string; revision_end?: string | null; metrics?: Record<string, string>; [k: string]: unknown }

const PAGE_SIZE = 20;

function attributeType(t: string): AttributeType {
  return t === 'number' || t === 'bool' || t === 'uuid' || t === 'datetime' ? t : 'string';
}

/** A search as the page's URL keeps it, so that Back from a resource returns to the same page of results. */
interface SearchState { type: string; conditions: Condition[]; join: 'and' | 'or'; filterText: string; applied: { filter?: Filter; text: string }; markers: string[] }

function savedSearch(text: string | null): SearchState | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as SearchState;
  } catch {
    return null;
  }
}

export function ResourcesPage({ saved }: { saved: string | null }) {
  const initial = savedSearch(saved);
  const types = useLoad((s) => get<ResourceType[]>('v1/resource_type', undefined, s), []);
  const [type, setType] = useState(initial?.type ?? 'generic');
  const [conditions, setConditions] = useState<Condition[]>(initial?.conditions ?? []);
  const [join, setJoin] = useState<'and' | 'or'>(initial?.join ?? 'and');
  const [filterText, setFilterText] = useState(initial?.filterText ?? '');
  const [applied, setApplied] = useState<{ filter?: Filter; text: string }>(initial?.applied ?? { text: '' });
  const [markers, setMarkers] = useState<string[]>(initial?.markers ?? []);
  const [inputError, setInputError] = useState<string>();
  useEffect(() => {
    const state: SearchState = { type, conditions, join, filterText, applied, markers };
    history.replaceState(null, '', href(['resources'], { s: JSON.stringify(state) }));
  }, [type, conditions, join, filterText, applied, markers]);

  const attrs = [...GENERIC_ATTRIBUTES, ...Object.entries(types.data?.find((t) => t.name === type)?.attributes ?? {}).map(([name, a]) => ({ name, type: attributeType(a.type) }))];
  const marker = markers[markers.length - 1];
  const list = useLoad((signal) => {
    const q = { limit: PAGE_SIZE, marker, filter: applied.text || undefined };
    return request<Resource[]>('POST', url(`v1/search/resource/${encodeURIComponent(type)}`, q), applied.text ? undefined : (applied.filter ?? {}), { signal });
  }, [type, applied, marker]);

  let preview: string | null = null;
  let previewError: string | undefined;
  try {
    const f = buildFilter(conditions, join);
    preview = f ? filterToString(f) : '';
  } catch (e) {
    previewError = e instanceof SearchInputError ? e.message : String(e);
  }
  const search = (ev: Event) => {
    ev.preventDefault();
    try {
      setInputError(undefined);
      setApplied(filterText.trim() ? { text: filterText.trim() } : { filter: buildFilter(conditions, join), text: '' });
      setMarkers([]);
    } catch (e) {
      setInputError(e instanceof Error ? e.message : String(e));
    }
  };
  const update = (i: number, patch: Partial<Condition>) => setConditions(conditions.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  const rows = list.data ?? [];
  return (
    <div>
      <h1>Resources</h1>
      <form class="search" onSubmit={search} aria-label="Search resources">
        <label>Resource type{' '}
          <select value={type} onChange={(e) => { setType(e.currentTarget.value); setMarkers([]); setConditions([]); }}>
            {(types.data ?? [{ name: 'generic', attributes: {} }]).map((t) => <option key={t.name} value={t.name}>{t.name}</option>)}
          </select>
        </label>
        <fieldset>
          <legend>Conditions</legend>
          {conditions.map((c, i) => (
            <div class="condition" key={i}>
              <select aria-label={`Attribute of condition ${i + 1}`} value={c.attribute} onChange={(e) => update(i, { attribute: e.currentTarget.value, type: attrs.find((a) => a.name === e.currentTarget.value)?.type ?? 'string' })}>
                {attrs.map((a) => <option key={a.name} value={a.name}>{a.name}</option>)}
              </select>
              <select aria-label={`Operator of condition ${i + 1}`} value={c.op} onChange={(e) => update(i, { op: e.currentTarget.value as Operator })}>
                {OPERATORS.map((o) => <option key={o} value={o}>{o}</option>)}
              </select>
              <input aria-label={`Value of condition ${i + 1}`} value={c.value} placeholder={c.op === 'in' ? 'a, b, c' : c.op === 'like' ? 'web%' : 'value (null for none)'} onInput={(e) => update(i, { value: e.currentTarget.value })} />
              <button type="button" aria-label={`Remove condition ${i + 1}`} onClick={() => setConditions(conditions.filter((_, j) => j !== i))}>✕</button>
            </div>
          ))}
          <button type="button" onClick={() => setConditions([...conditions, { attribute: attrs[0].name, op: '=', value: '', type: attrs[0].type }])}>Add a condition</button>
          <label>Join conditions with{' '}
            <select value={join} onChange={(e) => setJoin(e.currentTarget.value as 'and' | 'or')}><option value="and">and</option><option value="or">or</option></select>
          </label>
          <p class="preview" aria-live="polite">{previewError ? <span class="error">{previewError}</span> : preview ? <>Gnocchi filter: <code>{preview}</code></> : preview === null ? 'This search can only be sent as JSON.' : 'No condition: every resource.'}</p>
        </fieldset>
        <label>Or a filter in Gnocchi's search language{' '}
          <input name="filter" value={filterText} onInput={(e) => setFilterText(e.currentTarget.value)} placeholder="host = 'compute-1' and started_at > '2026-01-01'" size={50} />
        </label>
        <button type="submit">Search</button>
        <ErrorText error={inputError} />
      </form>
      <ErrorText error={list.error} />
      <table class="resources" aria-label="Resources" aria-busy={list.loading}>
        <thead><tr><th scope="col">id</th><th scope="col">original id</th><th scope="col">type</th><th scope="col">project</th><th scope="col">started</th><th scope="col">metrics</th></tr></thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td><a href={href(['resource', r.type, r.id])}>{r.id}</a></td>
              <td>{r.original_resource_id}</td><td>{r.type}</td><td>{r.project_id ?? ''}</td><td>{r.started_at}</td>
              <td>{Object.keys(r.metrics ?? {}).length}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav class="pager" aria-label="Resource pages">
        <button type="button" disabled={markers.length === 0} onClick={() => setMarkers(markers.slice(0, -1))}>Previous page</button>
        <span>page {markers.length + 1}</span>
        <button type="button" disabled={rows.length < PAGE_SIZE} onClick={() => setMarkers([...markers, rows[rows.length - 1].id])}>Next page</button>
      </nav>
    </div>
  );
}

/** What changed from one revision to the next (the timeline's entries). */
function changes(prev: Resource | undefined, cur: Resource): string[] {
  if (!prev) return ['created'];
  const skip = new Set(['revision_start', 'revision_end', 'metrics']);
  const out: string[] = [];
  for (const k of new Set([...Object.keys(prev), ...Object.keys(cur)])) {
    if (skip.has(k)) continue;
    if (JSON.stringify(prev[k]) !== JSON.stringify(cur[k])) out.push(`${k}: ${JSON.stringify(prev[k])} → ${JSON.stringify(cur[k])}`);
  }
  return out.length ? out : ['no attribute changed'];
}

export function ResourcePage({ type, id }: { type: string; id: string }) {
  const base = `v1/resource/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
  const res = useLoad((s) => get<Resource>(base, undefined, s), [base]);
  const history = useLoad((s) => get<Resource[]>(`${base}/history`, { limit: 200, sort: 'revision_start:asc' }, s), [base]);
  const [picked, setPicked] = useState<string[]>([]);
  const r = res.data;
  return (
    <div>
      <h1>Resource {id}</h1>
      <ErrorText error={res.error} />
      {r && (
        <>
          <Section title="Attributes">
            <table class="attributes" aria-label="Attributes">
              <tbody>{Object.entries(r).filter(([k]) => k !== 'metrics').map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td>{typeof v === 'string' ? v : JSON.stringify(v)}</td></tr>)}</tbody>
            </table>
          </Section>
          <Section title="Metrics">
            <ul class="metrics">
              {Object.entries(r.metrics ?? {}).sort().map(([name, mid]) => (
                <li key={mid}>
                  <input type="checkbox" id={`pick-${mid}`} checked={picked.includes(mid)} onChange={(e) => setPicked(e.currentTarget.checked ? [...picked, mid] : picked.filter((p) => p !== mid))} />
                  <label for={`pick-${mid}`}>Overlay {name}</label>{' '}
                  <a href={href(['metrics'], { ids: mid })}>{name}</a> <code>{mid}</code>
                </li>
              ))}
            </ul>
            <a class="button" href={href(['metrics'], { ids: picked.join(',') })} aria-disabled={picked.length === 0}>Chart the {picked.length} selected together</a>
          </Section>
        </>
      )}
      <Section title="History">
        <ErrorText error={history.error} />
        <ol class="timeline" aria-label="Revisions">
          {(history.data ?? []).map((rev, i, all) => (
            <li key={`${rev.revision_start}-${i}`}>
              <time dateTime={rev.revision_start}>{rev.revision_start}</time>{rev.revision_end ? <> – <time dateTime={rev.revision_end}>{rev.revision_end}</time></> : ' – now'}
              <ul>{changes(all[i - 1], rev).map((c) => <li key={c}>{c}</li>)}</ul>
            </li>
          ))}
        </ol>
        {history.data && history.data.length === 200 && <p>The 200 oldest revisions are shown.</p>}
      </Section>
      {r && <details><summary>JSON</summary><Json value={r} label="Resource as JSON" /></details>}
    </div>
  );
}
