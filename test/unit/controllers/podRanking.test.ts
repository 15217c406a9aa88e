import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { podsToDelete } from '../../../src/controllers/replicaset/podRanking.js';

function pod(name: string, o: { node?: string; phase?: string; readySince?: string; restarts?: number; created?: string; cost?: number } = {}): Pod {
  return {
    metadata: { name, creationTimestamp: o.created ?? '2026-01-01T00:00:00Z', ...(o.cost !== undefined ? { annotations: { 'controller.kubernetes.io/pod-deletion-cost': String(o.cost) } } : {}) },
    spec: { containers: [], ...(o.node ? { nodeName: o.node } : {}) },
    status: {
      phase: o.phase ?? 'Running',
      conditions: o.readySince ? [{ type: 'Ready', status: 'True', lastTransitionTime: o.readySince }] : [{ type: 'Ready', status: 'False' }],
      containerStatuses: [{ name: 'c', image: 'x', imageID: '', ready: !!o.readySince, restartCount: o.restarts ?? 0 }],
    },
  };
}

describe('which pods a ReplicaSet deletes first', () => {
  const cases: Array<[string, Pod[], number, string[]]> = [
    ['an unscheduled pod goes before a scheduled one', [pod('a', { node: 'n1', readySince: '2026-01-01T00:00:00Z' }), pod('b')], 1, ['b']],
    ['pending before running', [pod('a', { node: 'n1', phase: 'Running' }), pod('b', { node: 'n1', phase: 'Pending' })], 1, ['b']],
    ['not ready before ready', [pod('a', { node: 'n1', readySince: '2026-01-01T00:00:00Z' }), pod('b', { node: 'n1' })], 1, ['b']],
    ['a lower pod-deletion-cost first', [pod('a', { node: 'n1', cost: 10 }), pod('b', { node: 'n1', cost: -5 })], 1, ['b']],
    ['a pod on a node doubled up first', [pod('a', { node: 'n1' }), pod('b', { node: 'n2' }), pod('c', { node: 'n2' })], 1, ['b']],
    ['ready for less time first', [pod('a', { node: 'n1', readySince: '2026-01-01T00:00:00Z' }), pod('b', { node: 'n2', readySince: '2026-01-02T00:00:00Z' })], 1, ['b']],
    ['more restarts first', [pod('a', { node: 'n1', restarts: 1 }), pod('b', { node: 'n2', restarts: 5 })], 1, ['b']],
    ['newer first when all else is equal', [pod('a', { node: 'n1', created: '2026-01-01T00:00:00Z' }), pod('b', { node: 'n2', created: '2026-01-03T00:00:00Z' })], 1, ['b']],
    ['asking for more than there are returns all', [pod('a'), pod('b')], 5, ['a', 'b']],
  ];
  for (const [name, pods, n, want] of cases) {
    it(name, () => assert.deepEqual(podsToDelete(pods, pods, n).map((p) => p.metadata!.name), want));
  }
});
