// Calendar resampling throughput: node packages/timeseries/dist/calendar.bench.js
// One year of minute points (525,600) grouped by month and by week, in UTC and in
// Europe/Paris; the reference is the fixed 1-day resample of the same points (the
// ratio says what calendar grouping costs over plain epoch-aligned buckets).
import { aggregateSeries } from './aggregate.js';
import { resampleCalendar, TimeZone, type CalendarSampling } from './calendar.js';

const S = 1_000_000_000n;
const POINTS = 525_600;
const ts = new BigInt64Array(POINTS);
const values = new Float64Array(POINTS);
for (let i = 0; i < POINTS; i++) {
  ts[i] = 1_420_070_400n * S + BigInt(i) * 60n * S; // from 2015-01-01
  values[i] = Math.sin(i / 1000) * 100;
}
const series = { ts, values };

function time(fn: () => unknown): number {
  fn(); // warm up
  const runs = 5;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < runs; r++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / runs;
}

const reference = time(() => aggregateSeries(series, 86_400n * S, 'mean'));
console.log(`${'reference: fixed 1 day, mean'.padEnd(36)} ${reference.toFixed(1).padStart(8)} ms`);
const paris = TimeZone.of('Europe/Paris');
const cases: [string, CalendarSampling][] = [
  ['month, UTC', { unit: 'M', zone: TimeZone.UTC }],
  ['month, Europe/Paris', { unit: 'M', zone: paris }],
  ['week, Europe/Paris', { unit: 'W', zone: paris }],
  ['year, Europe/Paris', { unit: 'Y', zone: paris }],
];
for (const [name, sampling] of cases) {
  const ms = time(() => resampleCalendar(series, sampling, 'mean'));
  const mpts = POINTS / (ms / 1000) / 1e6;
  console.log(`${name.padEnd(36)} ${ms.toFixed(1).padStart(8)} ms  ${mpts.toFixed(1).padStart(6)} Mpoints/s  x${(ms / reference).toFixed(2)} reference`);
}
