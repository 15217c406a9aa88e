import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronParseError, parseGoDuration, parseStandard, UnknownTimeZoneError, Zone } from '../../../../src/api/cronSchedule.js';

/** The first `n` activations after `from`, written in the schedule's zone. */
function nextTimes(spec: string, from: string, zone = 'UTC', n = 3): string[] {
  const z = Zone.load(zone);
  const s = parseStandard(spec, z);
  const out: string[] = [];
  let t = Date.parse(from);
  for (let i = 0; i < n; i++) {
    const next = s.next(t);
    if (next === undefined) {
      out.push('never');
      break;
    }
    out.push(z.formatRFC3339(next));
    t = next;
  }
  return out;
}

describe('cron schedule: next times', () => {
  const cases: Array<{ name: string; spec: string; from: string; zone?: string; want: string[] }> = [
    { name: 'every minute starts at the next whole minute', spec: '*/1 * * * *', from: '2024-01-01T10:00:00Z', want: ['2024-01-01T10:01:00Z', '2024-01-01T10:02:00Z', '2024-01-01T10:03:00Z'] },
    { name: 'a time exactly on a slot is not returned again', spec: '0 * * * *', from: '2024-01-01T10:00:00Z', want: ['2024-01-01T11:00:00Z', '2024-01-01T12:00:00Z', '2024-01-01T13:00:00Z'] },
    { name: 'sub-second times round up', spec: '* * * * *', from: '2024-01-01T10:00:59.900Z', want: ['2024-01-01T10:01:00Z', '2024-01-01T10:02:00Z', '2024-01-01T10:03:00Z'] },
    { name: 'ranges with steps', spec: '10-40/15 8 * * *', from: '2024-01-01T00:00:00Z', want: ['2024-01-01T08:10:00Z', '2024-01-01T08:25:00Z', '2024-01-01T08:40:00Z'] },
    { name: 'a start with a step runs to the end of the range', spec: '50/5 * * * *', from: '2024-01-01T00:00:00Z', want: ['2024-01-01T00:50:00Z', '2024-01-01T00:55:00Z', '2024-01-01T01:50:00Z'] },
    { name: 'month and weekday names, any case', spec: '0 9 * JAN,mar Mon-fri', from: '2024-01-30T12:00:00Z', want: ['2024-01-31T09:00:00Z', '2024-03-01T09:00:00Z', '2024-03-04T09:00:00Z'] },
    { name: 'day of month and day of week restricted: either matches', spec: '0 0 1,15 * 1', from: '2024-01-01T00:00:00Z', want: ['2024-01-08T00:00:00Z', '2024-01-15T00:00:00Z', '2024-01-22T00:00:00Z'] },
    { name: 'a star day of month makes the weekday decide', spec: '0 0 * * 0', from: '2024-01-01T00:00:00Z', want: ['2024-01-07T00:00:00Z', '2024-01-14T00:00:00Z', '2024-01-21T00:00:00Z'] },
    { name: '? is a star', spec: '0 0 ? * 6', from: '2024-01-01T00:00:00Z', want: ['2024-01-06T00:00:00Z', '2024-01-13T00:00:00Z', '2024-01-20T00:00:00Z'] },
    { name: 'a step over the whole day of month is no longer a star (OR semantics)', spec: '0 0 */10 * 1', from: '2024-01-01T00:00:00Z', want: ['2024-01-08T00:00:00Z', '2024-01-11T00:00:00Z', '2024-01-15T00:00:00Z'] },
    { name: 'the 31st skips short months', spec: '0 12 31 * *', from: '2024-01-31T13:00:00Z', want: ['2024-03-31T12:00:00Z', '2024-05-31T12:00:00Z', '2024-07-31T12:00:00Z'] },
    { name: 'leap days come every four years', spec: '0 0 29 2 *', from: '2024-03-01T00:00:00Z', want: ['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z', '2036-02-29T00:00:00Z'] },
    { name: 'a day that never exists gives no time (robfig zero time)', spec: '59 23 31 2 *', from: '2024-01-01T00:00:00Z', want: ['never'] },
    { name: '@hourly', spec: '@hourly', from: '2024-01-01T10:30:00Z', want: ['2024-01-01T11:00:00Z', '2024-01-01T12:00:00Z', '2024-01-01T13:00:00Z'] },
    { name: '@daily and @midnight', spec: '@midnight', from: '2024-01-01T10:30:00Z', want: ['2024-01-02T00:00:00Z', '2024-01-03T00:00:00Z', '2024-01-04T00:00:00Z'] },
    { name: '@weekly runs on Sundays', spec: '@weekly', from: '2024-01-01T00:00:00Z', want: ['2024-01-07T00:00:00Z', '2024-01-14T00:00:00Z', '2024-01-21T00:00:00Z'] },
    { name: '@monthly', spec: '@monthly', from: '2024-01-15T00:00:00Z', want: ['2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z', '2024-04-01T00:00:00Z'] },
    { name: '@yearly and @annually', spec: '@annually', from: '2024-06-01T00:00:00Z', want: ['2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'] },
    { name: '@every counts from the given time, whole seconds', spec: '@every 1m30s', from: '2024-01-01T10:00:00.500Z', want: ['2024-01-01T10:01:30Z', '2024-01-01T10:03:00Z', '2024-01-01T10:04:30Z'] },
    { name: 'wall-clock times in a zone', spec: '0 9 * * *', zone: 'Asia/Tokyo', from: '2023-12-31T12:00:00Z', want: ['2024-01-01T09:00:00+09:00', '2024-01-02T09:00:00+09:00', '2024-01-03T09:00:00+09:00'] },
    { name: 'a TZ= prefix overrides the default zone', spec: 'TZ=Asia/Tokyo 0 9 * * *', from: '2023-12-31T12:00:00Z', want: ['2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z', '2024-01-03T00:00:00Z'] },
    { name: 'CRON_TZ= too', spec: 'CRON_TZ=America/New_York 0 0 * * *', from: '2024-01-01T00:00:00Z', want: ['2024-01-01T05:00:00Z', '2024-01-02T05:00:00Z', '2024-01-03T05:00:00Z'] },
    { name: 'DST spring forward: a time in the skipped hour does not run that day', spec: '30 2 * * *', zone: 'America/New_York', from: '2024-03-09T12:00:00Z', want: ['2024-03-11T02:30:00-04:00', '2024-03-12T02:30:00-04:00', '2024-03-13T02:30:00-04:00'] },
    { name: 'DST spring forward: hourly skips the missing hour', spec: '0 * * * *', zone: 'America/New_York', from: '2024-03-10T05:30:00Z', want: ['2024-03-10T01:00:00-05:00', '2024-03-10T03:00:00-04:00', '2024-03-10T04:00:00-04:00'] },
    { name: 'DST fall back: a time in the repeated hour runs twice', spec: '30 1 * * *', zone: 'America/New_York', from: '2024-11-02T12:00:00Z', want: ['2024-11-03T01:30:00-04:00', '2024-11-03T01:30:00-05:00', '2024-11-04T01:30:00-05:00'] },
    { name: 'DST in Europe: daily times keep their wall clock across the change', spec: '0 12 * * *', zone: 'Europe/Berlin', from: '2024-03-30T00:00:00Z', want: ['2024-03-30T12:00:00+01:00', '2024-03-31T12:00:00+02:00', '2024-04-01T12:00:00+02:00'] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(nextTimes(c.spec, c.from, c.zone), c.want));
  }
});

describe('cron schedule: parse errors (robfig messages)', () => {
  const cases: Array<{ name: string; spec: string; error: string }> = [
    { name: 'empty', spec: '', error: 'empty spec string' },
    { name: 'too few fields', spec: '* * * *', error: 'expected exactly 5 fields, found 4: [* * * *]' },
    { name: 'six fields (seconds are not standard)', spec: '0 * * * * *', error: 'expected exactly 5 fields, found 6: [0 * * * * *]' },
    { name: 'minute above 59', spec: '60 * * * *', error: 'end of range (60) above maximum (59): 60' },
    { name: 'day of month 0', spec: '* * 0 * *', error: 'beginning of range (0) below minimum (1): 0' },
    { name: 'weekday 7', spec: '* * * * 7', error: 'end of range (7) above maximum (6): 7' },
    { name: 'a reversed range', spec: '30-10 * * * *', error: 'beginning of range (30) beyond end of range (10): 30-10' },
    { name: 'a zero step', spec: '*/0 * * * *', error: 'step of range should be a positive number: */0' },
    { name: 'not a number', spec: 'x * * * *', error: 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax' },
    { name: 'too many hyphens', spec: '1-2-3 * * * *', error: 'too many hyphens: 1-2-3' },
    { name: 'too many slashes', spec: '*/2/3 * * * *', error: 'too many slashes: */2/3' },
    { name: 'an unknown descriptor', spec: '@fortnightly', error: 'unrecognized descriptor: @fortnightly' },
    { name: 'a bad @every duration', spec: '@every soon', error: 'failed to parse duration @every soon: time: invalid duration "soon"' },
    { name: 'an unknown zone', spec: 'TZ=Mars/Olympus 0 * * * *', error: 'provided bad location Mars/Olympus: unknown time zone Mars/Olympus' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(() => parseStandard(c.spec, Zone.UTC), (err: unknown) => {
        assert.ok(err instanceof CronParseError);
        assert.equal(err.message, c.error);
        return true;
      });
    });
  }
});

describe('time zones and durations', () => {
  it('loads "" and UTC as UTC, rejects unknown and path-like names', () => {
    assert.equal(Zone.load('').name, 'UTC');
    assert.equal(Zone.load('UTC').name, 'UTC');
    assert.throws(() => Zone.load('Nowhere/Atall'), UnknownTimeZoneError);
    assert.throws(() => Zone.load('../etc/passwd'), /unknown time zone \.\.\/etc\/passwd/);
  });
  it('formats RFC 3339 with the zone offset, Z for zero offsets', () => {
    const t = Date.parse('2024-07-01T12:00:00Z');
    assert.equal(Zone.load('Asia/Kolkata').formatRFC3339(t), '2024-07-01T17:30:00+05:30');
    assert.equal(Zone.load('America/Los_Angeles').formatRFC3339(t), '2024-07-01T05:00:00-07:00');
    assert.equal(Zone.load('Europe/London').formatRFC3339(Date.parse('2024-01-01T12:00:00Z')), '2024-01-01T12:00:00Z');
  });
  it('parses Go durations', () => {
    assert.deepEqual(['1h', '1m30s', '1.5s', '250ms', '0', '-2m'].map(parseGoDuration), [3_600_000, 90_000, 1500, 250, 0, -120_000]);
    assert.throws(() => parseGoDuration('5'), /missing unit|invalid duration|unknown unit/);
  });
});
