import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { isPodTerminated, terminatedPodsToDelete, terminatingPodsOnOutOfServiceNodes, unscheduledTerminatingPods } from '../../../../src/controllers/podgc/podGC.js';
import { desiredRootCAConfigMap, DESCRIPTION } from '../../../../src/controllers/rootcacertpublisher/publisher.js';

const pod = (name: string, phase: string, created: string, extra: { reason?: string; deleting?: boolean; node?: string } = {}): Pod => ({
  metadata: { name, namespace: 'default', creationTimestamp: created, ...(extra.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}) },
  spec: { containers: [], ...(extra.node ? { nodeName: extra.node } : {}) },
  status: { phase, ...(extra.reason ? { reason: extra.reason } : {}) },
});

describe('pod GC planning', () => {
  it('terminated means any phase but Pending, Running and Unknown', () => {
    assert.deepEqual(['Pending', 'Running', 'Unknown', 'Succeeded', 'Failed'].map((p) => isPodTerminated(pod('x', p, ''))), [false, false, false, true, true]);
  });

  const cases = [
    { name: 'at the threshold nothing is deleted', threshold: 4, want: [] },
    { name: 'over the threshold: evicted first, then oldest, then by name', threshold: 1, want: ['evicted', 'a-old', 'b-old'] },
    { name: 'a threshold of 0 turns terminated-pod GC off', threshold: 0, want: [] },
  ];
  const pods = [
    pod('running', 'Running', '2020-01-01T00:00:00Z'),
    pod('new', 'Succeeded', '2024-01-01T00:00:00Z'),
    pod('b-old', 'Failed', '2021-01-01T00:00:00Z'),
    pod('a-old', 'Succeeded', '2021-01-01T00:00:00Z'),
    pod('evicted', 'Failed', '2023-01-01T00:00:00Z', { reason: 'Evicted' }),
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(terminatedPodsToDelete(pods, c.threshold).map((p) => p.metadata!.name), c.want));
  }

  it('terminating pods are force-deleted only on not-ready nodes tainted out-of-service', () => {
    const nodes: Record<string, Node> = {
      oos: { metadata: { name: 'oos' }, spec: { taints: [{ key: 'node.kubernetes.io/out-of-service', effect: 'NoExecute' }] }, status: { conditions: [{ type: 'Ready', status: 'False' }] } },
      ready: { metadata: { name: 'ready' }, spec: { taints: [{ key: 'node.kubernetes.io/out-of-service', effect: 'NoExecute' }] }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      down: { metadata: { name: 'down' }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'False' }] } },
    };
    const list = [pod('on-oos', 'Running', '', { deleting: true, node: 'oos' }), pod('on-ready', 'Running', '', { deleting: true, node: 'ready' }), pod('on-down', 'Running', '', { deleting: true, node: 'down' }), pod('alive', 'Running', '', { node: 'oos' })];
    assert.deepEqual(terminatingPodsOnOutOfServiceNodes(list, (n) => nodes[n]).map((p) => p.metadata!.name), ['on-oos']);
  });

  it('unscheduled terminating pods are collected, scheduled ones are left to their kubelet', () => {
    const list = [pod('unscheduled', 'Pending', '', { deleting: true }), pod('scheduled', 'Running', '', { deleting: true, node: 'n1' }), pod('pending', 'Pending', '')];
    assert.deepEqual(unscheduledTerminatingPods(list).map((p) => p.metadata!.name), ['unscheduled']);
  });
});

describe('root CA publisher planning', () => {
  it('creates, leaves alone, or repairs kube-root-ca.crt', () => {
    const created = desiredRootCAConfigMap(undefined, 'team', 'PEM')!;
    assert.deepEqual([created.metadata?.name, created.metadata?.annotations?.['kubernetes.io/description'], created.data], ['kube-root-ca.crt', DESCRIPTION, { 'ca.crt': 'PEM' }]);
    assert.equal(desiredRootCAConfigMap(created, 'team', 'PEM'), undefined);
    const edited = desiredRootCAConfigMap({ ...created, data: { 'ca.crt': 'EVIL', extra: 'x' } }, 'team', 'PEM')!;
    assert.deepEqual(edited.data, { 'ca.crt': 'PEM' });
    const unannotated = desiredRootCAConfigMap({ ...created, metadata: { ...created.metadata, annotations: { keep: 'me' } } }, 'team', 'PEM')!;
    assert.deepEqual(unannotated.metadata?.annotations, { keep: 'me', 'kubernetes.io/description': DESCRIPTION });
  });
});
