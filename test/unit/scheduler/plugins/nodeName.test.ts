import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NodeName, REASON_NODE_NAME } from '../../../../src/scheduler/plugins/nodeName.js';
import { ActionType, Code, type EnqueueExtensions, type FilterPlugin, type PreFilterPlugin } from '../../../../src/scheduler/framework/types.js';
import { makeNode, makeNodeInfo, makePod, newPlugin, newState, statusOf } from './builders.js';

type Plugin = PreFilterPlugin & FilterPlugin & EnqueueExtensions;

describe('NodeName', () => {
  const p = newPlugin<Plugin>(NodeName);
  const cases: Array<[string, string | undefined, string, { code: number; reasons: string[] }]> = [
    ['a pod that names no node fits any node', undefined, 'foo', { code: 0, reasons: [] }],
    ['a pod fits the node it names', 'foo', 'foo', { code: 0, reasons: [] }],
    ['a pod does not fit another node', 'bar', 'foo', { code: Code.UnschedulableAndUnresolvable, reasons: [REASON_NODE_NAME] }],
  ];
  for (const [name, nodeName, node, want] of cases) {
    it(name, () => assert.deepEqual(statusOf(p.filter(newState(), makePod(nodeName ? { nodeName } : {}), makeNodeInfo(makeNode({ name: node })))), want));
  }

  it('PreFilter narrows the candidates to the named node', () => {
    assert.deepEqual(p.preFilter(newState(), makePod({ nodeName: 'foo' }), []), { result: { nodeNames: new Set(['foo']) } });
  });
  it('PreFilter skips pods that name no node', () => {
    assert.equal(p.preFilter(newState(), makePod(), []).status?.code, Code.Skip);
  });
  it('only the arrival of the named node requeues the pod', () => {
    const [e] = p.eventsToRegister();
    assert.deepEqual(e!.event, { resource: 'Node', actionType: ActionType.Add });
    assert.equal(e!.hint!(makePod({ nodeName: 'foo' }), undefined, makeNode({ name: 'foo' })), 'Queue');
    assert.equal(e!.hint!(makePod({ nodeName: 'foo' }), undefined, makeNode({ name: 'bar' })), 'QueueSkip');
  });
});
