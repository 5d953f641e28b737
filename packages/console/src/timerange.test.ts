import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { TimeRangeError, formatInZone, parseDuration, parseInstant, parseRange } from './timerange.js';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);

test('relative forms and durations', () => {
  assert.equal(parseInstant('now', 'UTC', NOW), NOW);
  assert.equal(parseInstant('now-6h', 'UTC', NOW), NOW - 6 * 3600_000);
  assert.equal(parseInstant('-1d12h', 'UTC', NOW), NOW - 36 * 3600_000);
  assert.equal(parseInstant('now + 15m', 'UTC', NOW), NOW + 15 * 60_000);
  assert.equal(parseInstant('  ', 'UTC', NOW), undefined);
  assert.equal(parseDuration('2w'), 14 * 86_400_000);
  assert.throws(() => parseDuration('6 hours'), TimeRangeError);
  assert.throws(() => parseInstant('yesterday', 'UTC', NOW), TimeRangeError);
  assert.throws(() => parseRange('now', 'now-1h', 'UTC', NOW), /before the stop/);
  assert.throws(() => parseInstant('2026-01-01', 'Mars/Olympus', NOW), /unknown time zone/);
});

test('instants with an offset ignore the chosen zone', () => {
  assert.equal(parseInstant('2026-03-29T01:30:00+00:00', 'Asia/Tokyo', NOW), Date.UTC(2026, 2, 29, 1, 30));
  assert.equal(parseInstant('2026-03-29T01:30:00Z', 'America/New_York', NOW), Date.UTC(2026, 2, 29, 1, 30));
});

// Wall-clock times, including DST gaps and repeated hours, against CPython's zoneinfo
// (fold=0), which is what the console promises to follow.
test('wall-clock times in a zone match CPython zoneinfo with fold=0', () => {
  const cases: Array<[string, string]> = [
    ['Europe/Paris', '2026-03-29 02:30'], // skipped by the spring jump
    ['Europe/Paris', '2026-10-25 02:30'], // happens twice
    ['Europe/Paris', '2026-07-14 09:15:30'],
    ['America/New_York', '2026-03-08 02:00'],
    ['America/New_York', '2026-11-01 01:59:59'],
    ['Australia/Lord_Howe', '2026-04-05 01:45'], // a 30 minute shift
    ['Asia/Kolkata', '2026-01-01'],
    ['UTC', '2024-02-29 23:59:59'],
  ];
  const py = spawnSync('python3', ['-c', `
import sys, json, datetime, zoneinfo
out = []
for zone, text in json.load(sys.stdin):
    d = datetime.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(zone), fold=0)
    out.append(round(d.timestamp() * 1000))
print(json.dumps(out))
`], { input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  const expected = JSON.parse(py.stdout) as number[];
  assert.deepEqual(cases.map(([zone, text]) => parseInstant(text, zone, NOW)), expected);
});

test('formatting in a zone, with the offset for files', () => {
  const t = Date.UTC(2026, 9, 25, 0, 30); // 02:30 CEST, the first of two
  assert.equal(formatInZone(t, 'Europe/Paris'), '2026-10-25 02:30:00');
  assert.equal(formatInZone(t, 'Europe/Paris', true), '2026-10-25T02:30:00+02:00');
  assert.equal(formatInZone(t + 3600_000, 'Europe/Paris', true), '2026-10-25T02:30:00+01:00');
  assert.equal(formatInZone(t, 'America/St_Johns', true), '2026-10-24T22:00:00-02:30');
});
