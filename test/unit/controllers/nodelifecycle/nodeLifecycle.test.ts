import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../../../src/client/clock.js';
import { computeZoneState, noScheduleTaintChanges, swapTaints, tryUpdateNodeHealth, zoneEvictionQPS, zoneKey } from '../../../../src/controllers/nodelifecycle/nodeHealth.js';
import { RateLimitedTimedQueue } from '../../../../src/controllers/nodelifecycle/rateLimitedTimedQueue.js';
import { evictionDecision, minTolerationTimeMs } from '../../../../src/controllers/nodelifecycle/taintEvictionPlan.js';

const unreachable: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
const notReady: Taint = { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' };
const tol = (key: string, seconds?: number): Toleration => ({ key, operator: 'Exists', effect: 'NoExecute', ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}) });

describe('taint-based eviction timing', () => {
  const now = 1_000_000;
  const cases: Array<{ name: string; taints: Taint[]; tolerations: Toleration[]; want: ReturnType<typeof evictionDecision> }> = [
    { name: 'no NoExecute taints: nothing planned', taints: [{ key: 'x', effect: 'NoSchedule' }], tolerations: [], want: { kind: 'cancel' } },
    { name: 'an untolerated taint: evicted now', taints: [unreachable], tolerations: [], want: { kind: 'evictNow' } },
    { name: 'tolerated for 2 s: evicted 2 s later', taints: [unreachable], tolerations: [tol(unreachable.key, 2)], want: { kind: 'evictAt', at: now + 2000 } },
    { name: 'tolerated forever: stays', taints: [unreachable], tolerations: [tol(unreachable.key)], want: { kind: 'cancel' } },
    { name: 'the shortest tolerationSeconds of the tolerations in use wins', taints: [unreachable, notReady], tolerations: [tol(unreachable.key, 300), tol(notReady.key, 5)], want: { kind: 'evictAt', at: now + 5000 } },
    { name: 'one taint tolerated, another not: evicted now', taints: [unreachable, notReady], tolerations: [tol(unreachable.key)], want: { kind: 'evictNow' } },
    { name: 'tolerationSeconds 0 or less means at once', taints: [unreachable], tolerations: [tol(unreachable.key, -1)], want: { kind: 'evictAt', at: now } },
    { name: 'an empty-key Exists toleration tolerates everything forever', taints: [unreachable, notReady], tolerations: [{ operator: 'Exists' }], want: { kind: 'cancel' } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(evictionDecision(c.taints, c.tolerations, now), c.want));

  it('minTolerationTime: 0 without tolerations, -1 for forever', () => {
    assert.equal(minTolerationTimeMs([]), 0);
    assert.equal(minTolerationTimeMs([tol('a')]), -1);
    assert.equal(minTolerationTimeMs([tol('a'), tol('b', 7)]), 7000);
  });
});

describe('node health', () => {
  const t0 = Date.parse('2024-01-01T00:00:00Z');
  const node = (ready = 'True', heartbeat = '2024-01-01T00:00:00Z'): Node => ({
    metadata: { name: 'n1', creationTimestamp: '2024-01-01T00:00:00Z' },
    status: { conditions: [{ type: 'Ready', status: ready, lastHeartbeatTime: heartbeat, lastTransitionTime: '2024-01-01T00:00:00Z' }, { type: 'MemoryPressure', status: 'False' }] },
  });
  const lease = (renew: string): Lease => ({ metadata: { name: 'n1' }, spec: { renewTime: renew } });

  it('stays healthy while the Lease is renewed, goes Unknown after the grace period without renewal', () => {
    let r = tryUpdateNodeHealth(node(), undefined, lease('2024-01-01T00:00:00.000000Z'), t0, 3000, 60_000);
    assert.equal(r.write, undefined);
    r = tryUpdateNodeHealth(node(), r.health, lease('2024-01-01T00:00:02.500000Z'), t0 + 2500, 3000, 60_000);
    assert.equal(r.write, undefined);
    r = tryUpdateNodeHealth(node(), r.health, lease('2024-01-01T00:00:02.500000Z'), t0 + 5000, 3000, 60_000);
    assert.equal(r.write, undefined, 'within 3 s of the last renewal');
    r = tryUpdateNodeHealth(node(), r.health, lease('2024-01-01T00:00:02.500000Z'), t0 + 5600, 3000, 60_000);
    assert.ok(r.write);
    assert.equal(r.observedReady.status, 'True');
    assert.deepEqual(
      r.write.status!.conditions!.map((c) => [c.type, c.status, c.reason]),
      [['Ready', 'Unknown', 'NodeStatusUnknown'], ['MemoryPressure', 'Unknown', 'NodeStatusUnknown'], ['DiskPressure', 'Unknown', 'NodeStatusNeverUpdated'], ['PIDPressure', 'Unknown', 'NodeStatusNeverUpdated']],
    );
    assert.equal(r.write.status!.conditions![0]!.message, 'Kubelet stopped posting node status.');
  });

  it('a new Ready heartbeat counts like a Lease renewal', () => {
    let r = tryUpdateNodeHealth(node(), undefined, undefined, t0, 3000, 60_000);
    r = tryUpdateNodeHealth(node('True', '2024-01-01T00:00:04Z'), r.health, undefined, t0 + 4000, 3000, 60_000);
    r = tryUpdateNodeHealth(node('True', '2024-01-01T00:00:04Z'), r.health, undefined, t0 + 6500, 3000, 60_000);
    assert.equal(r.write, undefined);
  });

  it('zone states and their eviction rates', () => {
    const c = (s: string) => ({ type: 'Ready', status: s });
    const o = { nodeEvictionRate: 0.1, secondaryNodeEvictionRate: 0.01, largeClusterSizeThreshold: 50 };
    assert.deepEqual(computeZoneState([c('True'), c('Unknown')], 0.55), [1, 'Normal']);
    assert.deepEqual(computeZoneState([c('Unknown'), c('False')], 0.55), [2, 'FullDisruption']);
    assert.deepEqual(computeZoneState([c('True'), c('Unknown'), c('Unknown'), c('Unknown')], 0.55), [3, 'PartialDisruption']);
    assert.deepEqual(computeZoneState([c('True'), c('True'), c('Unknown'), c('Unknown'), c('Unknown'), c('True'), c('True')], 0.55), [3, 'Normal']);
    assert.equal(zoneEvictionQPS('PartialDisruption', 10, o), 0);
    assert.equal(zoneEvictionQPS('PartialDisruption', 51, o), 0.01);
    assert.equal(zoneEvictionQPS('Normal', 3, o), 0.1);
    assert.equal(zoneKey({ metadata: { labels: { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': 'z' } } }), 'r:\x00:z');
  });

  it('NoSchedule taints follow the conditions and spec.unschedulable', () => {
    const n: Node = { spec: { unschedulable: true, taints: [{ key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }, { key: 'custom', effect: 'NoSchedule' }] }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }, { type: 'DiskPressure', status: 'True' }] } };
    const { add, remove } = noScheduleTaintChanges(n);
    assert.deepEqual(add.map((t) => t.key), ['node.kubernetes.io/unreachable', 'node.kubernetes.io/disk-pressure', 'node.kubernetes.io/unschedulable']);
    assert.deepEqual(remove.map((t) => t.key), ['node.kubernetes.io/memory-pressure']);
    assert.deepEqual(swapTaints([notReady, { key: 'custom', effect: 'NoSchedule' }], [unreachable], [notReady], 'T'), [{ key: 'custom', effect: 'NoSchedule' }, { ...unreachable, timeAdded: 'T' }]);
  });
});

describe('rate-limited taint queue', () => {
  it('lets one node through at once, then one per 1/qps seconds; 0 stops it; values stay known until removed', async () => {
    const clock = new FakeClock(0);
    const q = new RateLimitedTimedQueue(0.1, clock);
    for (const n of ['a', 'b', 'c']) q.add(n, n);
    assert.equal(q.add('a', 'a'), false);
    const done: string[] = [];
    const work = async () => q.try(async (v) => (done.push(v.value), [true, 0]));
    await work();
    assert.deepEqual(done, ['a']);
    clock.step(5000);
    await work();
    assert.deepEqual(done, ['a']);
    clock.step(5000);
    await work();
    assert.deepEqual(done, ['a', 'b']);
    q.swapLimiter(0);
    clock.step(60_000);
    await work();
    assert.deepEqual(done, ['a', 'b']);
    assert.equal(q.add('a', 'a'), false, 'processed values are not re-added');
    assert.equal(q.remove('a'), true);
    assert.equal(q.add('a', 'a'), true);
  });
});
