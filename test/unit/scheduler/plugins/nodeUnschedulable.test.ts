import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Toleration } from 'kubernetes-types/core/v1.js';
import { NodeUnschedulable, REASON_UNSCHEDULABLE } from '../../../../src/scheduler/plugins/nodeUnschedulable.js';
import { ActionType, Code, type EnqueueExtensions, type FilterPlugin } from '../../../../src/scheduler/framework/types.js';
import { makeNode, makeNodeInfo, makePod, newPlugin, newState, statusOf } from './builders.js';

type Plugin = FilterPlugin & EnqueueExtensions;

describe('NodeUnschedulable Filter', () => {
  const tolerateUnschedulable: Toleration = { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' };
  const cases: Array<[string, boolean, Toleration[], { code: number; reasons: string[] }]> = [
    ['a cordoned node rejects a pod without tolerations', true, [], { code: Code.UnschedulableAndUnresolvable, reasons: [REASON_UNSCHEDULABLE] }],
    ['a schedulable node takes a pod without tolerations', false, [], { code: 0, reasons: [] }],
    ['a cordoned node takes a pod tolerating the unschedulable taint', true, [tolerateUnschedulable], { code: 0, reasons: [] }],
    ['a toleration of every taint also tolerates cordoning', true, [{ operator: 'Exists' }], { code: 0, reasons: [] }],
    ['a toleration for another effect does not', true, [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoExecute' }], { code: Code.UnschedulableAndUnresolvable, reasons: [REASON_UNSCHEDULABLE] }],
  ];
  for (const [name, unschedulable, tolerations, want] of cases) {
    it(name, () => {
      const p = newPlugin<Plugin>(NodeUnschedulable);
      assert.deepEqual(statusOf(p.filter(newState(), makePod({ tolerations }), makeNodeInfo(makeNode({ unschedulable })))), want);
    });
  }
});

describe('NodeUnschedulable events', () => {
  const p = newPlugin<Plugin>(NodeUnschedulable);
  const [nodeEvent, podEvent] = p.eventsToRegister();
  it('registers node add or taint change and the pod’s toleration updates', () => {
    assert.deepEqual(nodeEvent!.event, { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint });
    assert.deepEqual(podEvent!.event, { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodTolerations });
  });
  const pod = makePod({ name: 'p' });
  it('an uncordoned or newly added schedulable node helps; a cordoned one does not', () => {
    assert.equal(nodeEvent!.hint!(pod, makeNode({ unschedulable: true }), makeNode()), 'Queue');
    assert.equal(nodeEvent!.hint!(pod, undefined, makeNode()), 'Queue');
    assert.equal(nodeEvent!.hint!(pod, undefined, makeNode({ unschedulable: true })), 'QueueSkip');
    assert.equal(nodeEvent!.hint!(pod, makeNode(), makeNode()), 'QueueSkip');
  });
  it('the pod gaining the unschedulable toleration helps', () => {
    const tolerating = makePod({ name: 'p', tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' }] });
    assert.equal(podEvent!.hint!(pod, pod, tolerating), 'Queue');
    assert.equal(podEvent!.hint!(pod, pod, pod), 'QueueSkip');
    assert.equal(podEvent!.hint!(pod, makePod({ name: 'q' }), makePod({ name: 'q', tolerations: tolerating.spec!.tolerations! })), 'QueueSkip');
  });
});
