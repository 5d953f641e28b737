// The creation-curve scenario: metric creation on a fresh server, round after round, with
// the CPU the server's process tree spent on each round. A server compiling as it runs
// (V8 tiers a function up after some thousands of calls) creates metrics at one rate in
// its first seconds and at another once warm; the matrix times 500 creations cold and 500
// warm, and this shows the whole curve between them, for every target alike.
//
// The client is warmed first on a bare HTTP server in this process (answers like a
// metric's creation, nothing stored), so that the first rounds measure the target and not
// the bench's own code being compiled.
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { GnocchiApiError } from '@tally/client';
import type { FigureDef } from './report.js';
import type { Progress } from './progress.js';
import { cpuSeconds, processTree } from './system.js';
import type { Target } from './targets.js';
import { benchClient, createMetrics, type RunResult } from './workload.js';

export interface CreationCurveConfig {
  /** Timed rounds. */
  rounds: number;
  /** Metrics created per round. */
  roundSize: number;
  /** Concurrent clients. */
  concurrency: number;
  /** Pause before each round, in ms: what the previous round left running (a commit, a flush) ends first. */
  pauseMs: number;
  /** Creations the client makes against the bare server before the first round (0: none). */
  clientWarmup: number;
  user: string;
  password: string;
}

/** The policy every round's metrics get: one method at one granularity (its definition is not what is measured). */
const POLICY = { name: 'bench-creation-curve', back_window: 0, aggregation_methods: ['mean'], definition: [{ granularity: '1s', points: 3600 }] };

export function creationCurveFigures(cfg: Pick<CreationCurveConfig, 'rounds' | 'roundSize'>): FigureDef[] {
  const defs: FigureDef[] = [];
  for (let r = 1; r <= cfg.rounds; r++) {
    const span = `creations ${(r - 1) * cfg.roundSize + 1}-${r * cfg.roundSize}`;
    defs.push({ key: `creation_rate_${r}`, label: `round ${r} (${span})`, unit: 'metrics/s', better: 'higher', digits: 1 });
    defs.push({ key: `creation_cpu_${r}`, label: `round ${r}, server CPU per creation`, unit: 'us', better: 'lower', digits: 0 });
  }
  return defs;
}

/** Seconds of CPU the process tree of `pid` has used (processes that exited meanwhile are not counted). */
function treeCpu(pid: number): number {
  let s = 0;
  for (const v of cpuSeconds(processTree(pid)).values()) s += v;
  return s;
}

/** An HTTP server answering every request as Gnocchi answers a metric's creation, storing nothing. */
async function bareServer(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = randomUUID();
      const body = JSON.stringify({ id, archive_policy_name: POLICY.name, creator: 'admin', created_by_user_id: 'admin', created_by_project_id: '', name: null, unit: null, resource_id: null });
      res.writeHead(201, { 'content-type': 'application/json', location: `/v1/metric/${id}`, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Creates cfg.clientWarmup metrics on a bare server, so that the client's own code is compiled before it is timed. */
async function warmClient(cfg: CreationCurveConfig, progress: Progress): Promise<void> {
  const bare = await bareServer();
  const warm = benchClient(`http://127.0.0.1:${(bare.address() as AddressInfo).port}`, cfg.user, cfg.password, cfg.concurrency);
  try {
    await createMetrics(warm, POLICY.name, cfg.clientWarmup, cfg.concurrency, progress, `client warm-up on a bare HTTP server (${cfg.clientWarmup} creations)`);
  } finally {
    warm.close();
    await new Promise((resolve) => bare.close(resolve));
  }
}

export async function runCreationCurve(target: Target, cfg: CreationCurveConfig, progress: Progress): Promise<RunResult> {
  const result: RunResult = { figures: {}, notes: [], details: {}, error: null };
  if (target.pid === null) result.notes.push('the target\'s process is unknown (--pid): no CPU per creation');
  const client = benchClient(target.url, cfg.user, cfg.password, cfg.concurrency);
  try {
    if (cfg.clientWarmup > 0) await warmClient(cfg, progress);
    try {
      await client.archivePolicy.create(POLICY);
    } catch (e) {
      if (!(e instanceof GnocchiApiError && e.status === 409)) throw e;
    }
    for (let r = 1; r <= cfg.rounds; r++) {
      await new Promise((resolve) => setTimeout(resolve, cfg.pauseMs));
      const cpu0 = target.pid === null ? 0 : treeCpu(target.pid);
      result.figures[`creation_rate_${r}`] = (await createMetrics(client, POLICY.name, cfg.roundSize, cfg.concurrency, progress, `round ${r} of ${cfg.rounds}`)).rate;
      result.figures[`creation_cpu_${r}`] = target.pid === null ? null : ((treeCpu(target.pid) - cpu0) * 1e6) / cfg.roundSize;
    }
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    client.close();
  }
  return result;
}
