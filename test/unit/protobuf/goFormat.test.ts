import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtobufDecodeError } from '../../../src/api/protobuf/errors.js';
import { formatGoDuration, formatRfc3339, formatRfc3339Micro } from '../../../src/api/protobuf/goFormat.js';

test('durations print as Go prints time.Duration', () => {
  const cases: [bigint, string][] = [
    [0n, '0s'],
    [1n, '1ns'],
    [999n, '999ns'],
    [1_500n, '1.5µs'],
    [1_000_000n, '1ms'],
    [1_234_567n, '1.234567ms'],
    [1_500_000_000n, '1.5s'],
    [60_000_000_000n, '1m0s'],
    [90_000_000_000n, '1m30s'],
    [3_600_000_000_000n, '1h0m0s'],
    [3_723_500_000_000n, '1h2m3.5s'],
    [100n * 3_600_000_000_000n + 1n, '100h0m0.000000001s'],
    [-2_000_000_000n, '-2s'],
    [-1_500n, '-1.5µs'],
    [-(2n ** 63n), '-2562047h47m16.854775808s'],
    [2n ** 63n - 1n, '2562047h47m16.854775807s'],
  ];
  for (const [ns, want] of cases) assert.equal(formatGoDuration(ns), want, `${ns}ns`);
});

test('times print as RFC 3339 in UTC, MicroTime with six fraction digits', () => {
  const cases: [string, string, string][] = [
    ['the epoch', formatRfc3339(0n), '1970-01-01T00:00:00Z'],
    ['a date', formatRfc3339(1_704_164_645n), '2024-01-02T03:04:05Z'],
    ['before the epoch', formatRfc3339(-86_401n), '1969-12-30T23:59:59Z'],
    ['year 0000', formatRfc3339(-62_167_219_200n), '0000-01-01T00:00:00Z'],
    ['year 9999', formatRfc3339(253_402_300_799n), '9999-12-31T23:59:59Z'],
    ['micro, truncated', formatRfc3339Micro(1_704_164_645n, 123_456_789n), '2024-01-02T03:04:05.123456Z'],
    ['micro, whole seconds', formatRfc3339Micro(1_704_164_645n, 0n), '2024-01-02T03:04:05.000000Z'],
    ['micro, negative nanos borrow a second', formatRfc3339Micro(0n, -1_000n), '1969-12-31T23:59:59.999999Z'],
    ['micro, less than a microsecond below zero truncates to zero', formatRfc3339Micro(0n, -999n), '1970-01-01T00:00:00.000000Z'],
    ['micro, nanos past a second carry', formatRfc3339Micro(0n, 1_500_000_000n), '1970-01-01T00:00:01.500000Z'],
  ];
  for (const [name, got, want] of cases) assert.equal(got, want, name);
});

test('times outside years 0000-9999 are refused', () => {
  for (const s of [253_402_300_800n, -62_167_219_201n, 2n ** 62n]) {
    assert.throws(() => formatRfc3339(s), (e: unknown) => e instanceof ProtobufDecodeError && e.code === 'Malformed', `${s}`);
  }
});
