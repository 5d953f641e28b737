// /v1/search/metric: measures of some metrics whose value satisfies a predicate
// ({"and": [{">=": 10}, {"<": ["mod"...]}]}), Gnocchi's small value-query language.
import type { FastifyInstance } from 'fastify';
import { parseTimestamp, parseTimespan, readMeasures, type Nanos } from '@tally/timeseries';
import { parseUuid } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { badRequest, HttpError } from '../errors.js';
import { Raw, pyFloat } from '../pyjson.js';
import { granularitySeconds } from '../read.js';
import { formatTimestamp } from '@tally/timeseries';
import { metricTarget } from './metric.js';
import type { Ctx } from '../context.js';

type Num = number | boolean;
type Evaluator = (value: number) => Num;

const BINARY: Record<string, (a: number, b: number) => Num> = {};
const alias = (names: string[], f: (a: number, b: number) => Num): void => names.forEach((n) => (BINARY[n] = f));
alias(['=', '==', 'eq'], (a, b) => a === b);
alias(['<', 'lt'], (a, b) => a < b);
alias(['>', 'gt'], (a, b) => a > b);
alias(['<=', '≤', 'le'], (a, b) => a <= b);
alias(['>=', '≥', 'ge'], (a, b) => a >= b);
alias(['!=', '≠', 'ne'], (a, b) => a !== b);
alias(['%', 'mod'], (a, b) => a - b * Math.floor(a / b)); // Python's modulo sign rule
alias(['+', 'add'], (a, b) => a + b);
alias(['-', 'sub'], (a, b) => a - b);
alias(['*', '×', 'mul'], (a, b) => a * b);
alias(['/', '÷', 'div'], (a, b) => a / b);
alias(['**', '^', 'pow'], (a, b) => a ** b);
const MULTIPLE: Record<string, (xs: Num[]) => boolean> = {
  and: (xs) => xs.every(Boolean), '∧': (xs) => xs.every(Boolean),
  or: (xs) => xs.some(Boolean), '∨': (xs) => xs.some(Boolean),
};

/** Depth bound: a query is a handful of comparisons; deeper trees are refused. */
const MAX_DEPTH = 32;

/** Compiles a value query; throws HttpError(400) with Gnocchi's messages. */
export function compileValueQuery(tree: unknown, depth = 0): Evaluator {
  if (depth > MAX_DEPTH) throw badRequest(`Query is nested too deeply (more than ${MAX_DEPTH} levels)`);
  if (typeof tree === 'number') return () => tree;
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree) || Object.keys(tree).length !== 1) {
    throw badRequest({ cause: 'Invalid input', reason: 'expected a dictionary with one operator', detail: [] });
  }
  const [op, arg] = Object.entries(tree as Record<string, unknown>)[0];
  // Operators are user keys: only the tables' own entries, never inherited members.
  if (Object.hasOwn(MULTIPLE, op)) {
    if (!Array.isArray(arg)) throw badRequest({ cause: 'Invalid input', reason: `expected a list for dictionary value @ data['${op}']`, detail: [op] });
    const parts = arg.map((n) => compileValueQuery(n, depth + 1));
    return (v) => MULTIPLE[op](parts.map((p) => p(v)));
  }
  const f = Object.hasOwn(BINARY, op) ? BINARY[op] : undefined;
  if (!f) throw badRequest(`Unknown operator ${op}`);
  if (typeof arg === 'number') return (v) => f(v, arg);
  if (!Array.isArray(arg) || arg.length !== 2) {
    throw badRequest(`Binary operator ${op} needs 2 arguments, ${Array.isArray(arg) ? arg.length : 0} given`);
  }
  const [l, r] = arg.map((n) => compileValueQuery(n, depth + 1));
  return (v) => f(Number(l(v)), Number(r(v)));
}

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export function searchMetricRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/search/metric', {
    POST: async (req, reply) => {
      checkAcceptJson(req);
      const identity = ctx.identity(req);
      const q = req.query as Record<string, string | string[] | undefined>;
      const ids = list(q.metric_id).map((id) => parseUuid(id)).filter((x): x is string => x !== null);
      const metrics = await ctx.indexer.getMetrics(ids);
      for (const m of metrics) enforce('get metric', identity, metricTarget(m));
      const hasBody = Buffer.isBuffer(req.body) && req.body.length > 0;
      if (!hasBody) throw badRequest('No query specified in body');
      const predicate = compileValueQuery(jsonBody(req));
      const when = (name: 'start' | 'stop'): Nanos | undefined => {
        const v = list(q[name])[0];
        if (v === undefined) return undefined;
        try {
          return parseTimestamp(v);
        } catch {
          throw badRequest(`Invalid value for ${name}`);
        }
      };
      const start = when('start');
      const stop = when('stop');
      const aggregation = list(q.aggregation)[0] ?? 'mean';
      let grans: Nanos[] | undefined;
      try {
        grans = q.granularity === undefined ? undefined : list(q.granularity).map((g) => parseTimespan(g)).sort((a, b) => (a > b ? -1 : 1));
      } catch (e) {
        throw badRequest(e instanceof Error ? e.message : String(e));
      }
      const parts: string[] = [];
      const aps = await ctx.indexer.getArchivePolicies(new Set(metrics.map((m) => m.archivePolicyName)));
      for (const m of metrics) {
        const ap = aps.get(m.archivePolicyName);
        if (!ap) continue;
        const gs = grans ?? ap.definition.map((d) => d.granularity).sort((a, b) => (a > b ? -1 : 1));
        for (const g of gs) {
          if (!ap.aggregationMethods.includes(aggregation) || !ap.definition.some((d) => d.granularity === g)) {
            throw new HttpError(400, {
              cause: 'Aggregation does not exist',
              detail: { metric: m.id, granularity: granularitySeconds(g), aggregation_method: aggregation },
            });
          }
        }
        const rec = await ctx.storage.read(m.id);
        const points: string[] = [];
        for (const g of gs) {
          const r = await readMeasures(ap, rec.state, { aggregation, granularity: g, start, stop }, (k) => ctx.storage.readSplit(m.id, k));
          for (let i = 0; i < r.ts.length; i++) {
            if (predicate(r.values[i])) points.push(`["${formatTimestamp(r.ts[i])}", ${pyFloat(granularitySeconds(g))}, ${pyFloat(r.values[i])}]`);
          }
        }
        parts.push(`${JSON.stringify(m.id)}: [${points.join(', ')}]`);
      }
      return send(reply, 200, new Raw(`{${parts.join(', ')}}`));
    },
  });
}
