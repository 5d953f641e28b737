// CloudKitty 17's REST API (v1 and v2) as one encapsulated Fastify plugin over the rating
// store: its body parser, identity, 404 and error handler govern its routes only. Mounted
// on a server of its own (buildRatingServer, CloudKitty's port 8889) or beside another API.
// Who may do what follows CloudKitty's default policies: the rating rules and modules are
// the administrator's; a project reads its own costs; the administrator reads everything.
import { Decimal } from 'decimal.js';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  HttpError, authenticate, createHttpServer, installSiblingApiBasics, isDatabaseUnavailable,
  type AuthMode, type TlsFiles, type TokenVerifier,
} from '@tally/rest';
import type { HashmapMapping, HashmapThreshold, MapType, RatedPoint } from '../model.js';
import { resolveMappingCost } from '../pricing/mapping.js';
import type { PriceBook } from '../pricing/pricing.js';
import {
  RatingClientError, RatingConflictError, RatingNotFoundError, type RuleChange, type RuleFilter, type ScopeFilter, type SqlRatingStore,
} from '../store/index.js';
import { CloudKittyError, badRequest, forbidden, notFound } from './errors.js';
import { isoFromUs, jsonText, usFromIso } from './wire.js';

export interface RatingApiOptions {
  store: SqlRatingStore;
  authMode: AuthMode;
  tokens?: TokenVerifier;
  corsAllowedOrigins?: string[];
  /** The currency rated points written through POST /v2/dataframes are stored in. */
  currency?: string;
  log?: FastifyBaseLogger;
  /** The start of the current month and of the next, µs (CloudKitty's default report window). */
  monthWindow?: () => { begin: number; end: number };
  /**
   * The pricing data in force (read at each request, so an update shows at once): a priced
   * mapping's `cost` is shown as its price in force now. Absent, its stored cost is shown.
   */
  prices?: () => PriceBook | null;
}

interface Caller { projectId: string | null; admin: boolean }
type Query = Record<string, string | string[] | undefined>;

function currentMonth(): { begin: number; end: number } {
  const now = new Date();
  return {
    begin: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) * 1000,
    end: Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) * 1000,
  };
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(Buffer.from(jsonText(body)));
}

/**
 * The request's URL without its query, absolute: CloudKitty's v1 answers an update with a
 * redirect there, and keystoneauth (which follows redirects itself) needs a scheme and host.
 */
function pathUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}${req.url.split('?')[0] ?? ''}`;
}

function jsonBody(req: FastifyRequest, v2: boolean): Record<string, unknown> {
  const raw = req.body;
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '';
  let v: unknown = {};
  if (text.trim() !== '') {
    try {
      v = JSON.parse(text) as unknown;
    } catch {
      throw badRequest(v2 ? 'Failed to decode JSON object' : 'Request is not in valid JSON format');
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('Invalid input: expected a JSON object');
  return v as Record<string, unknown>;
}

const one = (q: Query, k: string): string | undefined => (Array.isArray(q[k]) ? (q[k] as string[])[q[k]!.length - 1] : (q[k] as string | undefined));
const many = (q: Query, k: string): string[] => {
  const v = q[k];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

function uuidParam(q: Query, k: string): string | undefined {
  const v = one(q, k);
  if (v === undefined || v === '') return undefined;
  if (!UUID.test(v)) throw badRequest(`Invalid input for field/attribute ${k}. Value: '${v}'. Invalid UUID`);
  return v;
}
function boolParam(q: Query, k: string, dflt: boolean): boolean {
  const v = one(q, k);
  if (v === undefined) return dflt;
  const s = v.toLowerCase();
  if (['true', '1', 'yes', 'y', 'on', 't'].includes(s)) return true;
  if (['false', '0', 'no', 'n', 'off', 'f'].includes(s)) return false;
  throw badRequest(`Invalid input for field/attribute ${k}. Value: '${v}'. Wrong type. Expected 'bool', got 'str'`);
}
function intParam(q: Query, k: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = one(q, k);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw badRequest(`Invalid value for '${k}': ${v}`);
  return Number(v);
}
function timeParam(q: Query, k: string): number | undefined {
  const v = one(q, k);
  if (v === undefined) return undefined;
  const us = usFromIso(v);
  if (us === null) throw badRequest(`Invalid date format for '${k}': ${v}`);
  return us;
}
/** `filters=key:value` repeated, or comma separated (CloudKitty's dict query parameters). */
function filtersParam(q: Query): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const raw of many(q, 'filters')) {
    for (const part of raw.split(',')) {
      const i = part.indexOf(':');
      if (i <= 0 || i === part.length - 1) throw badRequest(`Invalid filter '${part}': expected key:value`);
      (out[part.slice(0, i)] ??= []).push(part.slice(i + 1));
    }
  }
  return out;
}

function str(body: Record<string, unknown>, k: string, required: boolean): string | undefined {
  const v = body[k];
  if (v === undefined || v === null) {
    if (required) throw badRequest(`Invalid input for field/attribute ${k}. Value: 'None'. Mandatory field missing.`);
    return undefined;
  }
  if (typeof v !== 'string') throw badRequest(`Invalid input for field/attribute ${k}. Value: '${JSON.stringify(v)}'. Wrong type. Expected 'str'`);
  return v;
}
function uuidField(body: Record<string, unknown>, k: string): string | null | undefined {
  if (body[k] === null) return null;
  const v = str(body, k, false);
  if (v === undefined) return undefined;
  if (!UUID.test(v)) throw badRequest(`Invalid input for field/attribute ${k}. Value: '${v}'. Invalid UUID`);
  return v;
}
function decimalField(body: Record<string, unknown>, k: string, required: boolean): string | undefined {
  const v = body[k];
  if (v === undefined || v === null) {
    if (required) throw badRequest(`Invalid input for field/attribute ${k}. Value: 'None'. Mandatory field missing.`);
    return undefined;
  }
  if ((typeof v !== 'string' && typeof v !== 'number') || !/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(String(v))) {
    throw badRequest(`Invalid input for field/attribute ${k}. Value: '${String(v)}'. Wrong type. Expected 'Decimal'`);
  }
  return String(v).trim();
}
function mapTypeField(body: Record<string, unknown>): MapType | undefined {
  const v = body.map_type ?? body.type;
  if (v === undefined || v === null) return undefined;
  if (v !== 'flat' && v !== 'rate') throw badRequest(`Invalid input for field/attribute map_type. Value: '${String(v)}'. Value should be one of: flat, rate`);
  return v;
}
const KNOWN = new Set(['mapping_id', 'threshold_id', 'value', 'level', 'cost', 'map_type', 'type', 'service_id', 'field_id', 'group_id', 'tenant_id']);
/** Mappings also take Tally's `pricing_key` (the cost then comes from the pricing data). */
const KNOWN_MAPPING = new Set([...KNOWN, 'pricing_key']);
function onlyKnown(body: Record<string, unknown>, known: Set<string>): void {
  for (const k of Object.keys(body)) if (!known.has(k)) throw badRequest(`Unknown attribute for argument ${'body'}: ${k}`);
}

// CloudKitty names a rule's map_type `type` on the wire (its client shows and sends it so),
// and keeps a threshold's level to 8 places (Numeric(20, 8)), which it shows: a level with
// more places (kept exactly here) is shown whole, so that a client writing back what it read
// does not round it.
function ruleView<T extends HashmapMapping | HashmapThreshold>(r: T): Omit<T, 'map_type'> & { type: MapType } {
  const { map_type, ...rest } = r;
  const level = 'level' in r ? new Decimal(r.level) : null;
  if (level) return { ...rest, level: level.decimalPlaces() <= 8 ? level.toFixed(8) : level.toFixed(), type: map_type };
  return { ...rest, type: map_type };
}

function toCloudKitty(err: unknown): CloudKittyError | null {
  if (err instanceof CloudKittyError) return err;
  if (err instanceof RatingNotFoundError) return new CloudKittyError(404, err.message);
  if (err instanceof RatingConflictError) return new CloudKittyError(409, err.message);
  if (err instanceof RatingClientError) return new CloudKittyError(400, err.message);
  if (err instanceof HttpError) return new CloudKittyError(err.status, err.message);
  const fe = err as { statusCode?: number; code?: string; message?: string };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new CloudKittyError(413, 'Request body is larger than the server accepts.');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new CloudKittyError(fe.statusCode, fe.message ?? 'Bad Request');
  if (isDatabaseUnavailable(err)) return new CloudKittyError(503, `The rating database is unavailable right now: ${fe.message ?? 'unavailable'}`);
  return null;
}

export async function ratingApi(app: FastifyInstance, opts: RatingApiOptions): Promise<void> {
  const { store } = opts;
  if (opts.authMode === 'token' && !opts.tokens) throw new Error('auth mode token needs a token verifier');
  const month = opts.monthWindow ?? currentMonth;
  // CloudKitty's clients see a priced mapping's cost as the price in force now; Tally's
  // `pricing_key` is shown only on the mappings that have one, so others keep CloudKitty's shape.
  // A mapping as CloudKitty's clients read it (ruleView), its cost resolved from pricing data
  // when it names a price.
  const showMapping = (m: HashmapMapping): Record<string, unknown> => {
    const { pricing_key: key, ...rest } = ruleView(m);
    if (key == null) return rest;
    const book = opts.prices?.() ?? null;
    let cost = m.cost;
    if (book !== null) {
      try {
        cost = new Decimal(resolveMappingCost(m, book, Date.now())).toFixed(28);
      } catch {
        // No price in force now: the stored cost is shown; rating reports the missing price.
      }
    }
    return { ...rest, cost, pricing_key: key };
  };
  const currency = opts.currency ?? 'EUR';

  installSiblingApiBasics(app, opts);
  const isV2 = (req: FastifyRequest): boolean => req.url.startsWith('/v2');
  app.setNotFoundHandler(async (req, reply) => send(reply, 404, new CloudKittyError(404, 'The resource could not be found.').body(isV2(req))));
  app.setErrorHandler(async (err, req, reply) => {
    const e = toCloudKitty(err) ?? new CloudKittyError(500, 'Internal Server Error');
    if (e.status >= 500) opts.log?.error({ err, url: req.url, method: req.method }, 'rating API request failed');
    return send(reply, e.status, e.body(isV2(req)));
  });

  const caller = (req: FastifyRequest): Caller => {
    const id = authenticate(opts.authMode, req.headers);
    return { projectId: id.projectId, admin: id.roles.includes('admin') };
  };
  const admin = (req: FastifyRequest): Caller => {
    const c = caller(req);
    if (!c.admin) throw forbidden();
    return c;
  };

  app.get('/', async (req, reply) => {
    const base = `${req.protocol}://${req.headers.host ?? 'localhost'}`;
    return send(reply, 200, {
      versions: [
        { id: 'v1', links: [{ href: `${base}/v1/`, rel: 'self' }], status: 'CURRENT' },
        { id: 'v2', links: [{ href: `${base}/v2`, rel: 'self' }], status: 'EXPERIMENTAL' },
      ],
    });
  });

  // ---- modules (v1 and v2) ----
  const moduleV1 = (m: Awaited<ReturnType<SqlRatingStore['getModule']>>) =>
    ({ module_id: m.module_id, description: m.description, enabled: m.enabled, 'hot-config': m.hot_config, priority: m.priority });
  app.get('/v1/rating/modules', async (req, reply) => {
    admin(req);
    return send(reply, 200, { modules: (await store.listModules()).map(moduleV1) });
  });
  app.get<{ Params: { id: string } }>('/v1/rating/modules/:id', async (req, reply) => {
    admin(req);
    return send(reply, 200, moduleV1(await store.getModule(req.params.id)));
  });
  const moduleChange = (body: Record<string, unknown>): { enabled?: boolean; priority?: number } => {
    const out: { enabled?: boolean; priority?: number } = {};
    if (body.enabled !== undefined && body.enabled !== null) {
      if (typeof body.enabled !== 'boolean') throw badRequest(`Invalid input for field/attribute enabled. Value: '${String(body.enabled)}'. Wrong type. Expected 'bool'`);
      out.enabled = body.enabled;
    }
    if (body.priority !== undefined && body.priority !== null) {
      if (typeof body.priority !== 'number' || !Number.isSafeInteger(body.priority) || body.priority < 1) {
        throw badRequest(`Invalid input for field/attribute priority. Value: '${String(body.priority)}'. Expected an integer >= 1`);
      }
      out.priority = body.priority;
    }
    return out;
  };
  app.put<{ Params: { id: string } }>('/v1/rating/modules/:id', async (req, reply) => {
    admin(req);
    const body = jsonBody(req, false);
    await store.getModule(req.params.id);
    const updated = await store.updateModule(req.params.id, moduleChange(body));
    reply.header('location', pathUrl(req));
    return send(reply, 302, moduleV1(updated));
  });
  const moduleV2 = (m: Awaited<ReturnType<SqlRatingStore['getModule']>>) =>
    ({ module_id: m.module_id, description: m.description, enabled: m.enabled, hot_config: m.hot_config, priority: m.priority });
  app.get('/v2/rating/modules', async (req, reply) => {
    admin(req);
    return send(reply, 200, { modules: (await store.listModules()).map(moduleV2) });
  });
  app.get<{ Params: { id: string } }>('/v2/rating/modules/:id', async (req, reply) => {
    admin(req);
    return send(reply, 200, moduleV2(await store.getModule(req.params.id)));
  });
  app.put<{ Params: { id: string } }>('/v2/rating/modules/:id', async (req, reply) => {
    admin(req);
    const body = jsonBody(req, true);
    await store.getModule(req.params.id);
    await store.updateModule(req.params.id, moduleChange(body));
    return reply.code(204).send();
  });

  // ---- hashmap ----
  const H = '/v1/rating/module_config/hashmap';
  app.get(`${H}/types`, async (req, reply) => {
    admin(req);
    return send(reply, 200, ['flat', 'rate']);
  });
  app.get(`${H}/services`, async (req, reply) => {
    admin(req);
    return send(reply, 200, { services: await store.listServices() });
  });
  app.get<{ Params: { id: string } }>(`${H}/services/:id`, async (req, reply) => {
    admin(req);
    return send(reply, 200, await store.getService(req.params.id));
  });
  const created = (req: FastifyRequest, reply: FastifyReply, id: string, body: unknown): FastifyReply => {
    const base = pathUrl(req);
    reply.header('location', `${base.endsWith('/') ? base : `${base}/`}${id}`);
    return send(reply, 201, body);
  };
  app.post(`${H}/services`, async (req, reply) => {
    admin(req);
    const name = str(jsonBody(req, false), 'name', true) as string;
    const s = await store.createService(name);
    return created(req, reply, s.service_id, s);
  });
  /**
   * DELETE of one rule object, by the id in the path or, as cloudkittyclient sends it, on the
   * collection with the id (and options) in a JSON body.
   */
  const deletion = (collection: string, key: string, remove: (id: string, options: Record<string, unknown>, q: Query) => Promise<void>): void => {
    app.delete<{ Params: { id: string } }>(`${collection}/:id`, async (req, reply) => {
      admin(req);
      await remove(req.params.id, {}, req.query as Query);
      return reply.code(204).send();
    });
    app.delete(collection, async (req, reply) => {
      admin(req);
      const body = jsonBody(req, false);
      const id = uuidField(body, key);
      if (!id) throw badRequest(`Invalid input for field/attribute ${key}. Value: 'None'. Mandatory field missing.`);
      await remove(id, body, req.query as Query);
      return reply.code(204).send();
    });
  };
  deletion(`${H}/services`, 'service_id', (id) => store.deleteService(id));
  app.get(`${H}/fields`, async (req, reply) => {
    admin(req);
    const serviceId = uuidParam(req.query as Query, 'service_id');
    if (!serviceId) throw badRequest('Missing argument: "service_id"');
    await store.getService(serviceId);
    return send(reply, 200, { fields: await store.listFields(serviceId) });
  });
  app.get<{ Params: { id: string } }>(`${H}/fields/:id`, async (req, reply) => {
    admin(req);
    return send(reply, 200, await store.getField(req.params.id));
  });
  app.post(`${H}/fields`, async (req, reply) => {
    admin(req);
    const body = jsonBody(req, false);
    const serviceId = uuidField(body, 'service_id');
    if (!serviceId) throw badRequest("Invalid input for field/attribute service_id. Value: 'None'. Mandatory field missing.");
    const f = await store.createField(serviceId, str(body, 'name', true) as string);
    return created(req, reply, f.field_id, f);
  });
  deletion(`${H}/fields`, 'field_id', (id) => store.deleteField(id));
  app.get(`${H}/groups`, async (req, reply) => {
    admin(req);
    return send(reply, 200, { groups: await store.listGroups() });
  });
  app.get<{ Params: { id: string } }>(`${H}/groups/:id`, async (req, reply) => {
    admin(req);
    return send(reply, 200, await store.getGroup(req.params.id));
  });
  app.post(`${H}/groups`, async (req, reply) => {
    admin(req);
    const g = await store.createGroup(str(jsonBody(req, false), 'name', true) as string);
    return created(req, reply, g.group_id, g);
  });
  deletion(`${H}/groups`, 'group_id', (id, body, q) => {
    if (body.recursive !== undefined && body.recursive !== null && typeof body.recursive !== 'boolean') {
      throw badRequest(`Invalid input for field/attribute recursive. Value: '${JSON.stringify(body.recursive)}'. Wrong type. Expected 'bool'`);
    }
    return store.deleteGroup(id, body.recursive === true || boolParam(q, 'recursive', false));
  });
  // CloudKitty's custom actions: the group is a query parameter (how its client asks).
  app.get(`${H}/groups/mappings`, async (req, reply) => {
    admin(req);
    const groupId = uuidParam(req.query as Query, 'group_id');
    if (!groupId) throw badRequest('Missing argument: "group_id"');
    return send(reply, 200, { mappings: (await store.listMappings({ groupId })).map(ruleView) });
  });
  app.get(`${H}/groups/thresholds`, async (req, reply) => {
    admin(req);
    const groupId = uuidParam(req.query as Query, 'group_id');
    if (!groupId) throw badRequest('Missing argument: "group_id"');
    return send(reply, 200, { thresholds: (await store.listThresholds({ groupId })).map(ruleView) });
  });
  app.get<{ Params: { id: string } }>(`${H}/groups/:id/mappings`, async (req, reply) => {
    admin(req);
    await store.getGroup(req.params.id);
    return send(reply, 200, { mappings: (await store.listMappings({ groupId: req.params.id })).map(showMapping) });
  });
  app.get<{ Params: { id: string } }>(`${H}/groups/:id/thresholds`, async (req, reply) => {
    admin(req);
    await store.getGroup(req.params.id);
    return send(reply, 200, { thresholds: (await store.listThresholds({ groupId: req.params.id })).map(ruleView) });
  });

  const ruleFilter = (q: Query): RuleFilter => {
    const f: RuleFilter = {
      serviceId: uuidParam(q, 'service_id'), fieldId: uuidParam(q, 'field_id'), groupId: uuidParam(q, 'group_id'),
      noGroup: boolParam(q, 'no_group', false),
    };
    if (boolParam(q, 'filter_tenant', false)) f.tenantId = uuidParam(q, 'tenant_id') ?? null;
    return f;
  };
  const ruleChange = (body: Record<string, unknown>, kind: 'mapping' | 'threshold'): RuleChange => {
    onlyKnown(body, kind === 'mapping' ? KNOWN_MAPPING : KNOWN);
    const c: RuleChange = {};
    if (kind === 'mapping' && 'pricing_key' in body) c.pricing_key = str(body, 'pricing_key', false) ?? null;
    if (kind === 'mapping' && 'value' in body) c.value = str(body, 'value', false) ?? null;
    if (kind === 'threshold') c.level = decimalField(body, 'level', false);
    c.cost = decimalField(body, 'cost', false);
    c.map_type = mapTypeField(body);
    c.group_id = uuidField(body, 'group_id');
    if ('tenant_id' in body) c.tenant_id = str(body, 'tenant_id', false) ?? null;
    return c;
  };
  for (const kind of ['mapping', 'threshold'] as const) {
    const path = `${H}/${kind}s`;
    const plural = `${kind}s`;
    app.get(path, async (req, reply) => {
      admin(req);
      const f = ruleFilter(req.query as Query);
      return send(reply, 200, { [plural]: kind === 'mapping' ? (await store.listMappings(f)).map(showMapping) : (await store.listThresholds(f)).map(ruleView) });
    });
    app.get<{ Params: { id: string } }>(`${path}/:id`, async (req, reply) => {
      admin(req);
      return send(reply, 200, kind === 'mapping' ? showMapping(await store.getMapping(req.params.id)) : ruleView(await store.getThreshold(req.params.id)));
    });
    app.get<{ Params: { id: string } }>(`${path}/:id/group`, async (req, reply) => {
      admin(req);
      return send(reply, 200, await store.groupOf(kind, req.params.id));
    });
    app.post(path, async (req, reply) => {
      admin(req);
      const body = jsonBody(req, false);
      onlyKnown(body, kind === 'mapping' ? KNOWN_MAPPING : KNOWN);
      const priced = kind === 'mapping' ? str(body, 'pricing_key', false) : undefined;
      const common = {
        // A priced mapping's stored cost is only shown when no price is in force.
        cost: decimalField(body, 'cost', !priced) ?? '0', map_type: mapTypeField(body), service_id: uuidField(body, 'service_id'),
        field_id: uuidField(body, 'field_id'), group_id: uuidField(body, 'group_id'), tenant_id: str(body, 'tenant_id', false),
      };
      if (kind === 'mapping') {
        const m = await store.createMapping({ ...common, value: str(body, 'value', false), pricing_key: priced ?? null });
        return created(req, reply, m.mapping_id, showMapping(m));
      }
      const t = await store.createThreshold({ ...common, level: decimalField(body, 'level', true) as string });
      return created(req, reply, t.threshold_id, ruleView(t));
    });
    const update = async (req: FastifyRequest, reply: FastifyReply, pathId: string | undefined): Promise<FastifyReply> => {
      admin(req);
      const body = jsonBody(req, false);
      // cloudkittyclient puts to the collection with the rule's id in the body.
      const id = pathId ?? str(body, `${kind}_id`, true) as string;
      const change = ruleChange(body, kind);
      if (kind === 'mapping') await store.updateMapping(id, change);
      else await store.updateThreshold(id, change);
      reply.header('location', pathUrl(req));
      return reply.code(302).send();
    };
    app.put<{ Params: { id: string } }>(`${path}/:id`, async (req, reply) => update(req, reply, req.params.id));
    app.put(path, async (req, reply) => update(req, reply, undefined));
    deletion(path, `${kind}_id`, (id) => (kind === 'mapping' ? store.deleteMapping(id) : store.deleteThreshold(id)));
  }

  // ---- reports (v1) ----
  /** The projects a caller may read the costs of: its own unless administrator. */
  const scoped = (c: Caller, asked: string | undefined): string[] | undefined => {
    if (c.admin) return asked ? [asked] : undefined;
    if (asked && asked !== c.projectId) throw forbidden();
    return [c.projectId ?? ''];
  };
  const window = (q: Query): { beginUs: number; endUs: number } => {
    const m = month();
    return { beginUs: timeParam(q, 'begin') ?? m.begin, endUs: timeParam(q, 'end') ?? m.end };
  };
  app.get('/v1/report/tenants', async (req, reply) => {
    admin(req);
    const rows = await store.summary({ ...window(req.query as Query), types: [], filters: {} }, ['project_id']);
    return send(reply, 200, rows.map((r) => r.groups.project_id).filter((p) => p !== undefined && p !== ''));
  });
  /**
   * The projects a v1 report covers: every one with all_tenants (administrator only), else
   * the one asked for or, as CloudKitty does, the caller's own (an administrator's too).
   */
  const reported = (c: Caller, q: Query): string[] | undefined => {
    if (boolParam(q, 'all_tenants', false)) {
      if (!c.admin) throw forbidden();
      return undefined;
    }
    const target = one(q, 'tenant_id') || c.projectId;
    if (!c.admin && target !== c.projectId) throw forbidden();
    return [target ?? ''];
  };
  app.get('/v1/report/total', async (req, reply) => {
    const c = caller(req);
    const q = req.query as Query;
    const projects = reported(c, q);
    const service = one(q, 'service');
    const rows = await store.summary({ ...window(q), types: service ? [service] : [], filters: projects ? { project_id: projects } : {} }, []);
    return send(reply, 200, rows[0]?.rate ?? new Decimal(0));
  });
  app.get('/v1/report/summary', async (req, reply) => {
    const c = caller(req);
    const q = req.query as Query;
    const projects = reported(c, q);
    const service = one(q, 'service');
    const groupby = (one(q, 'groupby') ?? '').split(',').filter(Boolean).map((g) => (g === 'res_type' ? 'type' : g === 'tenant_id' ? 'project_id' : g));
    const w = window(q);
    const rows = await store.summary({ ...w, types: service ? [service] : [], filters: projects ? { project_id: projects } : {} }, groupby);
    return send(reply, 200, {
      summary: rows.map((r) => ({
        begin: isoFromUs(r.begin), end: isoFromUs(r.end), rate: r.rate,
        tenant_id: r.groups.project_id ?? 'ALL', res_type: r.groups.type ?? 'ALL',
      })),
    });
  });
  app.get('/v1/storage/dataframes', async (req, reply) => {
    const c = caller(req);
    const q = req.query as Query;
    const projects = scoped(c, one(q, 'tenant_id'));
    const type = one(q, 'resource_type');
    const points = await store.rated({ ...window(q), types: type ? [type] : [], filters: projects ? { project_id: projects } : {} });
    const frames = new Map<string, { begin: string; end: string; tenant_id: string; resources: unknown[] }>();
    for (const p of points) {
      const key = `${p.begin_us}/${p.groupby.project_id ?? p.scope_id}`;
      let f = frames.get(key);
      if (!f) frames.set(key, f = { begin: isoFromUs(p.begin_us), end: isoFromUs(p.end_us), tenant_id: p.groupby.project_id ?? p.scope_id, resources: [] });
      f.resources.push({ desc: { ...p.metadata, ...p.groupby }, rating: new Decimal(p.price), service: p.type, volume: new Decimal(p.qty) });
    }
    return send(reply, 200, { dataframes: [...frames.values()] });
  });

  // ---- v2 summary and dataframes ----
  /** Filters a caller may read with: a project's own costs only, unless administrator (null: nothing). */
  const v2Filters = (c: Caller, filters: Record<string, string[]>): Record<string, string[]> | null => {
    if (c.admin) return filters;
    if (c.projectId === null) return null;
    return { ...filters, project_id: [c.projectId] };
  };
  app.get('/v2/summary', async (req, reply) => {
    const c = caller(req);
    const q = req.query as Query;
    const format = one(q, 'response_format') ?? 'table';
    if (format !== 'table' && format !== 'object') throw badRequest(`Invalid response format [${format}]. Valid format are [['table', 'object']].`);
    const offset = intParam(q, 'offset', 0, 0);
    const limit = intParam(q, 'limit', 100, 1, 10_000);
    const w = window(q);
    const groupby = many(q, 'groupby').flatMap((g) => g.split(',')).filter(Boolean);
    const asked = filtersParam(q);
    const filters = v2Filters(c, asked);
    if (!filters) return send(reply, 200, { total: 0, columns: [], results: [] });
    const { type: types = [], ...rest } = filters;
    const rows = await store.summary({ ...w, types, filters: rest }, groupby);
    const results = rows.slice(offset, offset + limit).map((r) => {
      const o: Record<string, unknown> = { begin: isoFromUs(r.begin), end: isoFromUs(r.end), qty: r.qty, rate: r.rate };
      for (const g of groupby) o[g === 'time' ? 'time' : g] = g === 'time' ? isoFromUs(r.begin) : r.groups[g] ?? '';
      return o;
    });
    if (format === 'object') return send(reply, 200, { total: rows.length, results, format });
    return send(reply, 200, {
      total: rows.length, columns: results[0] ? Object.keys(results[0]) : [], results: results.map((r) => Object.values(r)), format,
    });
  });
  app.get('/v2/dataframes', async (req, reply) => {
    const c = caller(req);
    const q = req.query as Query;
    const offset = intParam(q, 'offset', 0, 0);
    const limit = intParam(q, 'limit', 100, 1, 10_000);
    const filters = v2Filters(c, filtersParam(q));
    if (!filters) return send(reply, 200, { total: 0, dataframes: [] });
    const { type: types = [], ...rest } = filters;
    const points = await store.rated({ ...window(q), types, filters: rest });
    if (points.length === 0) throw notFound('No resource found for provided filters.');
    const frames = new Map<number, { period: { begin: string; end: string }; usage: Record<string, unknown[]> }>();
    for (const p of points) {
      let f = frames.get(p.begin_us);
      if (!f) frames.set(p.begin_us, f = { period: { begin: isoFromUs(p.begin_us), end: isoFromUs(p.end_us) }, usage: {} });
      (f.usage[p.type] ??= []).push({
        vol: { unit: p.unit, qty: new Decimal(p.qty) }, rating: { price: new Decimal(p.price) }, groupby: p.groupby, metadata: p.metadata,
      });
    }
    const all = [...frames.values()];
    return send(reply, 200, { total: all.length, dataframes: all.slice(offset, offset + limit) });
  });
  app.post('/v2/dataframes', async (req, reply) => {
    admin(req);
    const body = jsonBody(req, true);
    if (!Array.isArray(body.dataframes)) throw badRequest("required key not provided @ data['dataframes']");
    const parsed = body.dataframes.map((f, i) => parseFrame(f, i));
    if (parsed.length === 0) throw badRequest('Parameter dataframes must not be empty.');
    for (const f of parsed) {
      // One frame may hold several scopes' points: each scope's are written as its period.
      const byScope = new Map<string, RatedPoint[]>();
      for (const p of f.points) {
        const scope = p.groupby.project_id ?? '';
        byScope.set(scope, [...(byScope.get(scope) ?? []), p]);
      }
      for (const [scopeId, points] of byScope) {
        await store.writeRated({ scopeId, begin: BigInt(f.begin) * 1000n, end: BigInt(f.end) * 1000n }, points, currency);
      }
    }
    return reply.code(204).send();
  });

  // ---- v2 scope state ----
  const scopeView = (s: Awaited<ReturnType<SqlRatingStore['listScopes']>>[number]) => ({
    scope_id: s.scope_id, scope_key: s.scope_key, fetcher: s.fetcher, collector: s.collector,
    last_processed_timestamp: s.last_processed === null ? null : isoFromUs(Number(s.last_processed / 1000n)),
    state: s.last_processed === null ? null : isoFromUs(Number(s.last_processed / 1000n)),
    active: s.active, scope_activation_toggle_date: isoFromUs(Number(s.toggled / 1000n)),
  });
  const scopeFilter = (q: Query): ScopeFilter => ({
    scopeId: many(q, 'scope_id'), scopeKey: many(q, 'scope_key'), fetcher: many(q, 'fetcher'), collector: many(q, 'collector'),
    active: many(q, 'active').map((a) => {
      if (!/^\d+$/.test(a)) throw badRequest(`expected int for dictionary value @ data['active']`);
      return Number(a) !== 0;
    }),
  });
  app.get('/v2/scope', async (req, reply) => {
    admin(req);
    const q = req.query as Query;
    const offset = intParam(q, 'offset', 0, 0);
    const limit = intParam(q, 'limit', 100, 1, 10_000);
    const all = await store.listScopes(scopeFilter(q));
    if (all.length === 0) throw notFound('No resource found for provided filters.');
    return send(reply, 200, { results: all.slice(offset, offset + limit).map(scopeView) });
  });
  app.put('/v2/scope', async (req, reply) => {
    admin(req);
    const body = jsonBody(req, true);
    const list = (k: string): string[] => {
      const v = body[k];
      if (v === undefined) return [];
      const arr = Array.isArray(v) ? v : [v];
      if (!arr.every((x) => typeof x === 'string')) throw badRequest(`expected str @ data['${k}']`);
      return arr as string[];
    };
    const all = body.all_scopes === true;
    const ids = list('scope_id');
    if (all && ids.length) throw badRequest("two or more values in the same group of exclusion 'scope_selector' @ data[<scope_selector>]");
    if (!all && !ids.length) throw badRequest('Either all_scopes or a scope_id should be specified.');
    const when = body.last_processed_timestamp ?? body.state;
    if (typeof when !== 'string') throw badRequest('Either last_processed_timestamp or state should be specified.');
    const us = usFromIso(when);
    if (us === null) throw badRequest(`invalid date value @ data['last_processed_timestamp']`);
    const f: ScopeFilter = { scopeId: ids, scopeKey: list('scope_key'), fetcher: list('fetcher'), collector: list('collector') };
    if (await store.resetScopes(f, BigInt(us) * 1000n) === 0) throw notFound('No resource found for provided filters.');
    return send(reply, 202, {});
  });
  const scopeBody = (body: Record<string, unknown>): { scope_id: string; scope_key?: string; fetcher?: string; collector?: string; active?: boolean } => {
    const scopeId = str(body, 'scope_id', true) as string;
    // CloudKitty takes any truth value here; its client sends 0 or 1 (from strtobool).
    const raw = body.active;
    if (raw !== undefined && raw !== null && typeof raw !== 'boolean' && typeof raw !== 'number') throw badRequest(`expected bool @ data['active']`);
    const active = raw === undefined || raw === null ? undefined : typeof raw === 'number' ? raw !== 0 : raw;
    return { scope_id: scopeId, scope_key: str(body, 'scope_key', false), fetcher: str(body, 'fetcher', false), collector: str(body, 'collector', false), active };
  };
  app.patch('/v2/scope', async (req, reply) => {
    admin(req);
    const { scope_id, ...change } = scopeBody(jsonBody(req, true));
    const defined = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
    const s = await store.patchScope(scope_id, defined);
    if (!s) throw notFound('No resource found for provided filters.');
    return send(reply, 200, scopeView(s));
  });
  app.post('/v2/scope', async (req, reply) => {
    admin(req);
    const b = scopeBody(jsonBody(req, true));
    const s = await store.createScope(Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)) as typeof b);
    if (!s) throw new CloudKittyError(409, `Cannot create a scope that already exists: ${b.scope_id}`);
    return send(reply, 200, scopeView(s));
  });
}

/** A dataframe of POST /v2/dataframes: its period (µs) and its rated points. */
function parseFrame(f: unknown, i: number): { begin: number; end: number; points: RatedPoint[] } {
  const bad = (why: string) => badRequest(`${why} @ data['dataframes'][${i}]`);
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw bad('expected a dictionary');
  const { period, usage } = f as Record<string, unknown>;
  if (typeof period !== 'object' || period === null) throw bad("required key not provided: 'period'");
  const p = period as Record<string, unknown>;
  const begin = typeof p.begin === 'string' ? usFromIso(p.begin) : null;
  const end = typeof p.end === 'string' ? usFromIso(p.end) : null;
  if (begin === null || end === null || end <= begin) throw bad('invalid period');
  if (typeof usage !== 'object' || usage === null || Array.isArray(usage)) throw bad("required key not provided: 'usage'");
  const points: RatedPoint[] = [];
  const strMap = (v: unknown, what: string): Record<string, string> => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw bad(`expected a dictionary for '${what}'`);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : String(x)]));
  };
  const dec = (v: unknown, what: string): string => {
    if ((typeof v !== 'number' && typeof v !== 'string') || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(String(v))) throw bad(`expected a decimal for '${what}'`);
    return new Decimal(String(v)).toFixed();
  };
  for (const [type, list] of Object.entries(usage)) {
    if (!Array.isArray(list)) throw bad(`expected a list for usage '${type}'`);
    for (const pt of list as unknown[]) {
      if (typeof pt !== 'object' || pt === null) throw bad('expected a dictionary for a point');
      const o = pt as Record<string, unknown>;
      const vol = (o.vol ?? {}) as Record<string, unknown>;
      const rating = (o.rating ?? {}) as Record<string, unknown>;
      if (typeof vol !== 'object' || typeof rating !== 'object') throw bad('expected dictionaries for vol and rating');
      points.push({
        type, unit: typeof vol.unit === 'string' ? vol.unit : 'undefined', qty: dec(vol.qty, 'vol.qty'),
        price: rating.price === undefined || rating.price === null ? '0' : dec(rating.price, 'rating.price'),
        groupby: strMap(o.groupby, 'groupby'), metadata: strMap(o.metadata, 'metadata'),
      });
    }
  }
  return { begin, end, points };
}

export interface RatingServerOptions extends RatingApiOptions {
  bodyLimit: number;
  https?: TlsFiles;
}

/** A server of its own for the rating API (CloudKitty's port, 8889 by default). */
export function buildRatingServer(opts: RatingServerOptions): FastifyInstance {
  const app = createHttpServer({ bodyLimit: opts.bodyLimit, https: opts.https });
  void app.register(ratingApi, opts);
  return app;
}
