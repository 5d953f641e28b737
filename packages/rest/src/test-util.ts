// A real API over real components in a temporary folder, driven with Fastify's inject.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openIndexer } from '@tally/indexer';
import { FileIncomingStore } from '@tally/incoming';
import { FileAggregateStorage } from '@tally/storage';
import { LocalCoordinator } from '@tally/coordination';
import { Processor } from '@tally/metricd';
import type { ArchivePolicy } from '@tally/timeseries';
import { buildApi } from './app.js';
import type { TokenVerifier } from './auth.js';
import { DEFAULT_HTTP_CONFIG, type HttpConfig } from './http.js';
import type { ApiServices } from './context.js';

export interface TestApi {
  app: FastifyInstance;
  dir: string;
  close(): Promise<void>;
  /** inject with JSON body and basic auth as `user` (null: no auth header). */
  call(method: string, url: string, opts?: { user?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<{ status: number; json: unknown; text: string; headers: Record<string, unknown> }>;
}

/**
 * Real services over a temporary folder (`dir`), and how to close them. Refreshes fold on
 * the calling thread here (quicker to start than a worker; production uses the worker).
 */
export async function openTestServices(dir: string): Promise<{ services: ApiServices & { processor: Processor }; close(): Promise<void> }> {
  const indexer = await openIndexer(`sqlite://${join(dir, 'index.sqlite')}`);
  await indexer.upgrade();
  const incoming = new FileIncomingStore({ dir: join(dir, 'incoming'), sacks: 4 });
  const storage = new FileAggregateStorage({ dir: join(dir, 'storage') });
  const coordinator = new LocalCoordinator({ dir: join(dir, 'locks') });
  const policies = async (ids: string[]): Promise<Map<string, ArchivePolicy>> => {
    const ms = await indexer.getMetrics(ids);
    const aps = await indexer.getArchivePolicies(new Set(ms.map((m) => m.archivePolicyName)));
    return new Map(ms.flatMap((m) => (aps.has(m.archivePolicyName) ? [[m.id, aps.get(m.archivePolicyName) as ArchivePolicy]] : [])));
  };
  const processor = new Processor({ incoming, storage, coordinator, policies });
  return {
    services: { indexer, incoming, storage, processor, version: 'test' },
    async close() {
      await incoming.close();
      await storage.close();
      await coordinator.close();
      await indexer.close();
    },
  };
}

/** `tokens` is the verifier token mode needs (`authMode: 'token'` in cfg). */
export async function startTestApi(cfg: Partial<HttpConfig> = {}, opts: { tokens?: TokenVerifier } = {}): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-rest-'));
  const svc = await openTestServices(dir);
  const app = buildApi(svc.services, { ...DEFAULT_HTTP_CONFIG, ...cfg }, { tokens: opts.tokens });
  await app.ready();
  return {
    app,
    dir,
    async close() {
      await app.close();
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    },
    async call(method, url, opts = {}) {
      // Like gnocchiclient, ask for JSON (errors are HTML otherwise, as in Gnocchi).
      const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
      const user = opts.user === undefined ? 'admin' : opts.user;
      if (user !== null) headers.authorization = 'basic ' + Buffer.from(`${user}:`).toString('base64');
      let payload: string | undefined;
      if (opts.raw !== undefined) payload = opts.raw;
      else if (opts.body !== undefined) payload = JSON.stringify(opts.body);
      if (payload !== undefined && !('content-type' in headers)) headers['content-type'] = 'application/json';
      const res = await app.inject({ method: method as 'GET', url, headers, payload });
      let json: unknown = undefined;
      try {
        json = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, json, text: res.body, headers: res.headers };
    },
  };
}
