import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CriLineSplitter } from '../../../../src/kubelet/runtime/process/criLog.js';
import { FrameDecoder, encodeFrame } from '../../../../src/kubelet/runtime/process/shimProtocol.js';
import { shellQuote } from '../../../../src/kubelet/runtime/process/tty.js';

const at = new Date('2026-01-02T03:04:05.678Z');
function split(chunks: string[], max = 8): string[] {
  const out: string[] = [];
  const s = new CriLineSplitter('stdout', (l) => out.push(l), max, () => at);
  for (const c of chunks) s.write(Buffer.from(c));
  s.end();
  return out.map((l) => l.replace('2026-01-02T03:04:05.678000000Z stdout ', '').replace(/\n$/, ''));
}

describe('CriLineSplitter', () => {
  const cases: { name: string; chunks: string[]; want: string[] }[] = [
    { name: 'one line per newline', chunks: ['a\nb\n'], want: ['F a', 'F b'] },
    { name: 'a line across chunks', chunks: ['ab', 'c\n'], want: ['F abc'] },
    { name: 'an empty line', chunks: ['\n'], want: ['F '] },
    { name: 'a trailing line without newline is flushed at end as F', chunks: ['tail'], want: ['F tail'] },
    { name: 'exactly max bytes then newline is one full line', chunks: ['12345678\n'], want: ['F 12345678'] },
    { name: 'longer than max: P pieces then F', chunks: ['1234567890abcdefXY\n'], want: ['P 12345678', 'P 90abcdef', 'F XY'] },
    { name: 'long line split across chunks', chunks: ['12345', '6789', '0\n'], want: ['P 12345678', 'F 90'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(split(c.chunks), c.want));
  it('writes RFC3339Nano timestamps and the stream name', () => {
    const out: string[] = [];
    const s = new CriLineSplitter('stderr', (l) => out.push(l), 16, () => at);
    s.write(Buffer.from('x\n'));
    assert.deepEqual(out, ['2026-01-02T03:04:05.678000000Z stderr F x\n']);
  });
});

describe('shim frames', () => {
  it('round-trip across arbitrary chunk boundaries', () => {
    const wire = Buffer.concat([encodeFrame(1, 'hello'), encodeFrame(2, Buffer.alloc(0)), encodeFrame(3, '{"exitCode":1}')]);
    const got: [number, string][] = [];
    const d = new FrameDecoder((k, p) => got.push([k, p.toString()]));
    for (let i = 0; i < wire.length; i += 3) d.push(wire.subarray(i, i + 3));
    assert.deepEqual(got, [[1, 'hello'], [2, ''], [3, '{"exitCode":1}']]);
  });
});

describe('shellQuote', () => {
  it('quotes what the shell would split or expand', () => {
    assert.equal(shellQuote(['runc', '--root', '/a b', "it's", '$HOME', 'x=1']), `runc --root '/a b' 'it'\\''s' '$HOME' x=1`);
  });
});
