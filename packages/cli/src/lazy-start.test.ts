// `tally --help`, `--version` and the client commands load no server package: the command
// definitions stay cheap, and only a server command's action loads what it runs. A module
// load hook (node:module register) in the child records the URL of every ES module loaded;
// the test reads which packages they belong to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAX_RESOURCE_TYPE_COLUMNS } from '@tally/indexer';
import { DEFAULT_MAX_PRICING_BYTES } from '@tally/rating';
import { SPECS } from './config.js';
import { program } from './main.js';
import { TALLY } from './tally-process.js';

/**
 * What a client command and --help may load: the cli itself, the API clients and what they
 * use. Every other workspace package is a server one, and so are the server side's
 * libraries the cli imports itself (Fastify, pino) or that the index loads (Kysely,
 * better-sqlite3).
 */
const CLIENT_SIDE = new Set(['cli', 'client', 'retry']);
const SERVER_THIRD_PARTY = new Set(['fastify', 'pino', 'kysely', 'better-sqlite3']);

interface Loaded {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Workspace packages (folder names) and third-party packages whose modules were loaded. */
  workspace: Set<string>;
  thirdParty: Set<string>;
}

/** Runs ./bin/tally ARGS with the load recorder, to completion. */
function loadedBy(args: string[]): Loaded {
  const dir = mkdtempSync(join(tmpdir(), 'tally-lazy-'));
  try {
    const log = join(dir, 'loaded.txt');
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(hooks, [
      "import { appendFileSync } from 'node:fs';",
      'let log;',
      'export function initialize(data) { log = data.log; }',
      'export async function load(url, context, next) { appendFileSync(log, url + "\\n"); return next(url, context); }',
    ].join('\n'));
    const register = join(dir, 'register.mjs');
    writeFileSync(register, [
      "import { register } from 'node:module';",
      `register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { log: ${JSON.stringify(log)} } });`,
    ].join('\n'));
    writeFileSync(log, '');
    const env: Record<string, string | undefined> = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir };
    for (const k of Object.keys(env)) if (k.startsWith('TALLY_') || k.startsWith('GNOCCHI_')) delete env[k];
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, TALLY, ...args], { encoding: 'utf8', cwd: dir, env, timeout: 60_000 });
    const workspace = new Set<string>();
    const thirdParty = new Set<string>();
    for (const url of readFileSync(log, 'utf8').split('\n')) {
      if (!url.startsWith('file:')) continue;
      const path = new URL(url).pathname;
      const ws = /\/packages\/([^/]+)\/dist\//.exec(path) ?? /\/node_modules\/@tally\/([^/]+)\//.exec(path);
      if (ws) {
        workspace.add(ws[1]);
        continue;
      }
      const tp = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
      if (tp) thirdParty.add(tp[1]);
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, workspace, thirdParty };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertClientSide(l: Loaded, what: string): void {
  const server = [...l.workspace].filter((p) => !CLIENT_SIDE.has(p));
  assert.deepEqual(server, [], `${what} loaded server packages: ${server.join(', ')}`);
  const heavy = [...l.thirdParty].filter((p) => SERVER_THIRD_PARTY.has(p));
  assert.deepEqual(heavy, [], `${what} loaded: ${heavy.join(', ')}`);
}

test('--version, --help and the help of server commands load no server package', () => {
  const version = loadedBy(['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  // The recorder saw the command being built: an empty record would prove nothing.
  assert.ok(version.workspace.has('cli') && version.thirdParty.has('commander'), [...version.workspace, ...version.thirdParty].join(' '));
  assertClientSide(version, '--version');

  for (const args of [['--help'], ['serve', '--help'], ['pricing', 'update', '--help'], ['rating', 'budget', 'set', '--help'], ['user', 'create', '--help']]) {
    const l = loadedBy(args);
    assert.equal(l.status, 0, `${args.join(' ')}: ${l.stderr}`);
    assert.match(l.stdout, /^Usage: tally/, args.join(' '));
    assertClientSide(l, args.join(' '));
  }
});

test('a client command loads its client, and no server package', () => {
  // Nothing listens on port 1: the request fails, and the command exits 3 (unreachable).
  for (const args of [['metric', 'list'], ['status'], ['alarm', 'list']]) {
    const l = loadedBy([...args, '--endpoint', 'http://127.0.0.1:1', '--alarm-endpoint', 'http://127.0.0.1:1', '--timeout', '5']);
    assert.equal(l.status, 3, `${args.join(' ')}: ${l.stderr}`);
    assert.ok(l.workspace.has('client'), `${args.join(' ')} did not load @tally/client: ${[...l.workspace].join(' ')}`);
    assertClientSide(l, args.join(' '));
  }
});

test('a server command still loads the server side when it runs', () => {
  // change-sack-size validates its argument after loading what it runs: exit 2, quickly.
  const l = loadedBy(['change-sack-size', '0']);
  assert.equal(l.status, 2, l.stderr);
  assert.match(l.stderr, /^tally change-sack-size: sacks must be an integer in \[1, 65536\], got 0$/m);
  for (const p of ['rest', 'indexer', 'incoming', 'metricd']) assert.ok(l.workspace.has(p), `${p} not loaded: ${[...l.workspace].join(' ')}`);
  assert.ok(l.thirdParty.has('fastify'), [...l.thirdParty].join(' '));
});

test('the help written out in the command definitions matches the server packages', () => {
  // Constants the help shows are written in the light modules rather than imported.
  const attrs = SPECS.find((s) => s.flag === 'max-resource-type-attributes');
  assert.ok(attrs?.help.endsWith(`(at most ${MAX_RESOURCE_TYPE_COLUMNS})`), attrs?.help);
  const update = program().commands.find((c) => c.name() === 'pricing')?.commands.find((c) => c.name() === 'update');
  const maxBytes = update?.options.find((o) => o.long === '--max-bytes');
  assert.equal(maxBytes?.defaultValue, String(DEFAULT_MAX_PRICING_BYTES));
});
