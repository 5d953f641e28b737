// Test support for the pollsters' end-to-end tests: a cycle's samples published through the
// real Publisher into a real Tally API, then read back through Gnocchi's API, sample by
// sample: the resource (type, attributes), the metric (name, unit, archive policy) and the
// stored value. Not exported by the package.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { GnocchiClient, type JsonValue, type Resource } from '@tally/client';
import { startTestApi } from '@tally/rest/test-util';
import { formatTimestamp } from '@tally/timeseries';
import { DiskBuffer } from './buffer.js';
import type { ResourceTypeDefinition, Sample } from './pollster.js';
import { defaultArchivePolicy, Publisher } from './publisher.js';

export interface StoreCheck {
  /** Publishes one cycle and waits until the store acknowledged it. */
  publish(samples: readonly Sample[]): Promise<void>;
  /** Reads every sample back; returns what differs (empty when all match) and how many were read. */
  verify(samples: readonly Sample[]): Promise<{ mismatches: string[]; checked: number }>;
  close(): Promise<void>;
}

/** ceilometer-low and -low-rate keep 5-minute means: one sample per bucket reads back as itself. */
const GRANULARITY_S = 300;

export async function storeCheck(types: readonly ResourceTypeDefinition[]): Promise<StoreCheck> {
  const api = await startTestApi();
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'tally-store-check-'));
  const log = (): void => undefined;
  const client = new GnocchiClient({ url, auth: { type: 'basic', user: 'admin' }, retry: false, timeoutMs: 30_000 });
  const buffer = await DiskBuffer.open(join(dir, 'buffer'), { maxBytes: 64 << 20, log });
  const pub = new Publisher({ client, buffer, log, stateDir: dir, maxRequestBytes: 4 << 20, retryBaseMs: 20, retryMaxMs: 200 });
  pub.addResourceTypes(types);
  await pub.start();
  let published = 0;
  return {
    async publish(samples) {
      await pub.submit('check', null, [...samples]);
      published += samples.length;
      const end = Date.now() + 60_000;
      while (pub.stats.published < published) {
        if (Date.now() > end) throw new Error(`the store took ${pub.stats.published} of ${published} samples in 60 s`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async verify(samples) {
      const mismatches: string[] = [];
      const resources = new Map<string, Resource>();
      let checked = 0;
      for (const s of samples) {
        const key = `${s.resource.type}/${s.resource.id}`;
        let r = resources.get(key);
        if (r === undefined) {
          r = await client.resource.get(s.resource.type, s.resource.id.replaceAll('/', '_'));
          resources.set(key, r);
          for (const [k, v] of Object.entries(s.resource.attributes)) {
            const stored = (r as unknown as Record<string, JsonValue>)[k];
            if (!sameAttribute(stored, v)) mismatches.push(`${key}: attribute ${k} is ${JSON.stringify(stored)}, the pollster said ${JSON.stringify(v)}`);
          }
        }
        const metricId = r.metrics[s.meter];
        if (metricId === undefined) {
          mismatches.push(`${key}: no metric ${s.meter}`);
          continue;
        }
        const m = await client.metric.get(metricId);
        if (m.unit !== s.unit) mismatches.push(`${key} ${s.meter}: unit ${String(m.unit)}, expected ${s.unit}`);
        if (m.archive_policy.name !== defaultArchivePolicy(s.type)) mismatches.push(`${key} ${s.meter}: policy ${m.archive_policy.name} for a ${s.type} meter`);
        const bucket = (s.timestamp / 1_000_000_000n / BigInt(GRANULARITY_S)) * BigInt(GRANULARITY_S) * 1_000_000_000n;
        const points = await client.metric.measures(metricId, { aggregation: 'mean', granularity: GRANULARITY_S, refresh: true });
        const at = formatTimestamp(bucket);
        const point = points.find((p) => Date.parse(p[0]) === Date.parse(at));
        if (point === undefined) mismatches.push(`${key} ${s.meter}: nothing stored at ${at}`);
        else if (point[2] !== s.volume) mismatches.push(`${key} ${s.meter}: stored ${point[2]}, polled ${s.volume}`);
        checked++;
      }
      return { mismatches, checked };
    },
    async close() {
      await pub.stop(1_000);
      await buffer.close();
      client.close();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Datetimes compare as instants (the store writes its own ISO form); the rest as JSON. */
function sameAttribute(stored: JsonValue | undefined, sent: JsonValue): boolean {
  if (typeof stored === 'string' && typeof sent === 'string' && /^\d{4}-\d\d-\d\dT/.test(sent)) return Date.parse(stored) === Date.parse(sent);
  return JSON.stringify(stored ?? null) === JSON.stringify(sent);
}
