import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SchedulingGates } from '../../../../src/scheduler/plugins/schedulingGates.js';
import { ActionType, Code, type EnqueueExtensions, type PreEnqueuePlugin } from '../../../../src/scheduler/framework/types.js';
import { makePod, newPlugin, statusOf } from './builders.js';

type Plugin = PreEnqueuePlugin & EnqueueExtensions;

describe('SchedulingGates', () => {
  const p = newPlugin<Plugin>(SchedulingGates);
  const cases: Array<[string, string[] | undefined, { code: number; reasons: string[] }]> = [
    ['a pod without gates enters the queue', undefined, { code: 0, reasons: [] }],
    ['a pod with an empty gate list enters the queue', [], { code: 0, reasons: [] }],
    ['a gated pod waits, naming its gate', ['foo'], { code: Code.UnschedulableAndUnresolvable, reasons: ['waiting for scheduling gates: [foo]'] }],
    ['a pod with several gates names them all in order', ['foo', 'bar'], { code: Code.UnschedulableAndUnresolvable, reasons: ['waiting for scheduling gates: [foo bar]'] }],
  ];
  for (const [name, gates, want] of cases) it(name, () => assert.deepEqual(statusOf(p.preEnqueue(makePod(gates ? { schedulingGates: gates } : {}))), want));

  it('only the pod’s own gate removal requeues it', () => {
    const [e] = p.eventsToRegister();
    assert.deepEqual(e!.event, { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodSchedulingGatesEliminated });
    const pod = makePod({ name: 'p' });
    assert.equal(e!.hint!(pod, pod, pod), 'Queue');
    assert.equal(e!.hint!(pod, makePod({ name: 'q' }), makePod({ name: 'q' })), 'QueueSkip');
  });
});
