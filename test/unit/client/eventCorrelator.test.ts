// The core/v1 event correlator: repeats become count patches, many similar events fold into one
// "(combined from similar events)" event, and a source that floods one object is throttled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Event } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../../src/client/clock.js';
import { COMBINED_PREFIX, EventCorrelator, eventName } from '../../../src/client/eventCorrelator.js';

let seq = 0;
const ev = (reason: string, message: string, ts = '2025-01-01T00:00:00Z'): Event => ({
  metadata: { name: `web.${(seq++).toString(16)}`, namespace: 'default' },
  involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: 'default', name: 'web', uid: 'u1' },
  reason,
  message,
  type: 'Normal',
  count: 1,
  firstTimestamp: ts,
  lastTimestamp: ts,
  source: { component: 'test' },
});

describe('EventCorrelator', () => {
  it('turns an identical repeat into a patch of the first event’s count, lastTimestamp and message', () => {
    const c = new EventCorrelator({ clock: new FakeClock(0) });
    const first = c.correlate(ev('Pulled', 'image pulled'));
    assert.equal(first.patch, undefined);
    c.updateState({ ...first.event, metadata: { ...first.event.metadata, resourceVersion: '42' } });
    const again = c.correlate(ev('Pulled', 'image pulled', '2025-01-01T00:01:00Z'));
    assert.equal(again.skip, false);
    assert.equal(again.event.metadata?.name, first.event.metadata?.name);
    assert.equal(again.event.count, 2);
    assert.equal(again.event.firstTimestamp, '2025-01-01T00:00:00Z');
    assert.deepEqual(again.patch, { count: 2, lastTimestamp: '2025-01-01T00:01:00Z', message: 'image pulled' });
  });

  it('combines similar events (same reason, different messages) from the tenth within the window', () => {
    const clock = new FakeClock(1_000_000);
    const c = new EventCorrelator({ clock });
    const results = Array.from({ length: 12 }, (_, i) => c.correlate(ev('BackOff', `attempt ${i}`)));
    for (const r of results.slice(0, 9)) assert.ok(!r.event.message?.startsWith(COMBINED_PREFIX));
    const tenth = results[9]!;
    assert.equal(tenth.event.message, `${COMBINED_PREFIX}attempt 9`);
    assert.equal(tenth.event.count, 1);
    const eleventh = results[10]!;
    assert.equal(eleventh.event.message, `${COMBINED_PREFIX}attempt 10`);
    assert.equal(eleventh.event.count, 2, 'later similar events count up the combined event');
    assert.equal(eleventh.event.metadata?.name, tenth.event.metadata?.name);
    clock.step(601_000);
    const fresh = c.correlate(ev('BackOff', 'after a quiet while'));
    assert.equal(fresh.event.message, 'after a quiet while', 'the window restarts after 10 quiet minutes');
  });

  it('lets 25 events about one object through, then one per five minutes', () => {
    const clock = new FakeClock(0);
    const c = new EventCorrelator({ clock, maxEvents: 1000 });
    const skipped = Array.from({ length: 27 }, (_, i) => c.correlate(ev(`R${i}`, 'm')).skip);
    assert.deepEqual(skipped, [...Array(25).fill(false), true, true]);
    clock.step(300_000);
    assert.equal(c.correlate(ev('R99', 'm')).skip, false);
    assert.equal(c.correlate(ev('R100', 'm')).skip, true);
  });

  it('names events <object>.<unix nanoseconds in hex>', () => {
    assert.equal(eventName('web', 1_700_000_000_000), `web.${(1_700_000_000_000n * 1_000_000n).toString(16)}`);
    assert.match(eventName('web', Date.now()), /^web\.[0-9a-f]{16}$/);
  });
});
