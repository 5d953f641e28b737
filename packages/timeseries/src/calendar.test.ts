import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calendarBucket, calendarBuckets, civilFromDays, daysFromCivil, formatOffset, formatTimestampIn, isCalendarUnit,
  resampleCalendar, CalendarDeriveError, TimeZone, UnknownTimeZoneError, type CalendarSampling, type CalendarUnit,
} from './calendar.js';
import { formatTimestamp, parseTimestamp } from './time.js';

const t = (iso: string): bigint => parseTimestamp(iso);
const utc = (unit: CalendarUnit): CalendarSampling => ({ unit, zone: TimeZone.UTC });
const inZone = (unit: CalendarUnit, zone: string): CalendarSampling => ({ unit, zone: TimeZone.of(zone) });

function bucket(iso: string, s: CalendarSampling): [string, string] {
  const b = calendarBucket(t(iso), s);
  return [formatTimestamp(b.start), formatTimestamp(b.next)];
}

function series(points: [string, number][]): { ts: BigInt64Array; values: Float64Array } {
  return { ts: BigInt64Array.from(points.map(([iso]) => t(iso))), values: Float64Array.from(points.map(([, v]) => v)) };
}

function rows(s: { ts: BigInt64Array; values: Float64Array }, zone = TimeZone.UTC): [string, number][] {
  return Array.from(s.ts, (x, i) => [formatTimestampIn(x, zone), s.values[i]]);
}

test('civil date arithmetic round-trips', () => {
  assert.equal(daysFromCivil(1970, 1, 1), 0);
  assert.equal(daysFromCivil(2015, 3, 1), 16495);
  assert.equal(daysFromCivil(2015, 13, 1), daysFromCivil(2016, 1, 1));
  for (let d = -800_000; d < 800_000; d += 997) {
    const { year, month, day } = civilFromDays(d);
    assert.equal(daysFromCivil(year, month, day), d);
  }
});

test('only the exact Gnocchi grouping names are calendar units', () => {
  for (const u of ['Y', 'H', 'Q', 'M', 'W']) assert.ok(isCalendarUnit(u));
  for (const u of ['y', 'D', 'month', '', '1M']) assert.ok(!isCalendarUnit(u));
});

// Daily means of resample-calendar.yaml: the same answers as Gnocchi, in UTC.
const DAILY = series([
  ['2015-03-01T00:00:00', 10], ['2015-03-06T00:00:00', 12], ['2015-04-01T00:00:00', 2], ['2015-04-06T00:00:00', 4],
  ['2015-10-06T00:00:00', 7], ['2016-01-06T00:00:00', 12], ['2016-02-06T00:00:00', 4],
]);

test('UTC groupings as Gnocchi computes them', () => {
  assert.deepEqual(rows(resampleCalendar(DAILY, utc('Y'), 'mean')), [['2015-01-01T00:00:00+00:00', 7], ['2016-01-01T00:00:00+00:00', 8]]);
  assert.deepEqual(rows(resampleCalendar(DAILY, utc('H'), 'mean')), [
    ['2015-01-01T00:00:00+00:00', 7], ['2015-07-01T00:00:00+00:00', 7], ['2016-01-01T00:00:00+00:00', 8],
  ]);
  assert.deepEqual(rows(resampleCalendar(DAILY, utc('Q'), 'mean')), [
    ['2015-01-01T00:00:00+00:00', 11], ['2015-04-01T00:00:00+00:00', 3], ['2015-10-01T00:00:00+00:00', 7],
    ['2016-01-01T00:00:00+00:00', 8],
  ]);
  assert.deepEqual(rows(resampleCalendar(DAILY, utc('M'), 'mean')), [
    ['2015-03-01T00:00:00+00:00', 11], ['2015-04-01T00:00:00+00:00', 3], ['2015-10-01T00:00:00+00:00', 7],
    ['2016-01-01T00:00:00+00:00', 12], ['2016-02-01T00:00:00+00:00', 4],
  ]);
  // Weeks start on Sunday.
  assert.deepEqual(rows(resampleCalendar(DAILY, utc('W'), 'mean')), [
    ['2015-03-01T00:00:00+00:00', 11], ['2015-03-29T00:00:00+00:00', 2], ['2015-04-05T00:00:00+00:00', 4],
    ['2015-10-04T00:00:00+00:00', 7], ['2016-01-03T00:00:00+00:00', 12], ['2016-01-31T00:00:00+00:00', 4],
  ]);
  assert.deepEqual(rows(resampleCalendar(DAILY, utc('Y'), 'count')), [['2015-01-01T00:00:00+00:00', 5], ['2016-01-01T00:00:00+00:00', 2]]);
  assert.deepEqual(rows(resampleCalendar(DAILY, utc('Y'), 'max')), [['2015-01-01T00:00:00+00:00', 12], ['2016-01-01T00:00:00+00:00', 12]]);
});

test('rates cannot be grouped by calendar', () => {
  assert.throws(() => resampleCalendar(DAILY, utc('M'), 'rate:mean'), CalendarDeriveError);
});

test('time zones: IANA names, case-insensitive, unknown ones rejected', () => {
  assert.equal(TimeZone.of('europe/paris').name, 'Europe/Paris');
  assert.equal(TimeZone.of('Etc/UTC'), TimeZone.UTC);
  assert.ok(TimeZone.of('UTC').isUtc);
  assert.throws(() => TimeZone.of('Mars/Olympus'), UnknownTimeZoneError);
  assert.throws(() => TimeZone.of(''), UnknownTimeZoneError);
});

test('offsets are written as Python does', () => {
  assert.equal(formatOffset(0), '+00:00');
  assert.equal(formatOffset(3600), '+01:00');
  assert.equal(formatOffset(-9000), '-02:30');
  assert.equal(formatOffset(20700), '+05:45');
  assert.equal(formatOffset(561), '+00:09:21');
});

test('timestamps written in a zone, across a DST change', () => {
  const paris = TimeZone.of('Europe/Paris');
  assert.equal(formatTimestampIn(t('2015-03-29T00:59:59Z'), paris), '2015-03-29T01:59:59+01:00');
  assert.equal(formatTimestampIn(t('2015-03-29T01:00:00Z'), paris), '2015-03-29T03:00:00+02:00');
  assert.equal(formatTimestampIn(t('2015-10-25T00:59:59.5Z'), paris), '2015-10-25T02:59:59.500000+02:00');
  assert.equal(formatTimestampIn(t('2015-10-25T01:00:00Z'), paris), '2015-10-25T02:00:00+01:00');
  assert.equal(formatTimestampIn(t('2020-01-01T00:00:00Z'), TimeZone.of('Asia/Kathmandu')), '2020-01-01T05:45:00+05:45');
  assert.equal(formatTimestampIn(t('2020-01-01T00:00:00Z'), TimeZone.UTC), '2020-01-01T00:00:00+00:00');
});

test('Europe/Paris months start at local midnight on the 1st, whatever the offset', () => {
  const m = inZone('M', 'Europe/Paris');
  assert.deepEqual(bucket('2015-03-15T12:00:00Z', m), ['2015-02-28T23:00:00+00:00', '2015-03-31T22:00:00+00:00']);
  assert.deepEqual(bucket('2015-02-28T22:59:59Z', m), ['2015-01-31T23:00:00+00:00', '2015-02-28T23:00:00+00:00']);
  assert.deepEqual(bucket('2015-02-28T23:00:00Z', m), ['2015-02-28T23:00:00+00:00', '2015-03-31T22:00:00+00:00']);
  assert.deepEqual(bucket('2015-03-31T22:00:00Z', m), ['2015-03-31T22:00:00+00:00', '2015-04-30T22:00:00+00:00']);
  assert.deepEqual(bucket('2015-10-31T22:59:59Z', m), ['2015-09-30T22:00:00+00:00', '2015-10-31T23:00:00+00:00']);
  assert.deepEqual(bucket('2015-12-31T23:00:00Z', inZone('Y', 'Europe/Paris')), ['2015-12-31T23:00:00+00:00', '2016-12-31T23:00:00+00:00']);
  assert.deepEqual(bucket('2015-06-30T22:00:00Z', inZone('H', 'Europe/Paris')), ['2015-06-30T22:00:00+00:00', '2015-12-31T23:00:00+00:00']);
  assert.deepEqual(bucket('2015-06-30T21:59:59Z', inZone('Q', 'Europe/Paris')), ['2015-03-31T22:00:00+00:00', '2015-06-30T22:00:00+00:00']);

  const hourly = series([
    ['2015-02-28T22:00:00Z', 1], ['2015-02-28T23:00:00Z', 2], ['2015-03-29T01:00:00Z', 3],
    ['2015-03-31T21:00:00Z', 4], ['2015-03-31T22:00:00Z', 5],
  ]);
  const paris = TimeZone.of('Europe/Paris');
  assert.deepEqual(rows(resampleCalendar(hourly, { unit: 'M', zone: paris }, 'sum'), paris), [
    ['2015-02-01T00:00:00+01:00', 1], ['2015-03-01T00:00:00+01:00', 9], ['2015-04-01T00:00:00+02:00', 5],
  ]);
});

test('weeks start on Sunday at local midnight across DST changes', () => {
  const w = inZone('W', 'Europe/Paris');
  // Spring forward on Sunday 2015-03-29, fall back on Sunday 2015-10-25.
  assert.deepEqual(bucket('2015-03-29T12:00:00Z', w), ['2015-03-28T23:00:00+00:00', '2015-04-04T22:00:00+00:00']);
  assert.deepEqual(bucket('2015-03-28T22:59:59Z', w), ['2015-03-21T23:00:00+00:00', '2015-03-28T23:00:00+00:00']);
  assert.deepEqual(bucket('2015-10-25T12:00:00Z', w), ['2015-10-24T22:00:00+00:00', '2015-10-31T23:00:00+00:00']);
});

test('a day whose midnight is skipped starts when the clocks jump', () => {
  // Sao Paulo, 2018-11-04: 00:00 -03:00 became 01:00 -02:00.
  const w = inZone('W', 'America/Sao_Paulo');
  assert.deepEqual(bucket('2018-11-04T03:00:00Z', w), ['2018-11-04T03:00:00+00:00', '2018-11-11T02:00:00+00:00']);
  assert.deepEqual(bucket('2018-11-04T02:59:59Z', w), ['2018-10-28T03:00:00+00:00', '2018-11-04T03:00:00+00:00']);
  const zone = TimeZone.of('America/Sao_Paulo');
  assert.equal(formatTimestampIn(calendarBucket(t('2018-11-05T00:00:00Z'), w).start, zone), '2018-11-04T01:00:00-02:00');
  assert.deepEqual(bucket('2018-11-10T00:00:00Z', inZone('M', 'America/Sao_Paulo')), ['2018-11-01T03:00:00+00:00', '2018-12-01T02:00:00+00:00']);
});

test('a day whose midnight happens twice starts at the first one', () => {
  // Havana, 2015-11-01: 01:00 -04:00 became 00:00 -05:00.
  const m = inZone('M', 'America/Havana');
  assert.deepEqual(bucket('2015-11-01T04:30:00Z', m), ['2015-11-01T04:00:00+00:00', '2015-12-01T05:00:00+00:00']);
  assert.deepEqual(bucket('2015-11-01T05:30:00Z', m), ['2015-11-01T04:00:00+00:00', '2015-12-01T05:00:00+00:00']);
  assert.deepEqual(bucket('2015-11-01T03:59:59Z', m), ['2015-10-01T04:00:00+00:00', '2015-11-01T04:00:00+00:00']);
  assert.deepEqual(bucket('2015-11-07T12:00:00Z', inZone('W', 'America/Havana')), ['2015-11-01T04:00:00+00:00', '2015-11-08T05:00:00+00:00']);
});

test('buckets hold every point once, in increasing order, whatever the zone', () => {
  const zones = ['UTC', 'Europe/Paris', 'America/Sao_Paulo', 'America/Havana', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Apia'];
  const n = 20_000;
  const ts = new BigInt64Array(n);
  // Every 3h17m from 2010 on: crosses many DST changes in every zone.
  for (let i = 0; i < n; i++) ts[i] = t('2010-01-01T00:00:00Z') + BigInt(i) * 11_820_000_000_000n;
  for (const name of zones) {
    const zone = TimeZone.of(name);
    const check = new Intl.DateTimeFormat('en-CA', { timeZone: name, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short' });
    for (const unit of ['Y', 'H', 'Q', 'M', 'W'] as CalendarUnit[]) {
      const { starts, bounds } = calendarBuckets(ts, { unit, zone });
      assert.equal(bounds[0], 0);
      assert.equal(bounds[bounds.length - 1], n);
      for (let b = 0; b < starts.length; b++) {
        if (b > 0) assert.ok(starts[b] > starts[b - 1], `${name} ${unit} increasing`);
        const { start, next } = calendarBucket(ts[bounds[b]], { unit, zone });
        assert.equal(start, starts[b]);
        for (let i = bounds[b]; i < bounds[b + 1]; i++) assert.ok(ts[i] >= start && ts[i] < next);
        // The bucket starts on the first local day of its period, and one second
        // earlier is another local day.
        const parts = Object.fromEntries(check.formatToParts(new Date(Number(start / 1_000_000n))).map((p) => [p.type, p.value]));
        if (unit === 'W') assert.equal(parts.weekday, 'Sun', `${name} week ${formatTimestamp(start)}`);
        else {
          assert.equal(parts.day, '01', `${name} ${unit} ${formatTimestamp(start)}`);
          const month = Number(parts.month);
          assert.equal((month - 1) % (unit === 'Y' ? 12 : unit === 'H' ? 6 : unit === 'Q' ? 3 : 1), 0);
        }
        const before = check.format(new Date(Number(start / 1_000_000n) - 1000));
        assert.notEqual(before, check.format(new Date(Number(start / 1_000_000n))));
      }
    }
  }
});
