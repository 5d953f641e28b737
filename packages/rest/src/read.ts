// GET .../measures: query arguments, then the columnar result written as JSON in
// one pass (no per-point objects between storage and the socket).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseTimestamp, parseTimespan, formatTimestampIn, SeriesTimestampFormatter, isCalendarUnit, TimeZone, UnknownTimeZoneError, type CalendarSampling, type CalendarUnit, type Nanos, pyFloatJson as pyFloat } from '@tally/timeseries';
import type { Metric } from '@tally/indexer';
import { HttpError, argumentError, badRequest } from './errors.js';
import { checkedPolicy, metricMeasures } from './domain/measures.js';
import { CHUNK_POINTS, utcSeriesChunks, writeInChunks, writtenInOneGo } from './series-json.js';
import { requestDeadline, type Deadline } from './domain/deadline.js';
import { parseBool } from './query.js';
import type { Ctx } from './context.js';
import { refreshMetrics } from './domain/refresh.js';

type Query = Record<string, string | undefined>;

export function queryTime(q: Query, name: 'start' | 'stop'): Nanos | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  try {
    return parseTimestamp(v);
  } catch {
    throw new HttpError(400, { cause: 'Argument value error', detail: name, reason: 'Must be a datetime or a timestamp' });
  }
}

export function queryGranularity(v: string | undefined): Nanos | undefined {
  if (v === undefined) return undefined;
  try {
    return parseTimespan(v);
  } catch (e) {
    throw argumentError(e instanceof Error ? e.message : String(e), 'granularity');
  }
}

/** Gnocchi prints granularities as Python floats of seconds: 1.0, 3.6, 42.0. */
export function granularitySeconds(g: Nanos): number {
  return Number(g) / 1e9;
}

/**
 * `resample=`: a timespan, or one of Gnocchi's calendar groupings ("Y", "H", "Q", "M",
 * "W"). Errors are Gnocchi's 400 with the parser's message.
 */
export function queryResample(v: string): Nanos | CalendarUnit {
  if (isCalendarUnit(v)) return v;
  try {
    return parseTimespan(v);
  } catch (e) {
    throw badRequest(e instanceof Error ? e.message : String(e));
  }
}

/**
 * `timezone=` (a Tally extension): the IANA zone calendar groupings are evaluated in and
 * timestamps are written in. Gnocchi's behaviour (UTC) when absent.
 */
export function queryTimeZone(v: string | undefined): TimeZone {
  if (v === undefined) return TimeZone.UTC;
  try {
    return TimeZone.of(v);
  } catch (e) {
    if (e instanceof UnknownTimeZoneError) throw argumentError(e.message, 'timezone');
    throw e;
  }
}

/** The engine's sampling for a parsed `resample=`. */
export function samplingOf(resample: Nanos | CalendarUnit | undefined, zone: TimeZone): Nanos | CalendarSampling | undefined {
  return typeof resample === 'string' ? { unit: resample, zone } : resample;
}

/** What Gnocchi writes as a point's granularity: seconds as a float, or the calendar grouping name. */
export function granularityText(g: Nanos | CalendarUnit): string {
  return typeof g === 'string' ? `"${g}"` : pyFloat(granularitySeconds(g));
}

type SeriesOut = { ts: BigInt64Array; granularity: BigInt64Array; values: Float64Array; calendar?: CalendarUnit };

/**
 * The body of a measures read, written in chunks (see utcSeriesChunks): bytes written
 * directly for UTC (series-json.ts), else text.
 */
export function measuresChunks(r: SeriesOut, zone: TimeZone = TimeZone.UTC): Generator<void, string | Buffer, void> {
  if (zone.isUtc && r.calendar === undefined) return utcSeriesChunks(r.ts, r.granularity, r.values, granularityText);
  return measuresJsonChunks(r, zone);
}

/** measuresChunks written in one go. */
export function measuresBody(r: SeriesOut, zone: TimeZone = TimeZone.UTC): string | Buffer {
  return writtenInOneGo(measuresChunks(r, zone));
}

/**
 * measuresChunks written with the event loop given back between chunks; stops at the
 * request's deadline. The answer's size is checked against the request's bound first.
 */
export function writeMeasures(r: SeriesOut, zone: TimeZone, deadline: Deadline): Promise<string | Buffer> {
  deadline.answer(r.ts.length);
  return writeInChunks(measuresChunks(r, zone), () => deadline.pause());
}

export function measuresJson(r: SeriesOut, zone: TimeZone = TimeZone.UTC): string {
  return writtenInOneGo(measuresJsonChunks(r, zone));
}

/** The generic (any zone, calendar labels) text of a series, yielding every CHUNK_POINTS points. */
function* measuresJsonChunks(r: SeriesOut, zone: TimeZone): Generator<void, string, void> {
  const parts: string[] = new Array<string>(r.ts.length);
  const utc = zone.isUtc ? new SeriesTimestampFormatter() : null;
  let lastG = -1n;
  let gText = r.calendar === undefined ? '' : granularityText(r.calendar);
  for (let i = 0; i < r.ts.length; i++) {
    if (i > 0 && i % CHUNK_POINTS === 0) yield;
    const g = r.granularity[i];
    if (r.calendar === undefined && g !== lastG) {
      lastG = g;
      gText = granularityText(g);
    }
    const when = utc ? utc.format(r.ts[i]) : formatTimestampIn(r.ts[i], zone);
    parts[i] = `["${when}", ${gText}, ${pyFloat(r.values[i])}]`;
  }
  return '[' + parts.join(', ') + ']';
}

export async function readMeasuresReply(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: Metric): Promise<FastifyReply> {
  const q = req.query as Query;
  const aggregation = q.aggregation ?? 'mean';
  let resample: Nanos | CalendarUnit | undefined;
  // Gnocchi ignores an empty resample=.
  if (q.resample !== undefined && q.resample !== '') {
    if (q.granularity === undefined) throw badRequest('A granularity must be specified to resample');
    resample = queryResample(q.resample);
  }
  const zone = queryTimeZone(q.timezone);
  const start = queryTime(q, 'start');
  const stop = queryTime(q, 'stop');
  const granularity = queryGranularity(q.granularity);
  const ap = await checkedPolicy(ctx, m, aggregation, granularity);
  if (parseBool(q, 'refresh', false)) await refreshMetrics(ctx, [m.id]);
  const deadline = requestDeadline(ctx);
  const result = await metricMeasures(ctx, m, ap, { aggregation, granularity, start, stop, resample: samplingOf(resample, zone) }, deadline);
  return reply.code(200).header('content-type', 'application/json').send(await writeMeasures(result, zone, deadline));
}
