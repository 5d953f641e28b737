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

export interface Ctx extends ApiServices {
  cfg: HttpConfig;
  identity(req: FastifyRequest): Identity;
  base(req: FastifyRequest): string;
}

export function makeCtx(services: ApiServices, cfg: HttpConfig): Ctx {
  return {
    ...services,
    cfg,
    identity: (req) => authenticate(cfg.authMode, req.headers, cfg.remoteUserHeader),
    base: (req) => publicBase(req, cfg),
  };
}
