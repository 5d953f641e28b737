// Ingest codecs: InfluxDB line protocol and Prometheus remote write (snappy + protobuf),
// against the reference measured in the same run: Tally's JSON measures path
// (JSON.parse + parseMeasures) for the same number of points.
// node packages/rest/dist/ingest/ingest.bench.js
import { parseLineProtocol } from './line-protocol.js';
import { snappyUncompress } from './snappy.js';
import { decodeWriteRequest } from './remote-write.js';
import { snappyCompress, writeRequest, type TestSeries } from './test-codecs.js';
import { parseMeasures } from '../measures.js';
import { msPerCall } from '../bench-time.js';

const POINTS = 100_000;

const time = (fn: () => unknown): number => msPerCall(fn, 400);

const t0 = 1_700_000_000_000;
const json = JSON.stringify(Array.from({ length: POINTS }, (_, i) => ({ timestamp: (t0 + i * 1000) / 1000, value: i * 0.25 })));

// 100 series (10 hosts x 10 measurements) of 2 fields, 500 lines each.
const lines: string[] = [];
for (let i = 0; i < POINTS / 2; i++) {
  lines.push(`cpu${i % 10},host=web${(i >> 4) % 10},region=eu-west usage_user=${(i * 0.37).toFixed(2)},usage_idle=${i % 100}i ${(BigInt(t0 + i) * 1_000_000n).toString()}`);
}
const lineText = lines.join('\n');

// 200 series of 500 samples, as Prometheus batches them.
const series: TestSeries[] = Array.from({ length: 200 }, (_, s) => ({
  labels: { __name__: `metric_${s}`, job: 'node', instance: 'host:9100', le: String(s) },
  samples: Array.from({ length: POINTS / 200 }, (_, i) => [t0 + i * 1000, s * 1000 + i * 0.5] as [number, number]),
}));
const compressed = snappyCompress(writeRequest(series));

const ref = time(() => parseMeasures(JSON.parse(json)));
const lp = time(() => parseLineProtocol(lineText, { tagResourceId: 'host', now: 0n }));
const sn = time(() => snappyUncompress(compressed));
const rw = time(() => decodeWriteRequest(snappyUncompress(compressed)));

const rate = (ms: number): string => `${((POINTS / ms) * 1000 / 1e6).toFixed(1)} M points/s`;
console.log(`reference  JSON measures (JSON.parse + parseMeasures) ${ref.toFixed(2)} ms / ${POINTS} points  ${rate(ref)}`);
console.log(`line protocol parse                                  ${lp.toFixed(2)} ms  ${rate(lp)}  ratio ${(ref / lp).toFixed(2)}x`);
console.log(`snappy uncompress (${(compressed.length / 1024).toFixed(0)} KiB)                           ${sn.toFixed(2)} ms`);
console.log(`remote write (snappy + protobuf)                     ${rw.toFixed(2)} ms  ${rate(rw)}  ratio ${(ref / rw).toFixed(2)}x`);
