import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { EvictionConfigError, evictionMessage, isCriticalPod, parseThresholds, rankForEviction, thresholdsMet } from '../../../../src/kubelet/eviction/eviction.js';
import { EvictionManager } from '../../../../src/kubelet/eviction/manager.js';

const pod = (name: string, opts: { memRequest?: string; priority?: number; annotations?: Record<string, string> } = {}): Pod => ({
  metadata: { name, namespace: 'default', uid: name, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
  spec: { containers: [{ name: 'c', ...(opts.memRequest ? { resources: { requests: { memory: opts.memRequest } } } : {}) }], ...(opts.priority !== undefined ? { priority: opts.priority } : {}) },
});

describe('eviction thresholds', () => {
  it('parse the flag form and the map form', () => {
    assert.deepEqual(parseThresholds('memory.available<100Mi,nodefs.available<10%'), [
      { signal: 'memory.available', quantity: 100 << 20, text: '100Mi' },
      { signal: 'nodefs.available', percentage: 0.1, text: '10%' },
    ]);
    assert.deepEqual(parseThresholds({ 'pid.available': '5%' }), [{ signal: 'pid.available', percentage: 0.05, text: '5%' }]);
  });
  for (const bad of ['memory.available>1Gi', 'cpu.available<1', 'memory.available<150%', 'memory.available<lots']) {
    it(`reject ${bad}`, () => assert.throws(() => parseThresholds(bad), EvictionConfigError));
  }
  it('are met when the signal falls below them', () => {
    const t = parseThresholds('memory.available<100Mi,nodefs.available<10%');
    const met = thresholdsMet(t, { 'memory.available': { available: 50 << 20, capacity: 1 << 30 }, 'nodefs.available': { available: 50, capacity: 100 } });
    assert.deepEqual(
      met.map((x) => x.signal),
      ['memory.available'],
    );
  });
});

describe('eviction ranking', () => {
  it('puts pods above their requests first, then lower priority, then the larger excess', () => {
    const ranked = rankForEviction(
      [
        { pod: pod('within', { memRequest: '1Gi' }), containers: { c: 100 << 20 } },
        { pod: pod('over-high-prio', { priority: 1000 }), containers: { c: 500 << 20 } },
        { pod: pod('over-small'), containers: { c: 10 << 20 } },
        { pod: pod('over-big'), containers: { c: 300 << 20 } },
      ],
      'memory.available',
    );
    assert.deepEqual(
      ranked.map((r) => r.pod.metadata!.name),
      ['over-big', 'over-small', 'over-high-prio', 'within'],
    );
  });
  it('writes upstream’s message', () => {
    const [t] = parseThresholds('memory.available<100Mi');
    assert.equal(
      evictionMessage(t!, { available: 50 << 20, capacity: 1 << 30 }, { pod: pod('hog'), containers: { c: 80 << 20 } }),
      'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. Container c was using 81920Ki, request is 0, has larger consumption of memory. ',
    );
  });
  it('never picks static, mirror or system-critical pods', () => {
    assert.equal(isCriticalPod(pod('s', { annotations: { 'kubernetes.io/config.source': 'file' } })), true);
    assert.equal(isCriticalPod(pod('crit', { priority: 2_000_001_000 })), true);
    assert.equal(isCriticalPod(pod('plain')), false);
  });
});

describe('EvictionManager', () => {
  it('evicts one pod per round under pressure and holds the condition for the transition period', async () => {
    let now = 0;
    let mem = 50 << 20;
    const evicted: string[] = [];
    const m = new EvictionManager({
      thresholds: parseThresholds('memory.available<100Mi'),
      observe: async () => ({ 'memory.available': { available: mem, capacity: 1 << 30 } }),
      podUsages: async (_s, pods) => pods.map((p) => ({ pod: p, containers: { c: p.metadata!.name === 'hog' ? 200 << 20 : 1 << 20 } })),
      activePods: () => [pod('small'), pod('hog')],
      evict: async (p) => void evicted.push(p.metadata!.name!),
      pressureTransitionMs: 1000,
      now: () => now,
    });
    await m.synchronize();
    assert.deepEqual(evicted, ['hog']);
    assert.equal(m.pressure().memory, true);
    mem = 500 << 20;
    now = 500;
    await m.synchronize();
    assert.equal(evicted.length, 1);
    assert.equal(m.pressure().memory, true);
    now = 1500;
    assert.equal(m.pressure().memory, false);
  });
});
