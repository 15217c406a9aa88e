import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { criLogLine } from '../../../../src/kubelet/runtime/types.js';
import {
  LogParseError,
  LogWriter,
  formatRFC3339Nano,
  parseCriLogLine,
  parseRFC3339Nano,
  tailStart,
  writeContainerLogs,
  type CriLogRecord,
  type LogOptions,
} from '../../../../src/kubelet/server/logs.js';
import { tempDir } from '../../../support/tmp.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const ns = (s: number) => BigInt(at(s).getTime()) * 1_000_000n;

describe('CRI log lines', () => {
  const cases: { name: string; line: string; want: Partial<CriLogRecord> | 'error' }[] = [
    { name: 'a full stdout line', line: '2026-01-01T00:00:01.123456789Z stdout F hello world', want: { stream: 'stdout', partial: false, content: Buffer.from('hello world'), timestamp: ns(1) + 123_456_789n } },
    { name: 'a partial stderr line', line: '2026-01-01T00:00:01Z stderr P part', want: { stream: 'stderr', partial: true, content: Buffer.from('part') } },
    { name: 'tags after the first are ignored', line: '2026-01-01T00:00:01Z stdout F:x:y tagged', want: { partial: false, content: Buffer.from('tagged') } },
    { name: 'an empty full line ends at the tag', line: '2026-01-01T00:00:01Z stdout F', want: { partial: false, content: Buffer.alloc(0) } },
    { name: 'content keeps its own spaces', line: '2026-01-01T00:00:01Z stdout F  two  spaces ', want: { content: Buffer.from(' two  spaces ') } },
    { name: 'a zone offset is honoured', line: '2026-01-01T01:00:01+01:00 stdout F x', want: { timestamp: ns(1) } },
    { name: 'a bad timestamp is an error', line: 'yesterday stdout F x', want: 'error' },
    { name: 'an unknown stream is an error', line: '2026-01-01T00:00:01Z stdin F x', want: 'error' },
    { name: 'an unknown tag is an error', line: '2026-01-01T00:00:01Z stdout X x', want: 'error' },
    { name: 'a line without fields is an error', line: 'garbage', want: 'error' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.want === 'error') {
        assert.throws(() => parseCriLogLine(Buffer.from(c.line)), LogParseError);
        return;
      }
      const got = parseCriLogLine(Buffer.from(c.line));
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof CriLogRecord], v, k);
    });
  }

  it('round-trips what the runtimes write (criLogLine)', () => {
    const line = criLogLine('stderr', 'boom', true, at(5)).trimEnd();
    const r = parseCriLogLine(Buffer.from(line));
    assert.deepEqual([r.stream, r.partial, r.content.toString(), r.timestamp], ['stderr', true, 'boom', ns(5)]);
  });

  it('formats timestamps as Go RFC3339Nano, trailing zeros dropped', () => {
    assert.equal(formatRFC3339Nano(ns(1)), '2026-01-01T00:00:01Z');
    assert.equal(formatRFC3339Nano(ns(1) + 120_000_000n), '2026-01-01T00:00:01.12Z');
    assert.equal(formatRFC3339Nano(ns(1) + 1n), '2026-01-01T00:00:01.000000001Z');
    assert.equal(parseRFC3339Nano('2026-01-01T00:00:01.5Z'), ns(1) + 500_000_000n);
  });
});

const rec = (s: number, stream: 'stdout' | 'stderr', content: string, partial = false): CriLogRecord => ({ timestamp: ns(s), stream, partial, content: Buffer.from(content) });

function render(records: CriLogRecord[], opts: LogOptions): string {
  let out = '';
  const w = new LogWriter(opts, (b) => (out += b.toString()));
  for (const r of records.slice(tailStart(records, opts.tailLines))) if (!w.record(r)) break;
  return out;
}

describe('LogWriter and tail', () => {
  const records = [rec(1, 'stdout', 'one'), rec(2, 'stderr', 'err'), rec(3, 'stdout', 'tw', true), rec(4, 'stdout', 'o'), rec(5, 'stdout', 'three')];
  const cases: { name: string; opts: LogOptions; want: string }[] = [
    { name: 'joins partial records into one line', opts: {}, want: 'one\nerr\ntwo\nthree\n' },
    { name: 'tail counts whole lines, not records', opts: { tailLines: 2 }, want: 'two\nthree\n' },
    { name: 'tail 0 writes nothing', opts: { tailLines: 0 }, want: '' },
    { name: 'tail larger than the file writes all', opts: { tailLines: 99 }, want: 'one\nerr\ntwo\nthree\n' },
    { name: 'timestamps prefix each line with its first record time', opts: { timestamps: true, tailLines: 2 }, want: '2026-01-01T00:00:03Z two\n2026-01-01T00:00:05Z three\n' },
    { name: 'since skips earlier lines, continuations included', opts: { since: ns(4) }, want: 'three\n' },
    { name: 'since keeps lines at the instant', opts: { since: ns(2) }, want: 'err\ntwo\nthree\n' },
    { name: 'limitBytes cuts the output mid-line', opts: { limitBytes: 6 }, want: 'one\ner' },
    { name: 'stream picks one of stdout and stderr', opts: { stream: 'stderr' }, want: 'err\n' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(render(records, c.opts), c.want));
});

describe('writeContainerLogs', () => {
  const collect = (stream: PassThrough) => {
    let s = '';
    stream.on('data', (d: Buffer) => (s += d.toString()));
    return () => s;
  };

  it('skips malformed lines and reports them', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, '0.log');
      writeFileSync(file, `${criLogLine('stdout', 'ok', false).trimEnd()}\nnot a cri line\n${criLogLine('stdout', 'fine', false)}`);
      const out = new PassThrough();
      const got = collect(out);
      const bad: string[] = [];
      await writeContainerLogs(file, {}, out, undefined);
      assert.equal(got(), 'ok\nfine\n');
      await writeContainerLogs(file, {}, new PassThrough().resume(), { isRunning: async () => false, onParseError: (_e, l) => bad.push(l.toString()) });
      assert.deepEqual(bad, ['not a cri line']);
    } finally {
      dir.remove();
    }
  });

  it('follows appended lines and a rotated file until the container stops', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, '0.log');
      writeFileSync(file, criLogLine('stdout', 'first', false));
      const out = new PassThrough();
      const got = collect(out);
      let running = true;
      const done = writeContainerLogs(file, { tailLines: 0 }, out, { isRunning: async () => running, stateCheckMs: 50 });
      await new Promise((r) => setTimeout(r, 100));
      // A line written in two appends arrives whole.
      appendFileSync(file, criLogLine('stdout', 'second', false).slice(0, 10));
      await new Promise((r) => setTimeout(r, 100));
      appendFileSync(file, criLogLine('stdout', 'second', false).slice(10));
      for (let i = 0; i < 40 && !got().includes('second'); i++) await new Promise((r) => setTimeout(r, 25));
      // Rotation: the kubelet renames the file and the runtime reopens a new one at the path.
      const { renameSync } = await import('node:fs');
      renameSync(file, `${file}.1`);
      writeFileSync(file, criLogLine('stderr', 'after rotation', false));
      for (let i = 0; i < 40 && !got().includes('rotation'); i++) await new Promise((r) => setTimeout(r, 25));
      running = false;
      await done;
      assert.equal(got(), 'second\nafter rotation\n');
    } finally {
      dir.remove();
    }
  });

  it('stops following when aborted', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, '0.log');
      writeFileSync(file, '');
      const ac = new AbortController();
      const done = writeContainerLogs(file, {}, new PassThrough().resume(), { isRunning: async () => true, signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await done;
    } finally {
      dir.remove();
    }
  });
});
