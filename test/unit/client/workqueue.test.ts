// client-go's workqueue contract, case by case, on a fake clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/client/clock.js';
import { BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter, defaultControllerRateLimiter } from '../../../src/client/rateLimiter.js';
import { DelayingQueue, RateLimitingQueue, WorkQueue } from '../../../src/client/workqueue.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('hands items out in order and ignores an add of an item already waiting', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.len(), 0);
  });

  it('never hands out an item being processed; re-added while processing, it comes back once after done', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const item = await q.get();
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'a dirty item being processed is not queued');
    let second: string | undefined;
    void q.get().then((v) => (second = v));
    await tick();
    assert.equal(second, undefined, 'a second worker must not get the item while it is processed');
    q.done(item!);
    await tick();
    assert.equal(second, 'a');
    q.done('a');
    assert.equal(q.len(), 0);
  });

  it('wakes a waiting get when an item is added', async () => {
    const q = new WorkQueue<string>();
    const p = q.get();
    q.add('x');
    assert.equal(await p, 'x');
  });

  it('returns undefined to waiting getters on shutdown, but still drains what was queued', async () => {
    const q = new WorkQueue<string>();
    const waiting = q.get();
    q.shutDown();
    assert.equal(await waiting, undefined);
    const q2 = new WorkQueue<string>();
    q2.add('left');
    q2.shutDown();
    q2.add('ignored');
    assert.equal(await q2.get(), 'left');
    assert.equal(await q2.get(), undefined);
  });

  it('resolves get with undefined when its signal aborts', async () => {
    const q = new WorkQueue<string>();
    const ac = new AbortController();
    const p = q.get(ac.signal);
    ac.abort();
    assert.equal(await p, undefined);
    q.add('later');
    assert.equal(await q.get(), 'later', 'the aborted getter must not swallow items');
  });

  it('shutDownWithDrain waits until every handed-out item is done', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const a = await q.get();
    let drained = false;
    const p = q.shutDownWithDrain().then(() => (drained = true));
    await tick();
    assert.equal(drained, false);
    q.done(a!);
    await p;
    assert.equal(drained, true);
  });
});

describe('DelayingQueue', () => {
  it('adds an item once its delay has passed, and the earlier of two delays wins', async () => {
    const clock = new FakeClock(1000);
    const q = new DelayingQueue<string>({ clock });
    q.addAfter('a', 50);
    q.addAfter('a', 20);
    q.addAfter('b', 0);
    assert.equal(q.len(), 1, 'a zero delay adds at once');
    clock.step(19);
    assert.equal(q.len(), 1);
    clock.step(1);
    assert.equal(q.len(), 2);
    assert.equal(q.waitingLen(), 0);
    clock.step(100);
    assert.equal(q.len(), 2, 'the later, superseded timer must not add it again');
  });

  it('drops waiting items on shutdown', () => {
    const clock = new FakeClock();
    const q = new DelayingQueue<string>({ clock });
    q.addAfter('a', 10);
    q.shutDown();
    clock.step(20);
    assert.equal(q.len(), 0);
  });
});

describe('rate limiters', () => {
  it('per-item exponential back-off doubles from the base up to the cap, per item, until forgotten', () => {
    const rl = new ItemExponentialFailureRateLimiter<string>(5, 1000_000);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => rl.when('a')), [5, 10, 20, 40, 80]);
    assert.equal(rl.when('b'), 5);
    assert.equal(rl.numRequeues('a'), 5);
    for (let i = 0; i < 30; i++) rl.when('a');
    assert.equal(rl.when('a'), 1000_000);
    rl.forget('a');
    assert.equal(rl.numRequeues('a'), 0);
    assert.equal(rl.when('a'), 5);
  });

  it('the bucket allows burst at once, then one per 1/qps, and refills with time', () => {
    const clock = new FakeClock();
    const rl = new BucketRateLimiter<string>(10, 100, clock);
    for (let i = 0; i < 100; i++) assert.equal(rl.when('x'), 0);
    assert.equal(Math.round(rl.when('x')), 100);
    assert.equal(Math.round(rl.when('x')), 200);
    clock.step(1000);
    // 10 tokens refilled, 2 owed: 8 immediate
    for (let i = 0; i < 8; i++) assert.equal(rl.when('x'), 0);
    assert.equal(Math.round(rl.when('x')), 100);
  });

  it('max-of takes the longest delay and charges every limiter', () => {
    const clock = new FakeClock();
    const rl = new MaxOfRateLimiter<string>(new ItemExponentialFailureRateLimiter(5, 1000), new BucketRateLimiter(1, 1, clock));
    assert.equal(rl.when('a'), 5);
    assert.equal(Math.round(rl.when('a')), 1000, 'the bucket is empty after one');
    assert.equal(rl.numRequeues('a'), 2);
    rl.forget('a');
    assert.equal(rl.numRequeues('a'), 0);
  });

  it('the default controller limiter starts at 5 ms per item', () => {
    const rl = defaultControllerRateLimiter<string>(new FakeClock());
    assert.equal(rl.when('k'), 5);
    assert.equal(rl.when('k'), 10);
    assert.equal(rl.when('other'), 5);
  });
});

describe('RateLimitingQueue', () => {
  it('requeues a failing item after its growing back-off and forgets it on success', async () => {
    const clock = new FakeClock();
    const q = new RateLimitingQueue<string>({ clock });
    q.addRateLimited('k');
    assert.equal(q.len(), 0);
    clock.step(5);
    assert.equal(q.len(), 1);
    const k = await q.get();
    q.done(k!);
    q.addRateLimited('k');
    clock.step(9);
    assert.equal(q.len(), 0);
    clock.step(1);
    assert.equal(q.len(), 1);
    assert.equal(q.numRequeues('k'), 2);
    q.forget('k');
    assert.equal(q.numRequeues('k'), 0);
  });
});
