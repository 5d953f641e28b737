// What the routes need: the services behind the API and the HTTP configuration.
import type { FastifyRequest } from 'fastify';
import type { Indexer } from '@tally/indexer';
import type { IncomingStore } from '@tally/incoming';
import type { AggregateStorage } from '@tally/storage';
import type { Processor } from '@tally/metricd';
import { authenticate, type Identity } from './auth.js';
import { publicBase, type HttpConfig } from './http.js';

export interface MetricdStatus {
  processors: string[] | null;
  statistics: Record<string, number>;
}

export interface ApiServices {
  indexer: Indexer;
  incoming: IncomingStore;
  storage: AggregateStorage;
  processor: Processor;
  metricdStatus?: () => Promise<MetricdStatus>;
  version: string;
}

/** A resource as metric routes need it: owner project (for policy) and its JSON. */
export interface ResourceView {
  projectId: string | null;
  json: Record<string, unknown>;
}

export interface ResourceLookup {
  get(id: string): Promise<ResourceView | null>;
}

export interface Ctx extends ApiServices {
  resources: ResourceLookup;
  cfg: HttpConfig;
  identity(req: FastifyRequest): Identity;
  base(req: FastifyRequest): string;
}

export function makeCtx(services: ApiServices, cfg: HttpConfig, resources: ResourceLookup): Ctx {
  return {
    ...services,
    resources,
    cfg,
    identity: (req) => authenticate(cfg.authMode, req.headers, cfg.remoteUserHeader),
    base: (req) => publicBase(req, cfg),
  };
}
