import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { SchedulingQueue } from '../../../src/scheduler/queue.js';
import { ActionType, Code, type ClusterEventWithHint } from '../../../src/scheduler/framework/types.js';
import { pod } from './fakes.js';

function queue(now: { t: number }, gate?: (p: Readonly<Pod>) => boolean) {
  const events = new Map<string, readonly ClusterEventWithHint[]>([
    ['Fit', [{ event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeAllocatable } }]],
    ['Taints', [{ event: { resource: 'Node', actionType: ActionType.UpdateNodeTaint }, hint: (_p, _o, n) => ((n as { ok?: boolean }).ok ? 'Queue' : 'QueueSkip') }]],
  ]);
  return new SchedulingQueue({
    less: (a, b) => (a.pod.spec?.priority ?? 0) > (b.pod.spec?.priority ?? 0) || ((a.pod.spec?.priority ?? 0) === (b.pod.spec?.priority ?? 0) && a.initialAttemptTimestamp < b.initialAttemptTimestamp),
    preEnqueue: (p) => (gate?.(p) ? { code: Code.UnschedulableAndUnresolvable, reasons: ['gated'], plugin: 'SchedulingGates' } : undefined),
    eventsByPlugin: () => events,
    now: () => now.t,
  });
}

const unsched = { code: Code.Unschedulable, reasons: ['no'] };

describe('SchedulingQueue', () => {
  it('pops higher priority first, then the pod that waited longest', async () => {
    const now = { t: 0 };
    const q = queue(now);
    q.add(pod('a', { priority: 1 }));
    now.t = 1;
    q.add(pod('b', { priority: 5 }));
    now.t = 2;
    q.add(pod('c', { priority: 1 }));
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await q.pop())!.pod.metadata!.name);
    assert.deepEqual(order, ['b', 'a', 'c']);
  });

  it('parks a rejected pod until an event its rejecting plugin registered for', async () => {
    const now = { t: 0 };
    const q = queue(now);
    const p = pod('p');
    q.add(p);
    const info = (await q.pop())!;
    q.addUnschedulable(info, unsched, ['Fit']);
    assert.equal(q.has(p), 'unschedulable');
    q.moveOnEvent({ resource: 'Node', actionType: ActionType.UpdateNodeTaint }, {}, { ok: true });
    assert.equal(q.has(p), 'unschedulable', 'Fit did not register taint updates');
    now.t = 5000;
    q.moveOnEvent({ resource: 'Node', actionType: ActionType.Add }, undefined, {});
    assert.equal(q.has(p), 'active', 'back-off (1 s) is over, so straight to active');
  });

  it('asks the plugin’s hint whether this particular change can help', async () => {
    const now = { t: 0 };
    const q = queue(now);
    const p = pod('p');
    q.add(p);
    q.addUnschedulable((await q.pop())!, unsched, ['Taints']);
    now.t = 100_000;
    q.moveOnEvent({ resource: 'Node', actionType: ActionType.UpdateNodeTaint }, {}, { ok: false });
    assert.equal(q.has(p), 'unschedulable');
    q.moveOnEvent({ resource: 'Node', actionType: ActionType.UpdateNodeTaint }, {}, { ok: true });
    assert.equal(q.has(p), 'active');
  });

  it('sends a pod to back-off when a relevant event happened during its cycle', async () => {
    const now = { t: 0 };
    const q = queue(now);
    const p = pod('p');
    q.add(p);
    const info = (await q.pop())!;
    q.moveOnEvent({ resource: 'Node', actionType: ActionType.Add }, undefined, {});
    q.addUnschedulable(info, unsched, ['Fit']);
    assert.equal(q.has(p), 'backoff');
  });

  it('backs off 1 s, 2 s, 4 s … up to 10 s per attempt', async () => {
    const now = { t: 0 };
    const q = queue(now);
    const p = pod('p');
    q.add(p);
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      const info = (await q.pop())!;
      const failedAt = now.t;
      q.addUnschedulable(info, { code: Code.Error, reasons: ['boom'] }, []);
      while (q.has(p) !== 'active') {
        now.t += 500;
        q.flushBackoffCompleted();
      }
      waits.push(now.t - failedAt);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it('keeps gated pods out of the active queue until they change', async () => {
    const now = { t: 0 };
    let gated = true;
    const q = queue(now, () => gated);
    const p = pod('p');
    q.add(p);
    assert.equal(q.has(p), 'unschedulable');
    assert.deepEqual(q.pendingCounts(), { active: 0, backoff: 0, unschedulable: 0, gated: 1 });
    gated = false;
    q.update({ ...p, spec: { ...p.spec!, schedulingGates: [] } });
    assert.equal(q.has(p), 'active');
  });

  it('retries a parked pod after five minutes even without an event', async () => {
    const now = { t: 0 };
    const q = queue(now);
    const p = pod('p');
    q.add(p);
    q.addUnschedulable((await q.pop())!, unsched, ['Fit']);
    now.t = 5 * 60_000 + 1;
    q.flushUnschedulableLeftover();
    assert.equal(q.has(p), 'active');
  });

  it('forgets a deleted pod wherever it waits', async () => {
    const now = { t: 0 };
    const q = queue(now);
    const p = pod('p');
    q.add(p);
    q.delete(p);
    assert.equal(q.has(p), undefined);
    const ac = new AbortController();
    const popped = q.pop(ac.signal);
    ac.abort();
    assert.equal(await popped, undefined);
  });
});
