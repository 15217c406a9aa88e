// The watch stream's framing: lines cut anywhere (even inside a UTF-8 character), keep-alive blank
// lines, BOOKMARKs, and ERROR events that become ApiErrors.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { ApiError, isGone } from '../../../src/client/apiError.js';
import { WatchLineDecoder, readWatchStream, type DecodedWatchLine } from '../../../src/client/watch.js';

const line = (type: string, object: object) => `${JSON.stringify({ type, object })}\n`;
const cm = (name: string, rv: string, data = '') => ({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name, resourceVersion: rv }, data: { v: data } });
const events = (ds: DecodedWatchLine[]) => ds.map((d) => ('event' in d ? `${d.event.type}:${(d.event.object as { metadata: { name?: string; resourceVersion: string } }).metadata.resourceVersion}` : `error:${d.error.code}`));

describe('WatchLineDecoder', () => {
  const stream = line('ADDED', cm('a', '1', 'ünïcødé ✓')) + '\n' + line('MODIFIED', cm('a', '2')) + line('BOOKMARK', { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '7' } });
  const bytes = Buffer.from(stream, 'utf8');

  const cuts: Array<[string, number[]]> = [
    ['the whole stream in one chunk', []],
    ['every byte a chunk of its own (cutting multi-byte characters)', Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)],
    ['a cut inside the first object and one right after a newline', [10, bytes.indexOf(0x0a) + 1]],
  ];
  for (const [name, at] of cuts) {
    it(`decodes ${name}`, () => {
      const d = new WatchLineDecoder();
      const out: DecodedWatchLine[] = [];
      let prev = 0;
      for (const c of [...at, bytes.length]) {
        out.push(...d.push(bytes.subarray(prev, c)));
        prev = c;
      }
      out.push(...d.end());
      assert.deepEqual(events(out), ['ADDED:1', 'MODIFIED:2', 'BOOKMARK:7']);
      const first = out[0];
      assert.ok(first && 'event' in first);
      assert.equal((first.event.object as { data: { v: string } }).data.v, 'ünïcødé ✓');
    });
  }

  it('decodes a last line that has no newline when the stream ends', () => {
    const d = new WatchLineDecoder();
    assert.deepEqual(d.push(line('ADDED', cm('a', '1')).trimEnd()), []);
    assert.deepEqual(events(d.end()), ['ADDED:1']);
  });

  it('turns an ERROR event with an Expired Status into a 410 ApiError', () => {
    const d = new WatchLineDecoder();
    const out = d.push(line('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', message: 'too old resource version: 1 (5)' }));
    const e = out[0];
    assert.ok(e && 'error' in e);
    assert.equal(e.error.code, 410);
    assert.ok(isGone(e.error));
  });

  it('reports a line that is not JSON as an error', () => {
    const out = new WatchLineDecoder().push('{nope\n');
    assert.ok(out[0] && 'error' in out[0]);
  });
});

describe('readWatchStream', () => {
  it('yields events and throws the ERROR event as ApiError', async () => {
    const body = Readable.from([Buffer.from(line('ADDED', cm('a', '1')) + line('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'gone' }))]);
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const ev of readWatchStream<{ metadata: { name: string } }>(body)) seen.push(ev.object.metadata.name);
      })(),
      (err: unknown) => err instanceof ApiError && err.code === 410,
    );
    assert.deepEqual(seen, ['a']);
  });

  it('ends quietly when its signal aborts while waiting for data', async () => {
    const body = new Readable({ read() {} });
    body.push(line('ADDED', cm('a', '1')));
    const ac = new AbortController();
    const seen: string[] = [];
    for await (const ev of readWatchStream<{ metadata: { name: string } }>(body, ac.signal)) {
      seen.push(ev.object.metadata.name);
      ac.abort();
    }
    assert.deepEqual(seen, ['a']);
    assert.ok(body.destroyed);
  });
});
