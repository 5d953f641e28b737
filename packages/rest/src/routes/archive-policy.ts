// /v1/archive_policy and /v1/archive_policy_rule.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  parseTimespan, formatTimespan, makeArchivePolicyItem, validateDefinition, resolveAggregationMethods,
  checkDefinitionUpdate, validateArchivePolicy, DEFAULT_AGGREGATION_METHODS, validateGlob, InvalidPatternError,
  type ArchivePolicy, type ArchivePolicyItem, type ArchivePolicyLimits,
} from '@tally/timeseries';
import { NoSuchArchivePolicy } from '@tally/indexer';
import { route, send, checkAcceptJson, jsonBody } from '../http.js';
import { enforce } from '../auth.js';
import { badRequest, HttpError } from '../errors.js';
import { object, list, req as required, opt, str, intRange, fromParser, validate, Invalid, type Validator } from '../schema.js';
import type { Ctx } from '../context.js';

const timespan = fromParser((v) => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Invalid('expected a timespan');
  return parseTimespan(v);
});

const definitionItem = object({ granularity: opt(timespan), points: opt(intRange({ min: 1 })), timespan: opt(timespan) });
const definition = list(definitionItem, { min: 1 });

const policySchema = object({
  name: required(str),
  back_window: opt(intRange({ min: 0 })),
  aggregation_methods: opt(list(str)),
  definition: required(definition),
});

/** Builds definition items, reporting the engine's consistency and bound errors as a plain 400. */
function buildDefinition(items: { granularity?: bigint; points?: number; timespan?: bigint }[], limits: ArchivePolicyLimits): ArchivePolicyItem[] {
  try {
    const out = items.map((i) => makeArchivePolicyItem(i));
    validateDefinition(out, limits);
    return out;
  } catch (e) {
    throw badRequest(e instanceof Error ? e.message : String(e));
  }
}

export function policyJson(ap: ArchivePolicy): Record<string, unknown> {
  return {
    name: ap.name,
    back_window: ap.backWindow,
    definition: ap.definition.map((d) => ({
      timespan: d.timespan === null ? null : formatTimespan(d.timespan),
      granularity: formatTimespan(d.granularity),
      points: d.points,
    })),
    aggregation_methods: ap.aggregationMethods,
  };
}

async function getPolicy(ctx: Ctx, name: string): Promise<ArchivePolicy> {
  const ap = await ctx.indexer.getArchivePolicy(name);
  if (!ap) throw new HttpError(404, `Archive policy ${name} does not exist`);
  return ap;
}

const param = (req: FastifyRequest, k: string): string => (req.params as Record<string, string>)[k];

function policyRoutes(app: FastifyInstance, ctx: Ctx): void {
  route(app, '/v1/archive_policy', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      enforce('list archive policy', ctx.identity(req));
      return send(reply, 200, (await ctx.indexer.listArchivePolicies()).map(policyJson));
    },
    POST: async (req, reply) => {
      const id = ctx.identity(req);
      enforce('create archive policy', id);
      checkAcceptJson(req);
      const body = validate(policySchema, jsonBody(req));
      let methods: string[];
      try {
        methods = resolveAggregationMethods(body.aggregation_methods, DEFAULT_AGGREGATION_METHODS);
      } catch (e) {
        throw new Invalid(e instanceof Error ? e.message : String(e), ['aggregation_methods'], true).toHttp();
      }
      const ap: ArchivePolicy = {
        name: body.name,
        backWindow: body.back_window ?? 0,
        aggregationMethods: methods,
        definition: buildDefinition(body.definition, ctx.cfg.archivePolicyLimits),
      };
      try {
        validateArchivePolicy(ap, ctx.cfg.archivePolicyLimits);
      } catch (e) {
        throw badRequest(e instanceof Error ? e.message : String(e));
      }
      await ctx.indexer.createArchivePolicy(ap);
      reply.header('location', `${ctx.base(req)}/v1/archive_policy/${encodeURIComponent(ap.name)}`);
      return send(reply, 201, policyJson(ap));
    },
  });
  route(app, '/v1/archive_policy/:name', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      enforce('get archive policy', ctx.identity(req));
      return send(reply, 200, policyJson(await getPolicy(ctx, param(req, 'name'))));
    },
    PATCH: async (req, reply) => {
      enforce('update archive policy', ctx.identity(req));
      checkAcceptJson(req);
      const name = param(req, 'name');
      const body = validate(object({ definition: required(definition) }), jsonBody(req));
      const old = await getPolicy(ctx, name);
      const items = buildDefinition(body.definition, ctx.cfg.archivePolicyLimits);
      try {
        checkDefinitionUpdate(old.definition, items);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw badRequest(msg.startsWith('Archive policy') ? msg : `Archive policy ${name} does not support change: ${msg}`);
      }
      const updated = await ctx.indexer.updateArchivePolicy(name, items);
      return send(reply, 200, policyJson(updated));
    },
    DELETE: async (req, reply) => {
      enforce('delete archive policy', ctx.identity(req));
      const name = param(req, 'name');
      if (!(await ctx.indexer.getArchivePolicy(name))) throw new HttpError(404, `Archive policy ${name} does not exist`);
      await ctx.indexer.deleteArchivePolicy(name);
      return reply.code(204).send();
    },
  });
}

interface RuleBody { name: string; metric_pattern: string; archive_policy_name: string }
const ruleSchema: Validator<RuleBody> = object({
  name: required(str),
  metric_pattern: required(str),
  archive_policy_name: required(str),
});

function ruleRoutes(app: FastifyInstance, ctx: Ctx): void {
  const ruleJson = (r: { name: string; metricPattern: string; archivePolicyName: string }): RuleBody => ({
    name: r.name, metric_pattern: r.metricPattern, archive_policy_name: r.archivePolicyName,
  });
  route(app, '/v1/archive_policy_rule', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      enforce('list archive policy rule', ctx.identity(req));
      return send(reply, 200, (await ctx.indexer.listArchivePolicyRules()).map(ruleJson));
    },
    POST: async (req, reply) => {
      enforce('create archive policy rule', ctx.identity(req));
      checkAcceptJson(req);
      const body = validate(ruleSchema, jsonBody(req));
      try {
        validateGlob(body.metric_pattern);
      } catch (e) {
        // Worded as the schema's other refusals of a field.
        if (e instanceof InvalidPatternError) throw new Invalid(e.reason, ['metric_pattern'], true).toHttp();
        throw e;
      }
      let rule;
      try {
        rule = await ctx.indexer.createArchivePolicyRule({
          name: body.name, metricPattern: body.metric_pattern, archivePolicyName: body.archive_policy_name,
        });
      } catch (e) {
        // Here (only) Gnocchi describes the missing policy as {cause, detail}.
        if (e instanceof NoSuchArchivePolicy) throw new HttpError(400, { ...e.jsonify() });
        throw e;
      }
      reply.header('location', `${ctx.base(req)}/v1/archive_policy_rule/${encodeURIComponent(rule.name)}`);
      return send(reply, 201, ruleJson(rule));
    },
  });
  route(app, '/v1/archive_policy_rule/:name', {
    GET: async (req, reply) => {
      checkAcceptJson(req);
      enforce('get archive policy rule', ctx.identity(req));
      const name = param(req, 'name');
      const rule = await ctx.indexer.getArchivePolicyRule(name);
      if (!rule) throw new HttpError(404, `Archive policy rule ${name} does not exist`);
      return send(reply, 200, ruleJson(rule));
    },
    PATCH: async (req, reply) => {
      enforce('update archive policy rule', ctx.identity(req));
      checkAcceptJson(req);
      const body = validate(object({ name: required(str) }), jsonBody(req));
      const rule = await ctx.indexer.renameArchivePolicyRule(param(req, 'name'), body.name);
      return send(reply, 200, ruleJson(rule));
    },
    DELETE: async (req, reply) => {
      enforce('delete archive policy rule', ctx.identity(req));
      await ctx.indexer.deleteArchivePolicyRule(param(req, 'name'));
      return reply.code(204).send();
    },
  });
}

export function archivePolicyRoutes(app: FastifyInstance, ctx: Ctx): void {
  policyRoutes(app, ctx);
  ruleRoutes(app, ctx);
}
