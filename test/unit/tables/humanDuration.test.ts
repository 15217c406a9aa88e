import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ageSince, humanDuration } from '../../../src/api/tables/index.js';
import { ago, NOW } from './clock.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const Y = 365 * D;

describe('humanDuration', () => {
  const cases: Array<[string, number, string]> = [
    ['more than a second in the future is invalid', -2 * S, '<invalid>'],
    ['just under two seconds in the future still counts as now', -1.9 * S, '0s'],
    ['a second in the future is now', -1 * S, '0s'],
    ['now is 0s', 0, '0s'],
    ['sub-second durations truncate to 0s', 999, '0s'],
    ['59 seconds stay in seconds', 59 * S, '59s'],
    ['seconds run up to two minutes', 119 * S, '119s'],
    ['two minutes switch to minutes', 2 * M, '2m'],
    ['minutes under ten keep their seconds', 2 * M + 3 * S, '2m3s'],
    ['nine minutes 59 seconds', 9 * M + 59 * S, '9m59s'],
    ['ten minutes drop the seconds', 10 * M + 30 * S, '10m'],
    ['minutes run up to three hours', 179 * M, '179m'],
    ['a hundred minutes (upstream\'s "an hour ago" case)', 100 * M, '100m'],
    ['three hours switch to hours', 3 * H, '3h'],
    ['hours under eight keep their minutes', 3 * H + 5 * M, '3h5m'],
    ['eight hours drop the minutes', 8 * H + 5 * M, '8h'],
    ['hours run up to two days', 47 * H + 59 * M, '47h'],
    ['two days switch to days', 2 * D, '2d'],
    ['days under eight keep their hours', 2 * D + 3 * H, '2d3h'],
    ['seven days 23 hours', 7 * D + 23 * H, '7d23h'],
    ['eight days drop the hours', 8 * D + 5 * H, '8d'],
    ['ninety days', 90 * D, '90d'],
    ['days run up to two years', 2 * Y - D, '729d'],
    ['two years switch to years', 2 * Y, '2y'],
    ['years under eight keep their days', 2 * Y + 45 * D, '2y45d'],
    ['eight years drop the days', 8 * Y + 45 * D, '8y'],
    ['ten years', 10 * Y, '10y'],
  ];
  for (const [name, ms, want] of cases) it(name, () => assert.equal(humanDuration(ms), want));
});

describe('ageSince', () => {
  const cases: Array<[string, unknown, string]> = [
    ['an absent timestamp is <unknown>', undefined, '<unknown>'],
    ['an empty timestamp is <unknown>', '', '<unknown>'],
    ["Go's zero time is <unknown>", '0001-01-01T00:00:00Z', '<unknown>'],
    ['thirty seconds ago', ago(30), '30s'],
    ['five minutes ago', ago(5, 'm'), '5m'],
    ['two days ago', ago(2, 'd'), '2d'],
    ['a microsecond timestamp (MicroTime) parses too', '2024-05-01T11:59:00.123456Z', '59s'],
    ['a timestamp with an offset parses too', '2024-05-01T13:59:00+02:00', '60s'],
  ];
  for (const [name, ts, want] of cases) it(name, () => assert.equal(ageSince(ts, NOW), want));
});
