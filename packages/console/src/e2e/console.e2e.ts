// The console in a real Chromium (Debian's, driven by playwright-core) against a real
// `tally serve` in auth mode token on a temporary data folder: 10 000 resources, two
// metrics of 100 000 processed measures each on a resource with a history, an alarm that
// fires and notifies. One test per page; each checks what the page says (text, numbers of
// points and rows, labels, keyboard use), not pixels. Screenshots go to $TALLY_ARTEFACTS
// (default /tmp/tally-console-artefacts). Run by scripts/console-e2e.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openIndexer } from '@tally/indexer';

const ROOT = new URL('../../../../', import.meta.url).pathname;
const TALLY = join(ROOT, 'bin/tally');
const ARTEFACTS = process.env.TALLY_ARTEFACTS || '/tmp/tally-console-artefacts';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RESOURCES = 10_000;
const POINTS = 100_000;

let dataDir = '';
let base = '';
let token = '';
let serve: ChildProcess | undefined;
let browser: Browser | undefined;
let page: Page;
const seeded = { resource: '', cpu: '', mem: '', alarm: '' };

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const a = s.address();
    s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
  });
});

function tally(...args: string[]): string {
  const r = spawnSync(process.execPath, [TALLY, ...args, '--data-dir', dataDir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tally ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTEFACTS, `${name}.png`), fullPage: true });
}

/**
 * The bulk of the resources, written through the indexer before the server starts: the
 * same rows the API would write, some twenty times faster than 10 000 POSTs.
 */
async function seedResources(): Promise<void> {
  const t0 = Date.now();
  const indexer = await openIndexer(`sqlite://${join(dataDir, 'index.sqlite')}`);
  try {
    for (let i = 0; i < RESOURCES; i++) {
      await indexer.createResource({ id: randomUUID(), originalResourceId: `bulk-${String(i).padStart(5, '0')}`, type: 'generic', creator: 'admin:p1', projectId: 'p1' });
    }
  } finally {
    await indexer.close();
  }
  process.stderr.write(`console-e2e: ${RESOURCES} resources written in ${Date.now() - t0} ms\n`);
}

async function seed(): Promise<void> {
  const t0 = Date.now();
  await api('POST', '/v1/resource_type', { name: 'server', attributes: { host: { type: 'string', required: false } } });
  await api('POST', '/v1/archive_policy', {
    name: 'console', aggregation_methods: ['mean', 'max', 'min'],
    definition: [{ granularity: '1s', points: 120_000 }, { granularity: '60s', points: 5_000 }],
  });
  const r = await api<{ id: string; metrics: Record<string, string> }>('POST', '/v1/resource/server', {
    id: 'web-1', host: 'compute-1', project_id: 'p1',
    metrics: { cpu: { archive_policy_name: 'console' }, mem: { archive_policy_name: 'console' } },
  });
  await api('PATCH', `/v1/resource/server/${r.id}`, { host: 'compute-2' }); // a second revision
  seeded.resource = r.id;
  seeded.cpu = r.metrics.cpu;
  seeded.mem = r.metrics.mem;
  const end = Math.floor(Date.now() / 1000);
  const measures = (f: (i: number) => number) => Array.from({ length: POINTS }, (_, i) => ({ timestamp: end - POINTS + i, value: f(i) }));
  await api('POST', `/v1/metric/${seeded.cpu}/measures`, measures((i) => 50 + 40 * Math.sin(i / 3000)));
  await api('POST', `/v1/metric/${seeded.mem}/measures`, measures((i) => 1000 + (i % 7)));
  for (const m of [seeded.cpu, seeded.mem]) {
    const pts = await api<unknown[]>('GET', `/v1/metric/${m}/measures?refresh=true&granularity=1`);
    assert.equal(pts.length, POINTS);
  }
  const alarm = await api<{ alarm_id: string }>('POST', '/console/alarming/v2/alarms', {
    name: 'cpu-high', type: 'gnocchi_resources_threshold', severity: 'critical', alarm_actions: ['log://'],
    gnocchi_resources_threshold_rule: {
      metric: 'cpu', resource_id: seeded.resource, resource_type: 'server', aggregation_method: 'mean',
      threshold: -1, comparison_operator: 'gt', granularity: 60, evaluation_periods: 1,
    },
  });
  seeded.alarm = alarm.alarm_id;
  process.stderr.write(`console-e2e: seeded web-1 and 2 x ${POINTS} processed measures in ${Date.now() - t0} ms\n`);
}

before(async () => {
  mkdirSync(ARTEFACTS, { recursive: true });
  process.stderr.write(`console-e2e: screenshots in ${ARTEFACTS}\n`);
  // In memory when the machine has a tmpfs: the seeding's many small commits stay cheap.
  dataDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tally-console-e2e.'));
  tally('upgrade');
  await seedResources();
  tally('user', 'create', 'admin', '--project', 'p1', '--role', 'admin');
  token = tally('user', 'token', 'create', 'admin');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  serve = spawn(process.execPath, [TALLY, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port),
    '--alarm-port', '0', '--rating-port', '0', '--auth-mode', 'token', '--evaluation-interval', '1', '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/console/config.json`).then((r) => r.ok, () => false);
    if (ok) break;
    assert.ok(i < 200, 'tally serve did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  await seed();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'Europe/Paris', acceptDownloads: true });
  page.setDefaultTimeout(15_000);
});

after(async () => {
  const t0 = Date.now();
  await browser?.close();
  if (serve && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await new Promise((r) => serve?.once('exit', r));
  }
  process.stderr.write(`console-e2e: browser and server stopped in ${Date.now() - t0} ms\n`);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the bundle is served with its cache rules, config.json tells the auth mode', async () => {
  const index = await fetch(`${base}/console/`);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const html = await index.text();
  const js = /src="(assets\/main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
  assert.ok(js, html);
  const asset = await fetch(`${base}/console/${js}`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
  assert.equal(redirect.headers.get('location'), 'console/');
  assert.deepEqual(await (await fetch(`${base}/console/config.json`)).json(), { authMode: 'token', alarming: true, version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version });
  assert.equal((await fetch(`${base}/console/alarming/v2/alarms`)).status, 401, 'the alarm API still asks for credentials');
});

test('login (token mode) with the keyboard, then the resources page: paginated, searched', async () => {
  await page.goto(`${base}/console/`);
  const field = page.getByLabel('API token');
  await field.fill('not-a-token');
  await field.press('Enter');
  await page.getByText('These credentials were refused.').waitFor();
  await field.fill(token);
  await field.press('Enter');
  const rows = page.locator('table.resources tbody tr');
  const t0 = Date.now();
  await rows.first().waitFor();
  const firstPageMs = Date.now() - t0;
  assert.equal(await rows.count(), 20, 'one page of 20, not the 10 001 resources');
  // Printed, not asserted: a time limit in a test fails on a loaded machine, not on a slow page.
  process.stderr.write(`console-e2e: first resources page shown in ${firstPageMs} ms\n`);
  const firstId = await rows.first().locator('td').first().textContent();
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('page 2').waitFor();
  await page.waitForFunction((id) => document.querySelector('table.resources tbody td')?.textContent !== id, firstId);
  assert.equal(await rows.count(), 20);
  await shot('01-resources');

  // The search helper: type server, host like 'compute%'.
  await page.getByLabel('Resource type').selectOption('server');
  await page.getByRole('button', { name: 'Add a condition' }).click();
  await page.getByLabel('Attribute of condition 1').selectOption('host');
  await page.getByLabel('Operator of condition 1').selectOption('like');
  await page.getByLabel('Value of condition 1').fill('compute%');
  await page.locator('.preview code').filter({ hasText: "host like 'compute%'" }).waitFor();
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('table.resources tbody tr').length === 1);
  assert.match(await rows.first().textContent() ?? '', /web-1/);
  await shot('02-search');
  await rows.first().locator('a').click();
});

test('one resource: attributes, metrics, its history as a timeline', async () => {
  await page.getByRole('heading', { name: `Resource ${seeded.resource}` }).waitFor();
  const attrs = page.getByRole('table', { name: 'Attributes' });
  assert.match(await attrs.textContent() ?? '', /compute-2/);
  const revisions = page.getByRole('list', { name: 'Revisions' }).locator(':scope > li');
  await page.waitForFunction(() => document.querySelectorAll('ol.timeline > li').length === 2);
  assert.match(await revisions.nth(1).textContent() ?? '', /host: "compute-1" → "compute-2"/);
  assert.ok(await page.getByLabel('Overlay cpu').isVisible());
  await shot('03-resource');
  // Back returns to the search as it was.
  await page.goBack();
  await page.waitForFunction(() => document.querySelectorAll('table.resources tbody tr').length === 1);
  assert.equal(await page.getByLabel('Value of condition 1').inputValue(), 'compute%');
  await page.goForward();
  await page.getByRole('heading', { name: `Resource ${seeded.resource}` }).waitFor();
  await page.getByRole('link', { name: 'cpu', exact: true }).click();
});

const points = (): Promise<number> => page.locator('.chart [role=img]').getAttribute('data-points').then(Number);
const shown = async (): Promise<[number, number]> => {
  const el = page.locator('.shown-range');
  return [Number(await el.getAttribute('data-min')), Number(await el.getAttribute('data-max'))];
};

test('a metric: chart, zoom by dragging, keyboard reset, granularity, time zone, table, CSV', async () => {
  await page.locator('.last-query').waitFor();
  // The finest granularity first: 100 000 points drawn from typed arrays.
  await page.waitForFunction((n) => document.querySelector('.chart [role=img]')?.getAttribute('data-points') === String(n), POINTS);
  assert.match(await page.locator('.last-query').textContent() ?? '', /granularity=1(&|$)/);
  const label = await page.locator('.chart [role=img]').getAttribute('aria-label');
  assert.match(label ?? '', /100000 points/);
  const full = await shown();
  await shot('04-metric');

  const over = page.locator('.chart .u-over');
  const box = await over.boundingBox();
  assert.ok(box);
  const t0 = Date.now();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction((min) => Number(document.querySelector('.shown-range')?.getAttribute('data-min')) > min, full[0]);
  process.stderr.write(`console-e2e: zoom over ${POINTS} points redrawn in ${Date.now() - t0} ms\n`);
  const zoomed = await shown();
  assert.ok(zoomed[0] > full[0] && zoomed[1] < full[1], `zoomed ${zoomed} within ${full}`);
  assert.ok(zoomed[1] - zoomed[0] < (full[1] - full[0]) * 0.5);
  await shot('05-zoomed');

  // Keyboard: from "Pan right", Tab reaches "Reset zoom"; Enter resets.
  await page.getByRole('button', { name: 'Pan right' }).focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Reset zoom');
  await page.keyboard.press('Enter');
  await page.waitForFunction((min) => Number(document.querySelector('.shown-range')?.getAttribute('data-min')) === min, full[0]);

  await page.getByLabel('Granularity').selectOption('60');
  await page.locator('.last-query').filter({ hasText: 'granularity=60' }).waitFor();
  await page.waitForFunction(() => Number(document.querySelector('.chart [role=img]')?.getAttribute('data-points')) < 2000);
  const perMinute = await points();
  assert.ok(perMinute >= 1666 && perMinute <= 1668, `${perMinute} points per minute over ${POINTS} s`);

  // The table is the chart's textual alternative: a page of 100 rows, times in the zone.
  const table = page.getByRole('table', { name: 'Values' });
  assert.equal(await table.locator('tbody tr').count(), 100);
  assert.match(await table.locator('thead').textContent() ?? '', /Europe\/Paris/);
  const parisFirst = await table.locator('tbody tr').first().locator('td').first().textContent();
  const zone = page.getByLabel('Time zone');
  await zone.fill('Asia/Tokyo');
  await zone.press('Enter');
  await table.locator('thead').filter({ hasText: 'Asia/Tokyo' }).waitFor();
  const tokyoFirst = await table.locator('tbody tr').first().locator('td').first().textContent();
  const hours = (Date.parse(`${tokyoFirst!.replace(' ', 'T')}Z`) - Date.parse(`${parisFirst!.replace(' ', 'T')}Z`)) / 3_600_000;
  assert.ok(hours === 8 || hours === 7, `Tokyo is 7 or 8 hours ahead of Paris, got ${hours}`);

  // Calendar resampling in the chosen zone: months start at Tokyo's midnight.
  await page.getByLabel('Calendar resampling').selectOption('M');
  await page.locator('.last-query').filter({ hasText: 'resample=M' }).waitFor();
  assert.match(await page.locator('.last-query').textContent() ?? '', /timezone=Asia%2FTokyo/);
  await page.waitForFunction(() => Number(document.querySelector('.chart [role=img]')?.getAttribute('data-points')) <= 2);
  const monthStart = await table.locator('tbody tr').first().locator('td').first().textContent();
  assert.match(monthStart ?? '', /^\d{4}-\d\d-01 00:00:00$/);
  await shot('06-resampled');
  await page.getByLabel('Calendar resampling').selectOption('');
  await page.locator('.last-query').filter({ hasNotText: 'resample=' }).waitFor();

  // A time range typed as text narrows the request.
  await page.getByLabel('From').fill('now-2h');
  await page.getByLabel('From').press('Enter');
  await page.locator('.last-query').filter({ hasText: 'start=' }).waitFor();
  await page.waitForFunction(() => Number(document.querySelector('.chart [role=img]')?.getAttribute('data-points')) <= 121);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Download the \d+ rows as CSV/ }).click()]);
  const csv = readFileSync(await download.path(), 'utf8').trimEnd().split('\r\n');
  assert.equal(csv[0], 'timestamp,cpu');
  assert.equal(csv.length - 1, await points());
  assert.match(csv[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00,[\d.]+$/);
  await shot('07-range-csv');
});

test('two metrics overlaid', async () => {
  const t0 = Date.now();
  await page.goto(`${base}/console/#/metrics?ids=${seeded.cpu},${seeded.mem}`);
  await page.waitForFunction((n) => document.querySelector('.chart [role=img]')?.getAttribute('data-points') === String(n), POINTS);
  process.stderr.write(`console-e2e: 2 x ${POINTS} points fetched, parsed and drawn in ${Date.now() - t0} ms\n`);
  await page.getByLabel('Granularity').selectOption('60');
  await page.waitForFunction(() => Number(document.querySelector('.chart [role=img]')?.getAttribute('data-points')) > 1000);
  const head = await page.getByRole('table', { name: 'Values' }).locator('thead').textContent();
  assert.match(head ?? '', /cpu.*mem/);
  await shot('08-overlay');
});

test('aggregates: build a query over two metrics and chart its result', async () => {
  await page.goto(`${base}/console/#/aggregates?ids=${seeded.cpu},${seeded.mem}`);
  await page.getByLabel('Across metrics').selectOption('max');
  await page.getByLabel('Granularity (seconds)').fill('60');
  const expected = JSON.stringify(['aggregate', 'max', ['metric', [seeded.cpu, 'mean'], [seeded.mem, 'mean']]]);
  assert.equal(await page.locator('code.operations').textContent(), expected);
  await page.getByRole('button', { name: 'Run' }).click();
  await page.locator('.aggregate-summary').waitFor();
  const direct = await api<{ measures: { aggregated: Array<[string, number, number]> } }>('POST', '/v1/aggregates?granularity=60&needed_overlap=100',
    { operations: JSON.parse(expected) as unknown });
  const n = direct.measures.aggregated.length;
  assert.equal(await page.locator('.aggregate-summary').textContent(), `1 series, ${n} points at granularity 60`);
  assert.equal(await page.locator('.chart [role=img]').getAttribute('data-points'), String(n));
  // max(cpu, mem) is mem's values, about 1000.
  const firstValue = Number(await page.getByRole('table', { name: 'Values' }).locator('tbody tr').first().locator('td').nth(1).textContent());
  assert.equal(firstValue, direct.measures.aggregated[0][2]);
  await shot('09-aggregates');

  // Over resources found by a search, grouped.
  await page.getByLabel('the metrics of resources found by a search').check();
  await page.getByLabel('Resource type').fill('server');
  await page.getByLabel("Search (Gnocchi's search language or JSON)").fill("host = 'compute-2'");
  await page.getByLabel('Metric name(s)').fill('cpu');
  await page.getByLabel('Group by (attributes, comma separated)').fill('host');
  await page.getByRole('button', { name: 'Run' }).click();
  await page.getByRole('table', { name: 'Values' }).locator('thead', { hasText: 'host=compute-2' }).waitFor();
  assert.match(await page.locator('.aggregate-summary').textContent() ?? '', /^1 series, \d+ points/);
  await shot('10-aggregates-grouped');
});

test('processing: backlog polled over time, archive policies and rules', async () => {
  await page.goto(`${base}/console/#/status`);
  await page.waitForFunction(() => /\((\d+) samples\)/.exec(document.querySelector('.backlog')?.textContent ?? '')?.[1] !== undefined
    && Number(/\((\d+) samples\)/.exec(document.querySelector('.backlog')?.textContent ?? '')?.[1]) >= 2, undefined, { timeout: 10_000 });
  const policies = page.getByRole('table', { name: 'Archive policies' });
  await policies.locator('tr', { hasText: 'console' }).waitFor();
  assert.match(await page.getByRole('table', { name: 'Archive policy rules' }).textContent() ?? '', /default/);
  await shot('11-status');
});

test('alarms: list with states, one alarm, its timeline and deliveries, silence and re-enable', async () => {
  await page.goto(`${base}/console/#/alarms`);
  const row = page.getByRole('table', { name: 'Alarms' }).locator('tbody tr', { hasText: 'cpu-high' });
  await row.waitFor();
  assert.match(await row.textContent() ?? '', /(insufficient data|ok|alarm)/);
  await row.getByRole('link').click();
  await page.getByRole('heading', { name: 'Alarm cpu-high' }).waitFor();
  assert.match(await page.getByLabel('gnocchi_resources_threshold_rule').textContent() ?? '', /"threshold": -1/);
  // Evaluated every second: cpu's mean is above -1, the alarm fires and log:// is notified.
  for (let i = 0; i < 30 && !/state alarm/.test(await page.locator('ol.timeline').textContent() ?? ''); i++) {
    await page.waitForTimeout(500);
    await page.reload();
    await page.getByRole('heading', { name: 'Alarm cpu-high' }).waitFor();
    await page.locator('ol.timeline li').first().waitFor();
  }
  assert.match(await page.locator('ol.timeline').textContent() ?? '', /state alarm/);
  await page.getByRole('table', { name: 'Deliveries' }).locator('tbody tr').first().waitFor();
  assert.match(await page.getByRole('table', { name: 'Deliveries' }).locator('tbody').textContent() ?? '', /log:\/\//);
  await shot('12-alarm');

  await page.getByRole('button', { name: 'Silence alarm cpu-high (disable it)' }).click();
  await page.locator('.alarm-enabled', { hasText: 'Disabled (silenced)' }).waitFor();
  assert.equal((await api<{ enabled: boolean }>('GET', `/console/alarming/v2/alarms/${seeded.alarm}`)).enabled, false);
  await page.locator('ol.timeline li', { hasText: 'enabled → false' }).waitFor();
  await shot('13-alarm-silenced');
  // Keyboard: the re-enable button is focusable and Enter presses it.
  await page.getByRole('button', { name: 'Re-enable alarm cpu-high' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('.alarm-enabled', { hasText: 'Enabled' }).waitFor();
  assert.equal((await api<{ enabled: boolean }>('GET', `/console/alarming/v2/alarms/${seeded.alarm}`)).enabled, true);
});

test('every control has an accessible name', async () => {
  for (const hash of ['#/resources', `#/metrics?ids=${seeded.cpu}`, '#/aggregates', '#/status', `#/alarm/${seeded.alarm}`]) {
    await page.goto(`${base}/console/${hash}`);
    await page.locator('main h1').waitFor();
    await page.waitForTimeout(300);
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('main button, main input, main select, main a[href]')]
      .filter((el) => {
        const e = el as HTMLInputElement;
        const name = e.getAttribute('aria-label') || (e.labels && e.labels.length ? e.labels[0].textContent : '') || (e.tagName !== 'INPUT' && e.tagName !== 'SELECT' ? e.textContent : '');
        return !name || !name.trim();
      })
      .map((el) => el.outerHTML.slice(0, 120)));
    assert.deepEqual(unnamed, [], hash);
  }
});

test('behind a reverse proxy that publishes Tally under a path prefix', async (t) => {
  // A minimal proxy: /tally/... on its port is Tally's /... (what a proxy_pass with a prefix does).
  const target = new URL(base);
  const proxy = createHttpServer((req, res) => {
    if (!req.url?.startsWith('/tally/')) {
      res.writeHead(404).end();
      return;
    }
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url.slice('/tally'.length), headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const address = proxy.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const context = await browser!.newContext();
  t.after(async () => { await context.close(); await new Promise((r) => proxy.close(r)); });
  const p = await context.newPage();
  p.setDefaultTimeout(15_000);
  await p.goto(`http://127.0.0.1:${port}/tally/console`);
  assert.equal(new URL(p.url()).pathname, '/tally/console/');
  await p.getByLabel('API token').fill(token);
  await p.getByLabel('API token').press('Enter');
  await p.locator('table.resources tbody tr').first().waitFor();
  await p.goto(`http://127.0.0.1:${port}/tally/console/#/alarms`);
  await p.getByRole('table', { name: 'Alarms' }).locator('tbody tr', { hasText: 'cpu-high' }).waitFor();
  await p.screenshot({ path: join(ARTEFACTS, '14-behind-proxy.png') });
});

test('tally api in basic mode: the login asks for a user name, alarms say where they are served', async (t) => {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tally-console-basic.'));
  const port = await freePort();
  const api = spawn(process.execPath, [TALLY, 'api', '--data-dir', dir, '--host', '127.0.0.1', '--port', String(port), '--auth-mode', 'basic', '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const context = await browser!.newContext();
  t.after(async () => {
    await context.close();
    api.kill('SIGTERM');
    await new Promise((r) => api.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; !(await fetch(`http://127.0.0.1:${port}/console/config.json`).then((r) => r.ok, () => false)); i++) {
    assert.ok(i < 200, 'tally api did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const p = await context.newPage();
  p.setDefaultTimeout(15_000);
  await p.goto(`http://127.0.0.1:${port}/console/`);
  assert.equal(await p.getByLabel('API token').count(), 0);
  await p.getByLabel('User name').fill('admin');
  await p.getByLabel('User name').press('Enter');
  await p.getByRole('heading', { name: 'Resources' }).waitFor();
  await p.getByRole('link', { name: 'Alarms' }).click();
  await p.getByText('This API process serves no alarm API').waitFor();
  await p.getByRole('link', { name: 'Processing' }).click();
  await p.getByRole('table', { name: 'Archive policies' }).locator('tr', { hasText: 'medium' }).waitFor();
  await p.screenshot({ path: join(ARTEFACTS, '15-basic-mode-api.png') });
});
