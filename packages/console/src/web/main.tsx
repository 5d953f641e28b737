// The console's shell: the server's auth mode decides the login form, the hash decides the
// page. Hash routing keeps every URL of the console under /console/, so that a reverse
// proxy needs to know nothing about it and reloading a page never asks the server for it.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, loadCredentials, request, saveCredentials, serverConfig, setUnauthorizedHandler, url, type Credentials, type ServerConfig } from './api.js';
import { ResourcePage, ResourcesPage } from './resources.js';
import { AggregatesPage, MetricsPage } from './metrics.js';
import { AlarmPage, AlarmsPage, StatusPage } from './ops.js';
import { ErrorText, href, useRoute } from './ui.js';
import './style.css';

function Login({ cfg, onDone }: { cfg: ServerConfig; onDone: () => void }) {
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const set = (k: string) => (e: Event) => setFields({ ...fields, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const c: Credentials = cfg.authMode === 'token' ? { mode: 'token', token: (fields.token ?? '').trim() }
      : cfg.authMode === 'basic' ? { mode: 'basic', user: (fields.user ?? '').trim() }
        : cfg.authMode === 'noauth' ? { mode: 'noauth', userId: fields.userId ?? '', projectId: fields.projectId ?? '', roles: fields.roles ?? '' }
          : { mode: 'remoteuser' };
    try {
      // Any authenticated read proves the credentials.
      await request('GET', url('v1/resource/generic', { limit: 1 }), undefined, { credentials: c });
      saveCredentials(c);
      onDone();
    } catch (e) {
      setError(e instanceof Error && 'status' in e && e.status === 401 ? 'These credentials were refused.' : e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <main class="login">
      <h1>Tally console</h1>
      <form onSubmit={submit} aria-label="Log in">
        {cfg.authMode === 'token' && <label>API token <input type="password" name="token" autoComplete="current-password" required onInput={set('token')} /></label>}
        {cfg.authMode === 'basic' && <label>User name <input name="user" autoComplete="username" required onInput={set('user')} /></label>}
        {cfg.authMode === 'noauth' && (
          <>
            <label>User id <input name="userId" onInput={set('userId')} /></label>
            <label>Project id <input name="projectId" onInput={set('projectId')} /></label>
            <label>Roles (comma separated) <input name="roles" onInput={set('roles')} placeholder="admin" /></label>
          </>
        )}
        {cfg.authMode === 'remoteuser' && <p>Your identity is given by the proxy in front of Tally.</p>}
        <button type="submit">Log in</button>
        <ErrorText error={error} />
      </form>
      <p class="hint">{cfg.authMode === 'token' ? 'Create a token with `tally user token create NAME`.' : `Auth mode: ${cfg.authMode}.`}</p>
    </main>
  );
}

const NAV: Array<[string, string]> = [['resources', 'Resources'], ['aggregates', 'Aggregates'], ['status', 'Processing'], ['alarms', 'Alarms']];

function App() {
  const [cfg, setCfg] = useState<ServerConfig>();
  const [cfgError, setCfgError] = useState<string>();
  const [authed, setAuthed] = useState(() => loadCredentials() !== null);
  const route = useRoute();
  useEffect(() => {
    serverConfig().then(setCfg, (e: unknown) => setCfgError(String(e)));
    setUnauthorizedHandler(() => { saveCredentials(null); setAuthed(false); });
    // Saved credentials may have been revoked since: a 401 here shows the login form.
    if (loadCredentials()) void get('v1/resource/generic', { limit: 1 }).catch(() => undefined);
  }, []);
  if (cfgError) return <p role="alert">The console cannot reach Tally: {cfgError}</p>;
  if (!cfg) return <p>Loading…</p>;
  if (!authed) return <Login cfg={cfg} onDone={() => setAuthed(true)} />;
  const [page = 'resources', a, b] = route.path;
  const ids = (route.query.get('ids') ?? '').split(',').filter(Boolean);
  let body;
  switch (page) {
    case 'resource': body = <ResourcePage key={`${a}/${b}`} type={a} id={b} />; break;
    case 'metrics': body = <MetricsPage key={ids.join(',')} ids={ids} />; break;
    case 'aggregates': body = <AggregatesPage ids={ids} />; break;
    case 'status': body = <StatusPage />; break;
    case 'alarms': body = <AlarmsPage enabled={cfg.alarming} />; break;
    case 'alarm': body = <AlarmPage key={a} id={a} />; break;
    default: body = <ResourcesPage saved={route.query.get('s')} />;
  }
  return (
    <>
      <header>
        <nav aria-label="Console">
          <strong>Tally</strong>
          {NAV.map(([p, text]) => <a key={p} href={href([p])} aria-current={page === p ? 'page' : undefined}>{text}</a>)}
          <span class="spacer" />
          <span class="version">v{cfg.version} · {cfg.authMode}</span>
          <button type="button" onClick={() => { saveCredentials(null); setAuthed(false); }}>Log out</button>
        </nav>
      </header>
      <main>{body}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
