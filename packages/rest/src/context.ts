// What the routes need: the services behind the API and the HTTP configuration.
import type { FastifyRequest } from 'fastify';
import type { Services } from './domain/services.js';
import { authenticate, type Identity } from './auth.js';
import { publicBase, type HttpConfig } from './http.js';

export interface MetricdStatus {
  processors: string[] | null;
  statistics: Record<string, number>;
}

export interface ApiServices extends Services {
  metricdStatus?: () => Promise<MetricdStatus>;
  /** Tally's version (the root package.json's). */
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
