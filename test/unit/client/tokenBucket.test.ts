import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/client/clock.js';
import { TokenBucket } from '../../../src/client/tokenBucket.js';
import { microTime, rfc3339 } from '../../../src/client/microTime.js';

describe('TokenBucket', () => {
  it('waits for a token when the burst is spent and gives the token back if the wait is aborted', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(5, 2, clock);
    await b.wait();
    await b.wait();
    let done = false;
    const p = b.wait().then(() => (done = true));
    clock.step(199);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    clock.step(1);
    await p;
    assert.equal(done, true);
    const ac = new AbortController();
    const q = b.wait(ac.signal);
    ac.abort(new Error('stop'));
    await assert.rejects(q, /stop/);
    clock.step(200);
    assert.equal(b.tryAccept(), true, 'the aborted waiter returned its token');
    assert.equal(b.tryAccept(), false);
  });
});

describe('time formats', () => {
  it('writes MicroTime with six fractional digits and Time with none', () => {
    const t = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    assert.equal(microTime(t), '2025-01-02T03:04:05.678000Z');
    assert.equal(rfc3339(t), '2025-01-02T03:04:05Z');
  });
});
